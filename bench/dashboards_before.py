"""The dashboards' and statistics' queries as they were before the summary (main before
``tracker.dashboards.summary``): aggregates over the petition table and the audit log.
``bench.dashboards`` times them beside the summary's in the same run. Not used by the app."""

# ruff: noqa
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select

from tracker import clock
from tracker.audit.models import AuditEntry
from tracker.dashboards.queries import (
    LIST_LIMIT,
    OPEN,
    AgainstRecommendation,
    MonthCounts,
    Spread,
    _next_month,
    is_open,
    last_months,
    nearest_rank,
)
from tracker.extensions import db
from tracker.petitions.fields import KINDS
from tracker.petitions.models import Petition
from tracker.statistics.queries import (
    COLUMNS,
    MONTHLY_COLUMNS,
    MonthRow,
    YearCounts,
    fiscal_year_bounds,
    month_starts,
)
from tracker.workflow import DECIDED_STAGES, PENDING_STAGES, Stage

WINDOW_DAYS = 365
SECONDS_PER_DAY = 86_400
_DECIDED = tuple(s.value for s in DECIDED_STAGES)
_OPEN = tuple(s.value for s in PENDING_STAGES)


def _epoch(column):
    """Seconds since 1970 of a time stamp column, on either database."""
    if db.session.get_bind().dialect.name == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return func.extract("epoch", column)


def whole_days(start, end):
    """Whole days elapsed from ``start`` to ``end`` (columns, or an end given as epoch
    seconds)."""
    end_seconds = literal(end) if isinstance(end, int) else _epoch(end)
    return cast(func.floor((end_seconds - _epoch(start)) / SECONDS_PER_DAY), Integer)


def _month_bucket(column, months: list[date]):
    """The index of the month a time stamp falls in (rows are limited to the months)."""
    bounds = [clock.start_of(m) for m in months[1:]]
    return case(*((column < bound, index) for index, bound in enumerate(bounds)), else_=len(bounds))


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _spreads(statement, label_of) -> list[Spread]:
    """Per group, the count, median, 90th percentile and maximum of a (group, days, count)
    histogram query."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for group, days, count in db.session.execute(statement):
        groups.setdefault(group, []).append((int(days), count))
    spreads = []
    for group, histogram in groups.items():
        histogram.sort()
        spreads.append(
            Spread(
                label_of(group),
                sum(c for _d, c in histogram),
                nearest_rank(histogram, 0.5),
                nearest_rank(histogram, 0.9),
                histogram[-1][0],
            )
        )
    return spreads


def cases_by_stage_and_kind() -> dict[tuple[str, str], int]:
    """Every case counted by (stage, kind)."""
    rows = db.session.execute(
        select(Petition.stage, Petition.kind, func.count()).group_by(Petition.stage, Petition.kind)
    )
    return {(stage, kind): count for stage, kind, count in rows}


@dataclass(frozen=True)
class MonthCounts:
    month: date
    received: int
    decided: int


def received_and_decided_per_month(organization_id: int | None = None) -> list[MonthCounts]:
    """Cases received and decided in each of the last twelve months."""
    months = last_months()
    start = clock.start_of(months[0])
    end = clock.start_of(_next_month(months[-1]))
    counts = {"received": [0] * len(months), "decided": [0] * len(months)}
    for name, column in (("received", Petition.received_at), ("decided", Petition.decided_at)):
        bucket = _month_bucket(column, months)
        statement = (
            select(bucket, func.count()).where(column >= start, column < end).group_by(bucket)
        )
        if organization_id is not None:
            statement = statement.where(Petition.organization_id == organization_id)
        for index, count in db.session.execute(statement):
            counts[name][index] = count
    return [
        MonthCounts(month, counts["received"][i], counts["decided"][i])
        for i, month in enumerate(months)
    ]


def days_to_decision() -> list[Spread]:
    """Per kind, days from receipt to decision of the cases decided in the last 365 days."""
    since = clock.now() - timedelta(days=WINDOW_DAYS)
    days = whole_days(Petition.received_at, Petition.decided_at)
    statement = (
        select(Petition.kind, days, func.count())
        .where(Petition.decided_at >= since)
        .group_by(Petition.kind, days)
    )
    spreads = {s.label: s for s in _spreads(statement, lambda kind: KINDS[kind])}
    return [spreads.get(label) or Spread(label, 0, None, None, None) for label in KINDS.values()]


def days_in_stage() -> list[Spread]:
    """Per open stage, how long its cases have been in it, until now."""
    now = int(clock.now().timestamp())
    days = whole_days(Petition.stage_entered_at, now)
    statement = (
        select(Petition.stage, days, func.count()).where(is_open()).group_by(Petition.stage, days)
    )
    spreads = {s.label: s for s in _spreads(statement, lambda stage: Stage(stage).label)}
    return [
        spreads.get(Stage(stage).label) or Spread(Stage(stage).label, 0, None, None, None)
        for stage in OPEN
    ]


def decisions_against_recommendation(limit: int | None = LIST_LIMIT):
    """Grants and denials of the last 365 days that went against the case's latest
    recommendation (marked so in their audit entry when decided): per decision the count,
    and the latest ``limit`` of them."""
    since = clock.now() - timedelta(days=WINDOW_DAYS)
    against = AuditEntry.details["against_recommendation"].as_boolean()
    condition = (
        AuditEntry.created_at >= since,
        AuditEntry.action.in_(("grant", "deny")),
        against.is_(True),
    )
    counts = dict(
        db.session.execute(
            select(AuditEntry.action, func.count()).where(*condition).group_by(AuditEntry.action)
        ).all()
    )
    statement = (
        select(Petition.case_number, AuditEntry.action, AuditEntry.created_at)
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .where(*condition)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
    if limit is not None:
        statement = statement.limit(limit)
    latest = [AgainstRecommendation(*row) for row in db.session.execute(statement)]
    return counts, latest


def _movement():
    """What an entry does to the pending count: +1 a receipt or reopening, −1 a finish."""
    return case(
        (AuditEntry.action == "submit", 1),
        (
            and_(AuditEntry.to_stage.in_(_OPEN), AuditEntry.from_stage.in_(_DECIDED)),
            1,
        ),
        (
            and_(
                AuditEntry.to_stage.in_(_DECIDED),
                or_(AuditEntry.from_stage.is_(None), AuditEntry.from_stage.in_(_OPEN)),
            ),
            -1,
        ),
        else_=0,
    )


def _stage_entries():
    """Case entries that move the pending count, with the case's kind."""
    return (
        select(Petition.kind)
        .select_from(AuditEntry)
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .where(AuditEntry.to_stage.is_not(None))
    )


