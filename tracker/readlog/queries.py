"""Reading the read log: the access log's filters and pages, a case's readers, unusual access."""

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from tracker.audit.queries import _local_midnight
from tracker.auth.models import User
from tracker.extensions import db
from tracker.petitions.models import Petition
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Role


@dataclass
class AccessLogFilters:
    user: str | None = None  #: e-mail of the reader
    case_number: str | None = None
    interface: str | None = None
    date_from: date | None = None  #: inclusive, in the display time zone
    date_to: date | None = None  #: inclusive, in the display time zone


def filtered_entries(filters: AccessLogFilters) -> Select | None:
    """The reads matching every filter, newest first; None when a filter matches nothing."""
    statement = select(ReadLogEntry)
    if filters.user:
        user_id = db.session.scalar(
            select(User.id).where(User.email == filters.user.strip().lower())
        )
        if user_id is None:
            return None
        statement = statement.where(ReadLogEntry.user_id == user_id)
    if filters.case_number:
        petition_id = db.session.scalar(
            select(Petition.id).where(Petition.case_number == filters.case_number.strip().upper())
        )
        if petition_id is None:
            return None
        statement = statement.where(ReadLogEntry.petition_id == petition_id)
    if filters.interface:
        statement = statement.where(ReadLogEntry.interface == filters.interface)
    if filters.date_from:
        statement = statement.where(ReadLogEntry.created_at >= _local_midnight(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        end = _local_midnight(filters.date_to + timedelta(days=1))
        statement = statement.where(ReadLogEntry.created_at < end)
    return statement.order_by(ReadLogEntry.id.desc())


def page_of_entries(filters: AccessLogFilters, before_id: int | None, per_page: int):
    """One page, newest first, starting below ``before_id``; returns (entries, next_before_id)."""
    statement = filtered_entries(filters)
    if statement is None:
        return [], None
    if before_id is not None:
        statement = statement.where(ReadLogEntry.id < before_id)
    statement = statement.options(
        joinedload(ReadLogEntry.user), joinedload(ReadLogEntry.petition)
    ).limit(per_page + 1)
    entries = list(db.session.scalars(statement))
    next_before = entries[per_page - 1].id if len(entries) > per_page else None
    return entries[:per_page], next_before


EXPORT_BATCH_SIZE = 1000


def iter_filtered_entries(filters: AccessLogFilters, batch_size: int = EXPORT_BATCH_SIZE):
    """Every matching read, newest first, in keyset batches (constant memory)."""
    before_id = None
    while True:
        entries, _ = page_of_entries(filters, before_id, batch_size)
        yield from entries
        if len(entries) < batch_size:
            return
        before_id = entries[-1].id
        db.session.expunge_all()


@dataclass
class Reader:
    user: User | None
    reads: int
    last_read_at: object
    interfaces: list[str] = field(default_factory=list)


def readers_of(petition: Petition, limit: int) -> tuple[list[Reader], int]:
    """Who has read this case, most recent reader first, and how many reads in all."""
    rows = db.session.execute(
        select(
            ReadLogEntry.user_id,
            func.count().label("reads"),
            func.max(ReadLogEntry.created_at).label("last_read_at"),
        )
        .where(ReadLogEntry.petition_id == petition.id)
        .group_by(ReadLogEntry.user_id)
        .order_by(func.max(ReadLogEntry.created_at).desc())
    ).all()
    total = sum(row.reads for row in rows)
    rows = rows[:limit]
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([r.user_id for r in rows if r.user_id is not None]))
        )
    }
    return [Reader(users.get(r.user_id), r.reads, r.last_read_at) for r in rows], total


# --- unusual access -----------------------------------------------------------------------------


@dataclass
class HeavyReader:
    user: User
    reads: int
    role_median: float


@dataclass
class OutsideRead:
    user: User
    petition: Petition
    reads: int


@dataclass
class UnusualAccess:
    day: date
    factor: float
    medians: dict[str, float]
    heavy_readers: list[HeavyReader]
    outside_assignments: list[OutsideRead]


def _day_range(day: date):
    return (
        ReadLogEntry.created_at >= _local_midnight(day),
        ReadLogEntry.created_at < _local_midnight(day + timedelta(days=1)),
    )


def unusual_access(day: date, factor: float) -> UnusualAccess:
    """The unusual access of one day (in the display time zone).

    Case reads are read log entries that name a case (case page, API case and history,
    document downloads, bulk confirmation lists). A user's reads are unusual when they
    exceed ``factor`` × the median of the users of the same role who read at least one case
    that day (users who read nothing are left out of the median, or a quiet office would
    flag anyone who opened two cases). A reviewer's read is outside their assignments when
    the case was not assigned to them at the time of the read.
    """
    counts = db.session.execute(
        select(ReadLogEntry.user_id, func.count().label("reads"))
        .where(
            ReadLogEntry.petition_id.is_not(None),
            ReadLogEntry.user_id.is_not(None),
            *_day_range(day),
        )
        .group_by(ReadLogEntry.user_id)
    ).all()
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_([row.user_id for row in counts]))
        )
    }
    by_role: dict[str, list[int]] = {}
    for row in counts:
        by_role.setdefault(users[row.user_id].role, []).append(row.reads)
    medians = {role: statistics.median(reads) for role, reads in by_role.items()}
    heavy = sorted(
        (
            HeavyReader(users[row.user_id], row.reads, medians[users[row.user_id].role])
            for row in counts
            if row.reads > factor * medians[users[row.user_id].role]
        ),
        key=lambda reader: (-reader.reads, reader.user.email),
    )
    outside_rows = db.session.execute(
        select(ReadLogEntry.user_id, ReadLogEntry.petition_id, func.count().label("reads"))
        .join(User, User.id == ReadLogEntry.user_id)
        .where(
            User.role == Role.REVIEWER.value,
            ReadLogEntry.reader_assigned.is_(False),
            *_day_range(day),
        )
        .group_by(ReadLogEntry.user_id, ReadLogEntry.petition_id)
    ).all()
    outside_users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({row.user_id for row in outside_rows}))
        )
    }
    petitions = {
        p.id: p
        for p in db.session.scalars(
            select(Petition).where(Petition.id.in_({row.petition_id for row in outside_rows}))
        )
    }
    outside = sorted(
        (
            OutsideRead(outside_users[row.user_id], petitions[row.petition_id], row.reads)
            for row in outside_rows
        ),
        key=lambda read: (read.user.email, read.petition.case_number),
    )
    return UnusualAccess(day, factor, medians, heavy, outside)
