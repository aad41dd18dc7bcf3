"""The dashboards and the statistics at a million petitions, in-process.

    python -m bench.dashboards [--petitions 1000000] [--database-url postgresql+psycopg://…]
                               [--keep-database URL] [--runs 7]

Seeds ``--petitions`` cases received over twenty years up to now (about 50,000 a year, as a
busy office): cases older than two years are all decided (85 % denied, 5 % granted, 10 %
closed), newer ones a mix with about a third still open, spread over 20 reviewers and 2
organizations; an information request on each case waiting for one (half of them overdue),
an overdue referral on one open case in 50, and for every grant or denial of the last year
a decision entry in the audit log (one in ten against the latest recommendation). On
PostgreSQL rows go in with COPY; with ``--keep-database URL`` that database (a SQLite file
or a PostgreSQL database, created if missing) is seeded once and reused by later runs.

Each dashboard is the view function itself (queries and template) for a signed-in user in a
request context, timed as the median of ``--runs`` runs after one warm-up: the staff dashboard,
an advocate's dashboard (the larger organization), and for comparison the statistics page of
the current fiscal year. The floor printed beside them is ``SELECT 1`` through the same
session (the round trip every figure includes). The target is 200 ms per dashboard on
PostgreSQL. Then each panel alone, and beside the panels now read from the summary
(``tracker.dashboards.summary``) the queries they replaced (``bench.dashboards_before``),
timed in the same run on the same database.
"""

import hashlib
import json
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from flask_login import login_user
from sqlalchemy import insert, select, text

from bench.common import kept_app, parser, scratch_app
from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.auth.models import Organization, User
from tracker.dashboards import summary
from tracker.extensions import db
from tracker.petitions.models import Petition
from tracker.petitions.search import search_text

BATCH = 50_000
YEARS = 20
PETITION_COLUMNS = (
    "case_number",
    "kind",
    "stage",
    "petitioner_name",
    "register_number",
    "date_of_birth",
    "offenses",
    "sentencing_court",
    "sentence",
    "sentence_date",
    "custody_status",
    "grounds",
    "petitioner_key",
    "search_text",
    "organization_id",
    "advocate_id",
    "assignee_id",
    "version",
    "created_at",
    "updated_at",
    "received_at",
    "stage_entered_at",
    "decided_at",
    "decided_by_id",
    "decision_reason",
    "disposition",
    "relief",
)


def _people():
    organizations = [auth_services.create_organization(None, f"Org {n}") for n in (1, 2)]
    advocates = [
        auth_services.create_user(
            None,
            email=f"a{n}@example.org",
            name=f"Advocate {n}",
            role="advocate",
            password="bench password 1",
            organization=organization,
        )
        for n, organization in enumerate(organizations)
    ]
    reviewers = [
        auth_services.create_user(
            None,
            email=f"r{n}@example.org",
            name=f"Reviewer {n:02d}",
            role="reviewer" if n else "supervisor",
            password="bench password 1",
        )
        for n in range(20)
    ]
    db.session.commit()
    return organizations, advocates, reviewers


def _petition_row(number, count, now, rng, organizations, advocates, reviewers):
    span = timedelta(days=365 * YEARS)
    received = now - span + span * (number / count)
    kind = "pardon" if number % 4 == 0 else "commutation"
    org = 0 if number % 3 else 1
    age = (now - received).days
    if age > 730 or rng.random() < 0.62:
        decided = min(received + timedelta(days=rng.randint(30, 700)), now - timedelta(hours=1))
        roll = rng.random()
        stage = "granted" if roll < 0.05 else "denied" if roll < 0.90 else "closed"
    else:
        decided = None
        roll = rng.random()
        stage = (
            "received" if roll < 0.3 else "information_requested" if roll < 0.4 else "under_review"
        )
    register = f"{number % 100_000:05d}-{number % 1000:03d}"
    entered = decided or received + timedelta(days=min(age, rng.randint(0, 120)))
    disposition = {"granted": "granted", "denied": "denied", "closed": "closed_without_action"}
    return {
        "case_number": f"CP-{received.year}-{number:07d}",
        "kind": kind,
        "stage": stage,
        "petitioner_name": f"Petitioner {number}",
        "register_number": register,
        "date_of_birth": date(1970, 1, 1),
        "offenses": "x",
        "sentencing_court": "District of Maryland",
        "sentence": "120 months",
        "sentence_date": date(2000, 1, 1),
        "custody_status": "in_prison",
        "grounds": "y",
        "petitioner_key": f"R:{register}",
        "search_text": search_text(
            {"petitioner_name": f"Petitioner {number}", "register_number": register}
        ),
        "organization_id": organizations[org].id,
        "advocate_id": advocates[org].id,
        "assignee_id": reviewers[number % 20].id if number % 7 else None,
        "version": 3,
        "created_at": received,
        "updated_at": decided or received,
        "received_at": received,
        "stage_entered_at": entered,
        "decided_at": decided,
        "decided_by_id": reviewers[0].id if decided else None,
        "decision_reason": "r" if decided else None,
        "disposition": disposition.get(stage),
        "relief": (
            ("full_pardon" if kind == "pardon" else "commutation_time_served")
            if stage == "granted"
            else None
        ),
    }


