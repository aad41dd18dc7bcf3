"""Reading the read log: the access log's listing (``tracker.listing``), a case's readers,
unusual access."""

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select

from tracker.auth.models import User
from tracker.extensions import db
from tracker.listing import Listing, local_midnight
from tracker.petitions.models import Petition
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Role

#: Filtered by reader, case, interface and dates; each row shows its reader and case.
ACCESS_LOG = Listing(
    ReadLogEntry,
    person=ReadLogEntry.user_id,
    choice=ReadLogEntry.interface,
    shown=(ReadLogEntry.user, ReadLogEntry.petition),
)


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
        ReadLogEntry.created_at >= local_midnight(day),
        ReadLogEntry.created_at < local_midnight(day + timedelta(days=1)),
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
