"""How long a bulk decision takes (default: 2,500 cases), all or nothing.

    python -m bench.bulk_decisions [--cases N] [--database-url postgresql+psycopg://…]

Builds N cases under review (a CSV import, then a bulk start_review), then times
``decide_petitions`` granting them all (lock the rows, check each against the workflow,
one UPDATE, one record_many call, commit) and counts its SQL statements; then denies
another N through POST /api/v1/decisions.
"""

import time

from sqlalchemy import event, func, select

from bench.common import parser, scratch_app, timed
from bench.import_petitions import advocate, petition_csv
from tracker.audit import services as audit
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.extensions import db
from tracker.petitions import importing
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition

PASSWORD = "bench-password-long-enough"


def cases_under_review(user, reviewer, count: int, offset: int) -> dict[str, int]:
    """``count`` new cases moved to under_review; their case numbers and versions."""
    case_numbers = petition_services.import_petitions(
        user, importing.read_csv(petition_csv(count, offset=offset))
    )
    db.session.commit()
    started = time.perf_counter()
    versions = petition_services.decide_petitions(
        reviewer, "start_review", None, dict.fromkeys(case_numbers)
    )
    db.session.commit()
    print(f"  (bulk start_review of {count:,} cases: {time.perf_counter() - started:.2f} s)")
    return versions


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--cases", type=int, default=2_500)
    arguments = args.parse_args()
    cases, results = arguments.cases, {}
    with scratch_app(arguments.database_url) as app:
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        user = advocate("Bench Org")
        reviewer = auth_services.create_user(
            None,
            email="reviewer@bench.example",
            name="Reviewer",
            role="reviewer",
            password=PASSWORD,
        )
        db.session.commit()

        versions = cases_under_review(user, reviewer, cases, offset=0)
        statements = []

        def count_statement(conn, cursor, statement, *rest):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count_statement)
        with timed(f"service: grant {cases:,} cases (lock, check, update, audit, commit)", results):
            petition_services.decide_petitions(reviewer, "grant", "Bench grant.", versions)
            db.session.commit()
        event.remove(db.engine, "before_cursor_execute", count_statement)
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

        decided = db.session.execute(
            select(Petition.stage, func.count()).group_by(Petition.stage).order_by(Petition.stage)
        ).all()
        print("stages: " + ", ".join(f"{stage} {n:,}" for stage, n in decided))
        print(audit.verify_chain().message)
        for label, seconds in results.items():
            print(f"{label}: {cases / seconds:,.0f} cases/s")


if __name__ == "__main__":
    main()
