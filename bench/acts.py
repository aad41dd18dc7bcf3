"""How long recording a clemency act takes (default: 2,500 cases), beside a bulk grant of as
many cases measured in the same run (the floor: recording is that decision, its checks made
under the row locks with each refused case left out, plus the act's own rows).

    python -m bench.acts [--cases N] [--database-url postgresql+psycopg://…]

Builds 2N cases under review (a CSV import, then a bulk start_review); grants N of them with
``decide_petitions`` (the bulk decision), then drafts an act, adds the other N by register
numbers, times its preview, then ``record_act`` (lock the act and the cases, the decision's
checks, one UPDATE, one entry per case naming the act, the act's rows and entry, commit).
"""

import os

from sqlalchemy import event, func, select

from bench.bulk_decisions import PASSWORD, cases_under_review
from bench.common import parser, scratch_app, timed
from bench.import_petitions import advocate
from tracker.acts import services as acts
from tracker.audit import services as audit
from tracker.auth import services as auth_services
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--cases", type=int, default=2_500)
    arguments = args.parse_args()
    cases, results = arguments.cases, {}
    with scratch_app(arguments.database_url):
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        user = advocate("Bench Org")
        supervisor = auth_services.create_user(
            None,
            email="supervisor@bench.example",
            name="Supervisor",
            role="supervisor",
            password=PASSWORD,
        )
        db.session.commit()
        bulk = cases_under_review(user, supervisor, cases, offset=0)
        cohort = cases_under_review(user, supervisor, cases, offset=cases)

        with timed(f"bulk decision: grant {cases:,} cases (the floor)", results):
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

        statements = []

        def count_statement(conn, cursor, statement, *rest):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count_statement)
        with timed(
            f"record an act of {cases:,} cases (lock, check, grant, audit, commit)", results
        ):
            acts.record_act(act, supervisor, expected_included=cases)
            db.session.commit()
        event.remove(db.engine, "before_cursor_execute", count_statement)
        print(f"  SQL statements of the recording: {len(statements)}")

        decided = db.session.execute(
            select(Petition.stage, func.count()).group_by(Petition.stage).order_by(Petition.stage)
        ).all()
        print("stages: " + ", ".join(f"{stage} {n:,}" for stage, n in decided))
        print(audit.verify_chain().message)
        floor = results[f"bulk decision: grant {cases:,} cases (the floor)"]
        record = results[f"record an act of {cases:,} cases (lock, check, grant, audit, commit)"]
        print(f"recording / bulk decision: {record / floor:.2f}×; under 1 s: {record < 1}")
        print(
            f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
