"""How long a bulk decision takes (default: 2,500 cases), all or nothing.

    python -m bench.bulk_decisions [--cases N] [--database-url postgresql+psycopg://…]
        [--database-name NAME] [--compare GIT_REF]

Builds N cases under review (a CSV import, then a bulk start_review), then times
``decide_petitions`` granting them all (lock the rows, check each against the workflow,
one UPDATE, one record_many call, commit) and counts its SQL statements; then denies
another N through POST /api/v1/decisions. ``--compare origin/main`` first runs the same on
that code (see ``bench.common.run_compared``).
"""

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
from tracker.auth import tokens
from tracker.extensions import db
from tracker.petitions import services as petition_services


def run(arguments) -> dict:
    cases, results = arguments.cases, {}
    with scratch_app(arguments.database_url, arguments.database_name) as app:
        print_header()
        user = advocate("Bench Org")
        reviewer = staff("reviewer")
        versions = cases_under_review(user, reviewer, cases, offset=0)
        with (
            counted_statements() as statements,
            timed(f"service: grant {cases:,} cases (lock, check, update, audit, commit)", results),
        ):
            petition_services.decide_petitions(reviewer, "grant", "Bench grant.", versions)
            db.session.commit()
        print(f"  SQL statements (a batched insert counts once per batch): {len(statements)}")

        more = cases_under_review(user, reviewer, cases, offset=cases)
        _, token = tokens.create_token(reviewer, "bench")
        db.session.commit()
        client = app.test_client()
        with timed(f"API: POST /api/v1/decisions, deny {cases:,} cases", results):
            response = client.post(
                "/api/v1/decisions",
                json={"action": "deny", "reason": "Bench denial.", "versions": more},
                headers={"Authorization": f"Bearer {token}"},
            )
        assert response.status_code == 200, response.get_data(as_text=True)[:500]

        print_outcome()
        for label, seconds in results.items():
            print(f"{label}: {cases / seconds:,.0f} cases/s")
        print(f"at the end: {load_average()}")
    return results


def main() -> None:
    args = parser(__doc__, compare=True)
    args.add_argument("--cases", type=int, default=2_500)
    run_compared("bench.bulk_decisions", args.parse_args(), run)


if __name__ == "__main__":
    main()
