"""The reviewer queue and the API list over a million petitions.

    python -m bench.queue [--petitions 1000000] [--database-url postgresql+psycopg://…]

Rows are written straight into the table (no audit entries: this measures reads), spread
over 2 organizations, 5 stages, both kinds, 20 reviewers as assignees and 5 years, with the
clocks (received_at, stage_entered_at) and a referral on one case in 100 (a third of them
overdue), as the time filters need (issue 12). Each
query is the app's own (tracker.petitions.queries.queue_query and queue_page, which
counts up to COUNT_CAP and fetches one page, as the page does), timed as the median of 5 runs.
A later page is a keyset page (after the last case of the page before it), as the web
queue's Next link asks for it.
"""

import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, text

from bench.common import parser, scratch_app
from tracker.auth import services as auth_services
from tracker.deadlines.models import Referral
from tracker.extensions import db
from tracker.petitions.filters import QueueFilters
from tracker.petitions.models import Petition
from tracker.petitions.queries import COUNT_CAP, QueuePosition, queue_page, queue_query

BATCH = 50_000
STAGES = ("received", "under_review", "granted", "denied", "information_requested")
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


def petition_row(number: int, rng: random.Random, organizations, advocates, reviewers) -> dict:
    """The columns of the bench's petition ``number`` (a pure function of it and ``rng``)."""
    start = datetime(2021, 1, 1, tzinfo=UTC)
    stage = STAGES[number % 4] if number % 20 else "information_requested"
    decided = stage in ("granted", "denied")
    org = number % 2
    return {
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
        "assignee_id": reviewers[number % len(reviewers)].id if number % 5 else None,
        "version": 1,
        "created_at": start + timedelta(minutes=number * 2),
        "updated_at": start + timedelta(minutes=number * 2),
        "received_at": start + timedelta(minutes=number * 2),
        "stage_entered_at": start + timedelta(minutes=number * 2, days=number % 90),
        "decided_at": start if decided else None,
        "decided_by_id": reviewers[0].id if decided else None,
        "decision_reason": "r" if decided else None,
        "disposition": stage if decided else None,
        "relief": "unspecified" if stage == "granted" else None,
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
        ids = db.session.scalars(
            insert(Petition).returning(Petition.id, sort_by_parameter_order=True), rows
        ).all()
        referrals = [
            {
                "petition_id": petition_id,
                "agency": "fbi",
                "sent_on": date(2025, 1, 1),
                "due_on": date(2025, 5, 1) if petition_id % 300 == 0 else date(2099, 1, 1),
                "created_by_id": reviewers[0].id,
                "created_at": start,
            }
            for petition_id in ids
            if petition_id % 100 == 0
        ]
        if referrals:
            db.session.execute(insert(Referral), referrals)
        db.session.commit()
        written += len(rows)
        print(f"  {written:,} petitions", flush=True)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


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
                    p.organization.name,
                    p.assignee,
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


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--petitions", type=int, default=1_000_000)
    arguments = args.parse_args()
    with scratch_app(arguments.database_url) as app:
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
        start = time.perf_counter()
        fill(arguments.petitions, organizations, advocates, reviewers)
        print(f"wrote {arguments.petitions:,} petitions in {time.perf_counter() - start:.1f} s")
        reviewer, advocate = reviewers[3], advocates[0]
        cases = [
            ("staff, no filter, page 1", reviewer, QueueFilters(), 1),
            ("staff, no filter, page 400", reviewer, QueueFilters(), 400),
            ("staff, stage=received", reviewer, QueueFilters(stages=("received",)), 1),
            (
                "staff, stage=under_review, newest first",
                reviewer,
                QueueFilters(stages=("under_review",), sort="newest"),
                1,
            ),
            (
                "staff, stage=pending (received, under review)",
                reviewer,
                QueueFilters(stages=("pending",)),
                1,
            ),
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
            # issue 12: the clocks' sorts and the time filters
            (
                "staff, stage=pending (My cases: assignee=me)",
                reviewer,
                QueueFilters(stages=("pending",), assignee="me"),
                1,
            ),
            (
                "staff, pending, older_than_days=365",
                reviewer,
                QueueFilters(stages=("pending",), older_than_days=365),
                1,
            ),
            ("staff, sort=days_pending", reviewer, QueueFilters(sort="days_pending"), 1),
            ("staff, sort=days_in_stage", reviewer, QueueFilters(sort="days_in_stage"), 1),
            ("staff, referral_overdue=true", reviewer, QueueFilters(referral_overdue=True), 1),
            ("advocate, own organization", advocate, QueueFilters(), 1),
            ("advocate, stage=granted", advocate, QueueFilters(stages=("granted",)), 1),
        ]
        print(
            f"\nqueue page (25 rows + count up to {COUNT_CAP:,}) over "
            f"{arguments.petitions:,} petitions, {db.engine.dialect.name}, median of 5:"
        )
        for label, user, filters, page in cases:
            print(f"  {label:<45} {timed_query(app, user, filters, page):8.1f} ms", flush=True)


if __name__ == "__main__":
    main()