def _copy(table: str, columns, rows) -> None:
    """COPY on PostgreSQL (the fast path), executemany elsewhere."""
    if db.engine.dialect.name != "postgresql":
        db.session.execute(insert(db.metadata.tables[table]), rows)
        return
    connection = db.session.connection().connection.driver_connection
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(v) if isinstance(v, dict) else v for v in map(row.get, columns)]
            )


def seed(count: int) -> None:
    rng = random.Random(14)
    now = datetime.now(UTC)
    organizations, advocates, reviewers = _people()
    for start in range(0, count, BATCH):
        rows = [
            _petition_row(n, count, now, rng, organizations, advocates, reviewers)
            for n in range(start, min(count, start + BATCH))
        ]
        _copy("petition", PETITION_COLUMNS, rows)
        db.session.commit()
        print(f"  {start + len(rows):,} petitions", flush=True)
    _seed_deadlines(now, reviewers)
    _seed_decision_entries(now)
    if db.engine.dialect.name == "postgresql":
        # What autovacuum does on a live server: statistics, and the visibility map that
        # lets counts read the indexes alone.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


def _seed_deadlines(now, reviewers) -> None:
    waiting = db.session.execute(
        select(Petition.id, Petition.stage_entered_at).where(
            Petition.stage == "information_requested"
        )
    ).all()
    _copy(
        "information_request",
        ("petition_id", "asked", "asked_by_id", "asked_at", "due_on"),
        [
            {
                "petition_id": petition_id,
                "asked": "The judgment, please.",
                "asked_by_id": reviewers[1].id,
                "asked_at": entered,
                "due_on": (now - timedelta(days=10 if petition_id % 2 else -10)).date(),
            }
            for petition_id, entered in waiting
        ],
    )
    open_ids = db.session.scalars(
        select(Petition.id).where(Petition.stage == "under_review", Petition.id % 50 == 0)
    ).all()
    _copy(
        "referral",
        ("petition_id", "agency", "sent_on", "due_on", "created_by_id", "created_at"),
        [
            {
                "petition_id": petition_id,
                "agency": "fbi",
                "sent_on": (now - timedelta(days=90)).date(),
                "due_on": (now - timedelta(days=30)).date(),
                "created_by_id": reviewers[1].id,
                "created_at": now - timedelta(days=90),
            }
            for petition_id in open_ids
        ],
    )
    db.session.commit()
    print(f"  {len(waiting):,} information requests, {len(open_ids):,} referrals", flush=True)


def _seed_decision_entries(now) -> None:
    """A decision entry for each grant and denial of the last year (hashes are stand-ins:
    this measures reads, not the chain)."""
    decided = db.session.execute(
        select(Petition.id, Petition.stage, Petition.decided_at, Petition.decided_by_id)
        .where(Petition.decided_at >= now - timedelta(days=365))
        .where(Petition.stage.in_(("granted", "denied")))
        .order_by(Petition.decided_at)
    ).all()
    first = (db.session.scalar(select(db.func.max(AuditEntry.id))) or 0) + 1
    rows = []
    for offset, (petition_id, stage, decided_at, actor_id) in enumerate(decided):
        digest = hashlib.sha256(f"bench-{first + offset}".encode()).hexdigest()
        rows.append(
            {
                "id": first + offset,
                "created_at": decided_at,
                "category": "case",
                "action": "grant" if stage == "granted" else "deny",
                "actor_id": actor_id,
                "petition_id": petition_id,
                "from_stage": "under_review",
                "to_stage": stage,
                "reason": "r",
                "details": {"version": 3, "against_recommendation": offset % 10 == 0},
                "user_agent": "bench",
                "prev_hash": "0" * 64,
                "entry_hash": digest,
            }
        )
    columns = tuple(rows[0]) if rows else ()
    for start in range(0, len(rows), BATCH):
        _copy("audit_entry", columns, rows[start : start + BATCH])
    db.session.commit()
    print(f"  {len(rows):,} decision entries", flush=True)


