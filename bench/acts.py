"""How long recording a clemency act takes (default: 2,500 cases), beside a bulk grant of as
many cases measured in the same run (the floor: recording is that decision, its checks made
under the row locks with each refused case left out, plus the act's own rows).

    python -m bench.acts [--cases N] [--database-url postgresql+psycopg://…]
        [--database-name NAME] [--compare GIT_REF]

Builds 2N cases under review (a CSV import, then a bulk start_review); grants N of them with
``decide_petitions`` (the bulk decision), then drafts an act, adds the other N by register
numbers, times its preview, then ``record_act`` (lock the act and the cases, the decision's
checks, one UPDATE, one entry per case naming the act, the act's rows and entry, commit).
``--compare origin/main`` first runs the same on that code (``bench.common.run_compared``).
"""

from sqlalchemy import select

from bench.common import (
    advocate,
    cases_under_review,
    counted_statements,
    load_average,
    parser,
    print_header,
    print_outcome,
    run_compared,
    scratch_app,
    staff,
    timed,
)
from tracker.acts import services as acts
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome


def run(arguments) -> dict:
    cases, results = arguments.cases, {}
    floor = f"bulk decision: grant {cases:,} cases (the floor)"
    record = f"record an act of {cases:,} cases (lock, check, grant, audit, commit)"
    with scratch_app(arguments.database_url, arguments.database_name):
        print_header()
        user = advocate("Bench Org")
        supervisor = staff("supervisor")
        bulk = cases_under_review(user, supervisor, cases, offset=0)
        cohort = cases_under_review(user, supervisor, cases, offset=cases)

        with timed(floor, results):
            petition_services.decide_petitions(
                supervisor, "grant", "Bench grant.", bulk, Outcome(relief="commutation_time_served")
            )
            db.session.commit()

        act = acts.draft_act(
            supervisor,
            {
                "title": "Bench act",
                "signed_on": "2024-12-12",
                "authority": "President",
                "relief": "commutation_time_served",
            },
        )
        numbers = db.session.scalars(
            select(Petition.register_number).where(Petition.case_number.in_(list(cohort)))
        ).all()
        with timed(f"add {cases:,} cases by register numbers", results):
            acts.add_cases_by_register_numbers(
                act, supervisor, [acts.RegisterNumber(i, n) for i, n in enumerate(numbers, 1)]
            )
            db.session.commit()
        with timed(f"preview an act of {cases:,} cases", results):
            preview = acts.preview(act, supervisor)
        assert len(preview.included) == cases, preview.excluded[:3]

        with counted_statements() as statements, timed(record, results):
            acts.record_act(act, supervisor, expected_included=cases)
            db.session.commit()
        print(f"  SQL statements of the recording: {len(statements)}")

        print_outcome()
        print(f"recording / bulk decision: {results[record] / results[floor]:.2f}×")
        print(f"under 1 s: {results[record] < 1}; at the end: {load_average()}")
    return results


def main() -> None:
    args = parser(__doc__, compare=True)
    args.add_argument("--cases", type=int, default=2_500)
    run_compared("bench.acts", args.parse_args(), run)


if __name__ == "__main__":
    main()
