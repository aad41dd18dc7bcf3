"""The reviewer queue and the API list over a million petitions.

    python -m bench.queue [--petitions 1000000] [--database-url postgresql+psycopg://…]
                          [--keep DATABASE_URL] [--explain TEXT]

Rows are written straight into the table (no audit entries: this measures reads), spread
over 2 organizations, 5 stages, both kinds, 20 reviewers as assignees (each holding cases of
every stage) and 5 years, with the clocks (received_at, stage_entered_at); an open referral
on two open cases in 100 (a third of them overdue), an open information request on every
case waiting for information (a third of them overdue) and an answered one on one case
under review in two ("information provided"), as the time columns, filters and flags need
(issue 12). Each query is the app's own (tracker.petitions.queries.queue_query and
queue_page, which counts up to COUNT_CAP and fetches one page, as the page does), timed as the
median of 5 runs, with the page's flags read as the queue shows them. A later page is a
keyset page (after the last case of the page before it), as the web queue's Next link asks
for it.

``--keep`` seeds a database that outlives the run (a SQLite file, or a PostgreSQL database
created if missing) and, when it already holds petitions, only migrates it to the head and
measures: seed a million once, then measure again after a change. ``--explain`` prints
the plan of each case whose label contains the text.
"""

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, text

from bench.common import kept_app, parser, scratch_app
from tracker.auth import services as auth_services
from tracker.auth.models import Organization, User
from tracker.deadlines.models import InformationRequest, Referral
from tracker.extensions import db
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import Petition
from tracker.petitions.queries import (
    COUNT_CAP,
    QueuePosition,
    bounded_count,
    queue_page,
    queue_query,
)
from tracker.petitions.search import search_text

BATCH = 50_000
FAR = date(2099, 1, 1)
STAGES = ("received", "under_review", "granted", "denied")
NAMES = (
    "Maria Johnson",
    "James Garcia",
    "Keisha Williams",
    "Luis Nguyen",
    "Darnell Brown",
    "Ana Martinez",
    "Robert Davis",
    "Tamika Lopez",
    "Wei Wilson",
    "Jose Jackson",
)


