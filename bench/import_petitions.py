"""How long a CSV import of petitions takes (default: 10,000 rows), all or nothing.

    python -m bench.import_petitions [--rows N] [--database-url postgresql+psycopg://…]

Times the service (what the CLI command runs: read the CSV, check every row, reserve
the case numbers, one executemany insert, one record_many call, commit) and then the
same through POST /api/v1/petitions/import with a bearer token.
"""

from sqlalchemy import func, select

from bench.common import advocate, parser, petition_csv, scratch_app, timed
from tracker.audit import services as audit
from tracker.audit.models import AuditEntry
from tracker.auth import tokens
from tracker.extensions import db
from tracker.petitions import importing
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--rows", type=int, default=10_000)
    arguments = args.parse_args()
    rows, results = arguments.rows, {}
    with scratch_app(arguments.database_url) as app:
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        content = petition_csv(rows)
        print(f"file: {rows:,} rows, {len(content) / 2**20:.1f} MiB")

        service_user = advocate("Service Org")
        with timed(f"service: import {rows:,} rows (read, check, write, commit)", results):
            parsed = importing.read_csv(content)
            petition_services.import_petitions(service_user, parsed)
            db.session.commit()

        api_user = advocate("Api Org")
        _, token = tokens.create_token(api_user, "bench")
        db.session.commit()
        client = app.test_client()
        api_content = petition_csv(rows, offset=rows)
        with timed(f"API: POST /api/v1/petitions/import, {rows:,} rows", results):
            response = client.post(
                "/api/v1/petitions/import",
                data=api_content,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            )
        assert response.status_code == 201, response.get_data(as_text=True)[:500]

        petitions = db.session.scalar(select(func.count()).select_from(Petition))
        entries = db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "submit")
        )
        print(f"petitions: {petitions:,}; submit audit entries: {entries:,}")
        print(audit.verify_chain().message)
        for label, seconds in results.items():
            print(f"{label}: {rows / seconds:,.0f} rows/s")


if __name__ == "__main__":
    main()