def timed_view(app, user, view, runs: int) -> tuple[float, int]:
    """Median milliseconds of the view for the user (after one warm-up), and its length."""
    durations, size = [], 0
    for attempt in range(runs + 1):
        with app.test_request_context(f"/{view.__name__}"):
            login_user(user)
            start = time.perf_counter()
            page = view()
            body = page[0] if isinstance(page, tuple) else page
            elapsed = time.perf_counter() - start
            size = len(body)
            db.session.rollback()
        if attempt:
            durations.append(elapsed)
    return statistics.median(durations) * 1000, size


def floor_ms(app, runs: int) -> float:
    durations = []
    for _ in range(runs):
        with app.test_request_context("/"):
            start = time.perf_counter()
            db.session.execute(text("SELECT 1"))
            durations.append(time.perf_counter() - start)
            db.session.rollback()
    return statistics.median(durations) * 1000


def measure(app, runs: int) -> None:
    from tracker.dashboards import queries
    from tracker.dashboards.views import dashboard
    from tracker.statistics.views import staff

    supervisor = db.session.scalar(select(User).where(User.role == "supervisor"))
    organization = db.session.scalar(select(Organization).where(Organization.name == "Org 1"))
    advocate = db.session.scalar(select(User).where(User.organization_id == organization.id))
    total = db.session.scalar(select(db.func.count()).select_from(Petition))
    print(f"{total:,} petitions, {queries.count_open():,} open; median of {runs} runs")
    print(f"floor (SELECT 1): {floor_ms(app, runs):.1f} ms")
    for label, user, view in (
        ("staff dashboard", supervisor, dashboard),
        ("advocate dashboard (Org 1)", advocate, dashboard),
        ("statistics page, current fiscal year", supervisor, staff),
    ):
        median, size = timed_view(app, user, view, runs)
        print(f"{label}: {median:.1f} ms ({size:,} characters)", flush=True)
    from bench import dashboards_before as before
    from tracker.statistics import queries as statistics

    year = statistics.current_fiscal_year()
    parts = (
        ("stage × kind", queries.cases_by_stage_and_kind, before.cases_by_stage_and_kind),
        (
            "received/decided per month",
            queries.received_and_decided_per_month,
            before.received_and_decided_per_month,
        ),
        ("days to decision", queries.days_to_decision, before.days_to_decision),
        ("days in stage", queries.days_in_stage, before.days_in_stage),
        ("reviewer loads", queries.reviewer_loads, None),
        ("oldest pending", queries.oldest_pending, None),
        ("overdue", queries.overdue_items, None),
        (
            "against recommendation",
            queries.decisions_against_recommendation,
            before.decisions_against_recommendation,
        ),
        (
            "statistics: the year's table",
            lambda: statistics.year_counts(year),
            lambda: before.year_counts(year),
        ),
        (
            "statistics: decisions per month",
            lambda: statistics.decisions_per_month(year),
            lambda: before.decisions_per_month(year),
        ),
    )
    for label, query, old_query in parts:
        now = _median_ms(app, query, runs)
        line = f"  part, {label}: {now:.1f} ms"
        if old_query is not None:
            line += f"  (before the summary, same run: {_median_ms(app, old_query, runs):.1f} ms)"
        print(line, flush=True)


def _median_ms(app, query, runs: int) -> float:
    durations = []
    for _ in range(runs):
        with app.test_request_context("/"):
            start = time.perf_counter()
            query()
            durations.append(time.perf_counter() - start)
            db.session.rollback()
    return statistics.median(durations) * 1000


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--petitions", type=int, default=1_000_000)
    args.add_argument("--runs", type=int, default=7)
    args.add_argument(
        "--keep-database",
        metavar="URL",
        help="seed this database once (created if missing) and reuse it in later runs",
    )
    arguments = args.parse_args()
    if arguments.keep_database:
        context = kept_app(arguments.keep_database)
    else:
        context = scratch_app(arguments.database_url)
    with context as app:
        if db.session.scalar(select(db.func.count()).select_from(Petition)) == 0:
            start = time.perf_counter()
            seed(arguments.petitions)
            print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
            # The rows went in around the services: count the summary from them, as the
            # migration's backfill does.
            start = time.perf_counter()
            summary.rebuild()
            db.session.commit()
            print(f"summary rebuilt in {time.perf_counter() - start:.1f} s", flush=True)
        measure(app, arguments.runs)


if __name__ == "__main__":
    main()