def assignee(number: int, reviewers) -> int | None:
    """Nobody for one case in five, else one of the reviewers, in runs of 7 cases: neither
    follows the stage (number % 4), so that each reviewer holds cases in every stage."""
    if (number // 3) % 5 == 0:
        return None
    return reviewers[(number // 7) % len(reviewers)].id


def petition_row(number: int, rng: random.Random, organizations, advocates, reviewers) -> dict:
    """The columns of the bench's petition ``number`` (a pure function of it and ``rng``)."""
    start = datetime(2021, 1, 1, tzinfo=UTC)
    stage = STAGES[number % 4] if number % 20 else "information_requested"
    decided = stage in ("granted", "denied")
    org = number % 2
    entered = start + timedelta(minutes=number * 2, days=number % 90)
    return {
        "id": number + 1,
        "case_number": f"CP-{2021 + number // 250_000}-{number:07d}",
        "kind": "commutation" if number % 3 else "pardon",
        "stage": stage,
        "petitioner_name": f"{rng.choice(NAMES)} {number}",
        "register_number": f"{number % 100_000:05d}-{number % 1000:03d}",
        "date_of_birth": date(1970, 1, 1),
        "offenses": "x",
        "sentencing_court": "District of Maryland",
        "sentence": "120 months",
        "sentence_date": date(2000, 1, 1),
        "custody_status": "in_prison",
        "grounds": "y",
        "organization_id": organizations[org].id,
        "advocate_id": advocates[org].id,
        "assignee_id": assignee(number, reviewers),
        "version": 1,
        "created_at": start + timedelta(minutes=number * 2),
        "updated_at": start + timedelta(minutes=number * 2),
        "received_at": start + timedelta(minutes=number * 2),
        "stage_entered_at": entered,
        "decided_at": entered if decided else None,
        "decided_by_id": reviewers[0].id if decided else None,
        "decision_reason": "r" if decided else None,
        "disposition": stage if decided else None,
        "relief": "unspecified" if stage == "granted" else None,
        "referral_due_on": None,  # set with the case's referrals, as their write path does
    }


def fill(count: int, organizations, advocates, reviewers) -> None:
    rng = random.Random(7)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    written = 0
    while written < count:
        rows = [
            petition_row(number, rng, organizations, advocates, reviewers)
            for number in range(written, min(count, written + BATCH))
        ]
        # Ids given, not returned: a plain executemany is several times faster under load.
        ids = [row["id"] for row in rows]
        # Referrals are open on open cases only (a decision closes them): on 2 cases in 100,
        # one under review and one waiting for information; a third of them overdue.
        referrals = [
            {
                "petition_id": petition_id,
                "agency": "fbi",
                "sent_on": date(2025, 1, 1),
                "due_on": date(2025, 5, 1) if (petition_id - 1) // 100 % 3 == 0 else FAR,
                "created_by_id": reviewers[0].id,
                "created_at": start,
            }
            for petition_id in ids
            if (petition_id - 1) % 100 in (1, 40)
        ]
        due_on = {referral["petition_id"]: referral["due_on"] for referral in referrals}
        for row in rows:  # as the write path keeps them
            row["referral_due_on"] = due_on.get(row["id"])
            row["search_text"] = search_text(row)
        db.session.execute(insert(Petition.__table__), rows)
        if referrals:
            db.session.execute(insert(Referral.__table__), referrals)
        requests = information_requests(ids, rows, reviewers[0].id, advocates)
        if requests:
            db.session.execute(insert(InformationRequest.__table__), requests)
        db.session.commit()
        written += len(rows)
        print(f"  {written:,} petitions", flush=True)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            text("SELECT setval(pg_get_serial_sequence('petition', 'id'), max(id)) FROM petition")
        )
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def information_requests(ids, rows, asker_id: int, advocates) -> list[dict]:
    """An open request on each case waiting for information (one in three overdue), and an
    answered one on every other case under review (its "information provided" flag)."""
    requests = []
    for petition_id, row in zip(ids, rows, strict=True):
        waiting = row["stage"] == "information_requested"
        if not waiting and not (row["stage"] == "under_review" and petition_id % 2):
            continue
        asked_at = row["stage_entered_at"] - timedelta(days=0 if waiting else 20)
        answered = None if waiting else row["stage_entered_at"]
        requests.append(
            {
                "petition_id": petition_id,
                "asked": "The latest progress report, please.",
                "asked_by_id": asker_id,
                "asked_at": asked_at,
                "due_on": date(2025, 5, 1) if petition_id % 3 == 0 else date(2099, 1, 1),
                "answered_at": answered,
                "answered_by_id": None if waiting else advocates[0].id,
                "response": None if waiting else "Attached.",
            }
        )
    return requests


def position_of_page(user, filters: QueueFilters, page: int) -> QueuePosition:
    """Page ``page`` as the Next links reach it: after the last case of the page before."""
    if page == 1:
        return QueuePosition()
    statement = queue_query(user, filters).offset((page - 1) * 25 - 1).limit(1)
    last = db.session.scalars(statement).first()
    if last is None:  # fewer petitions than that (a quick run): the first page
        return QueuePosition()
    key = ORDER_COLUMNS[filters.sort]
    return QueuePosition(after=(getattr(last, key), last.id))


ORDER_COLUMNS = {
    "oldest": "created_at",
    "newest": "created_at",
    "days_pending": "received_at",
    "days_in_stage": "stage_entered_at",
}


def timed_query(app, user, filters: QueueFilters, page: int) -> float:
    durations = []
    with app.test_request_context():
        position = position_of_page(user, filters, page)
        db.session.rollback()
    for _ in range(5):
        with app.test_request_context():
            start = time.perf_counter()
            result = queue_page(
                queue_query(user, filters), per_page=25, sort=filters.sort, position=position
            )
            items = [
                (
                    p.case_number,
                    p.organization_name,
                    p.assignee_name,
                    p.days_pending,
                    p.days_in_stage,
                    p.information_provided,
                    p.referral_overdue,
                )
                for p in result.items
            ]
            durations.append(time.perf_counter() - start)
            assert result.total is not None and items is not None
            db.session.rollback()
    return statistics.median(durations) * 1000


def cast() -> tuple[list, list, list]:
    """The organizations, their advocates and the 20 reviewers (made once per database)."""
    organizations = list(db.session.scalars(select(Organization).order_by(Organization.id)))
    if organizations:
        users = list(db.session.scalars(select(User).order_by(User.id)))
        return (
            organizations,
            [u for u in users if u.role == "advocate"],
            [u for u in users if u.role == "reviewer"],
        )
    organizations = [auth_services.create_organization(None, f"Org {n}") for n in (1, 2)]
    advocates = [
        auth_services.create_user(
            None,
            email=f"a{n}@example.org",
            name="A",
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
            name="R",
            role="reviewer",
            password="bench password 1",
        )
        for n in range(20)
    ]
    db.session.commit()
    return organizations, advocates, reviewers


def queue_cases(organizations, advocate, reviewer) -> list[tuple]:
    """(label, user, filters, page): the pages measured."""
    return [
        ("staff, no filter, page 1", reviewer, QueueFilters(), 1),
        ("staff, no filter, page 400", reviewer, QueueFilters(), 400),
        ("staff, stage=received", reviewer, QueueFilters(stages=("received",)), 1),
        (
            "staff, stage=under_review, newest first",
            reviewer,
            QueueFilters(stages=("under_review",), sort="newest"),
            1,
        ),
        ("staff, stage=pending", reviewer, QueueFilters(stages=("pending",)), 1),
        (
            "staff, stage=received&stage=granted",
            reviewer,
            QueueFilters(stages=("received", "granted")),
            1,
        ),
        ("staff, assignee=me", reviewer, QueueFilters(assignee="me"), 1),
        (
            "staff, assignee=none, stage=received",
            reviewer,
            QueueFilters(assignee="none", stages=("received",)),
            1,
        ),
        (
            "staff, organization + kind",
            reviewer,
            QueueFilters(organization=organizations[1].id, kind="pardon"),
            1,
        ),
        ("staff, search a name part", reviewer, QueueFilters(q="keisha will"), 1),
        ("staff, search a register number", reviewer, QueueFilters(q="04321-321"), 1),
        ("staff, search a case number", reviewer, QueueFilters(q="CP-2023-0543210"), 1),
        ("advocate, own organization", advocate, QueueFilters(), 1),
        ("advocate, stage=granted", advocate, QueueFilters(stages=("granted",)), 1),
        # issue 12: the clocks' sorts, the time filters and the flags
        (
            "staff, My cases (assignee=me, pending)",
            reviewer,
            QueueFilters(stages=("pending",), assignee="me"),
            1,
        ),
        ("staff, sort=days_pending", reviewer, QueueFilters(sort="days_pending"), 1),
        ("staff, sort=days_in_stage", reviewer, QueueFilters(sort="days_in_stage"), 1),
        (
            "staff, pending, sort=days_pending",
            reviewer,
            QueueFilters(stages=("pending",), sort="days_pending"),
            1,
        ),
        (
            "staff, under_review, sort=days_in_stage",
            reviewer,
            QueueFilters(stages=("under_review",), sort="days_in_stage"),
            1,
        ),
        ("staff, older_than_days=1000", reviewer, QueueFilters(older_than_days=1000), 1),
        (
            "staff, pending, older_than_days=365",
            reviewer,
            QueueFilters(stages=("pending",), older_than_days=365),
            1,
        ),
        (
            "staff, stage=information_requested",
            reviewer,
            QueueFilters(stages=("information_requested",)),
            1,
        ),
        ("staff, referral_overdue=true", reviewer, QueueFilters(referral_overdue=True), 1),
        (
            "staff, referral_overdue, pending",
            reviewer,
            QueueFilters(referral_overdue=True, stages=("pending",)),
            1,
        ),
        (
            "staff, referral_overdue, assignee=me",
            reviewer,
            QueueFilters(referral_overdue=True, assignee="me"),
            1,
        ),
        (
            "staff, referral_overdue, sort=days_in_stage",
            reviewer,
            QueueFilters(referral_overdue=True, sort="days_in_stage"),
            1,
        ),
        (
            "advocate, pending, sort=days_pending",
            advocate,
            QueueFilters(stages=("pending",), sort="days_pending"),
            1,
        ),
    ]


def explain(user, filters: QueueFilters, page: int) -> str:
    """The database's plan of the page's query and of its count."""
    statement = queue_query(user, filters)
    page_statement = statement.offset((page - 1) * 25).limit(26)
    counted = bounded_count(statement)
    prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
    lines = []
    for query in (page_statement, counted):
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        rows = db.session.execute(text(prefix + str(compiled))).all()
        lines += ["      " + " | ".join(str(value) for value in row) for row in rows] + [""]
    return "\n".join(lines)


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--petitions", type=int, default=1_000_000)
    args.add_argument(
        "--keep",
        metavar="DATABASE_URL",
        help="seed this database once and keep it (sqlite:////tmp/…/queue.sqlite3, or "
        "postgresql+psycopg://…/bench_…); a database that holds petitions is only measured",
    )
    args.add_argument("--explain", metavar="TEXT", help="print the plans of these cases")
    arguments = args.parse_args()
    keep = arguments.keep
    with kept_app(keep) if keep else scratch_app(arguments.database_url) as app:
        organizations, advocates, reviewers = cast()
        existing = db.session.scalar(select(func.count()).select_from(Petition))
        if existing:
            print(f"using the {existing:,} petitions already in the database")
        else:
            start = time.perf_counter()
            fill(arguments.petitions, organizations, advocates, reviewers)
            took = time.perf_counter() - start
            print(f"wrote {arguments.petitions:,} petitions in {took:.1f} s")
        count = existing or arguments.petitions
        print(
            f"\nqueue page (25 rows + count up to {COUNT_CAP:,}) over "
            f"{count:,} petitions, {db.engine.dialect.name}, median of 5:"
        )
        for label, user, filters, page in queue_cases(organizations, advocates[0], reviewers[3]):
            print(f"  {label:<45} {timed_query(app, user, filters, page):8.1f} ms", flush=True)
            if arguments.explain and arguments.explain in label:
                with app.test_request_context():
                    print(explain(user, filters, page))


if __name__ == "__main__":
    main()