def _pending_before(moment: datetime) -> dict[str, int]:
    rows = db.session.execute(
        _stage_entries()
        .add_columns(func.sum(_movement()))
        .where(AuditEntry.created_at < moment)
        .group_by(Petition.kind)
    ).all()
    return {kind: int(total or 0) for kind, total in rows}


def _column(action: str, from_stage: str | None, to_stage: str, disposition: str | None) -> str:
    if action == "submit":
        return "received"
    if to_stage in _OPEN:
        return "reopened" if from_stage in _DECIDED else ""
    if from_stage in _DECIDED:
        return ""
    if to_stage == Stage.CLOSED:
        return "closed_without_action" if disposition == "closed_without_action" else "closed_other"
    return to_stage


def _entries_in(start: datetime, end: datetime):
    """(kind, action, from, to, disposition, time) of each counted entry of [start, end).

    The disposition is read from the entry's changes in Python rather than with JSON
    operators, which SQLite and PostgreSQL spell differently; a year has at most tens of
    thousands of such entries."""
    relevant = (
        (AuditEntry.action == "submit")
        | AuditEntry.to_stage.in_(_DECIDED)
        | and_(AuditEntry.to_stage.in_(_OPEN), AuditEntry.from_stage.in_(_DECIDED))
    )
    rows = db.session.execute(
        _stage_entries()
        .add_columns(
            AuditEntry.action,
            AuditEntry.from_stage,
            AuditEntry.to_stage,
            case((AuditEntry.to_stage == Stage.CLOSED.value, AuditEntry.changes), else_=None),
            AuditEntry.created_at,
        )
        .where(AuditEntry.created_at >= start, AuditEntry.created_at < end, relevant)
    ).all()
    for kind, action, from_stage, to_stage, changes, created_at in rows:
        disposition = ((changes or {}).get("disposition") or [None, None])[1]
        column = _column(action, from_stage, to_stage, disposition)
        if column:
            yield kind, column, created_at


def year_counts(fiscal_year: int) -> YearCounts:
    """The office's table for one fiscal year, per kind (see the module's docstring)."""
    start, end = fiscal_year_bounds(fiscal_year)
    kinds = {kind: dict.fromkeys(COLUMNS, 0) for kind in KINDS}
    for kind, total in _pending_before(start).items():
        kinds[kind]["pending_start"] = total
    for kind, column, _created_at in _entries_in(start, end):
        kinds[kind][column] += 1
    for counts in kinds.values():
        counts["pending_end"] = (
            counts["pending_start"]
            + counts["received"]
            + counts["reopened"]
            - sum(counts[c] for c in ("granted", "denied", "closed_without_action", "closed_other"))
        )
    return YearCounts(fiscal_year, kinds)


def decisions_per_month(fiscal_year: int) -> list[MonthRow]:
    """Granted, denied and closed per month (display time zone) and kind, October first."""
    start, end = fiscal_year_bounds(fiscal_year)
    months = month_starts(fiscal_year)
    counts = {(m, k): dict.fromkeys(MONTHLY_COLUMNS, 0) for m in months for k in KINDS}
    for kind, column, created_at in _entries_in(start, end):
        if column in ("received", "reopened"):
            continue
        local = clock.local_date(created_at)
        bucket = "closed" if column.startswith("closed") else column
        counts[(local.replace(day=1), kind)][bucket] += 1
    return [MonthRow(m, k, **counts[(m, k)]) for m in months for k in KINDS]
