"""The dashboards' numbers: the summary kept with each change and aggregates over the
petition table's indexes (migration 0014_stats), so that each dashboard answers within
200 ms at a million petitions on PostgreSQL (``bench/dashboards.py``). Reads only.

Definitions (the README's *Dashboards* section repeats them):

- **Months** are calendar months in ``DISPLAY_TIMEZONE``: the current one and the eleven before.
- **Days** from receipt to decision are whole 24-hour days elapsed; days in a stage are
  calendar days until today in ``DISPLAY_TIMEZONE``, as the case page counts them;
  **median** and **90th percentile** are nearest-rank: the smallest number of days that
  at least half (nine tenths) of the cases reach.
- **Decided** means granted, denied or closed; **open** (pending) every other stage.
- Durations to decision and decisions against a recommendation cover the last twelve
  months (those of the chart, the current one included).
- Cases per stage × kind, the months, the durations to decision and the counts of
  decisions against a recommendation are read from the summary kept with each change
  (``tracker.dashboards.summary``); the rest are aggregates over the petition table's
  indexes.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, literal, literal_column, select
from sqlalchemy.orm import aliased

from tracker import clock
from tracker.audit.models import AuditEntry
from tracker.auth.models import User
from tracker.dashboards import summary
from tracker.deadlines.models import InformationRequest, Referral
from tracker.extensions import db
from tracker.petitions.fields import KINDS
from tracker.petitions.models import Petition
from tracker.statistics.queries import current_fiscal_year, fiscal_year_bounds
from tracker.workflow import DECIDED_STAGES, PENDING_STAGES, Stage

OPEN = tuple(s.value for s in Stage if s in PENDING_STAGES)


def is_open():
    """The open stages written out as literals, word for word the condition of the partial
    indexes over open cases (``OPEN_STAGES_SQL``): with bound parameters neither database
    could tell that those indexes answer the query."""
    return Petition.stage.in_([literal_column(f"'{stage}'") for stage in OPEN])


DECIDED = tuple(s.value for s in Stage if s in DECIDED_STAGES)
#: Rows a page lists of a long list (the CSV download has them all).
LIST_LIMIT = 25


def last_months(count: int = 12) -> list[date]:
    """The first days of the last ``count`` calendar months, oldest first (display zone)."""
    month = clock.today().replace(day=1)
    months = [month]
    for _ in range(count - 1):
        month = (month - timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]


def _month_bucket(column, months: list[date]):
    """The index of the month a time stamp falls in (rows are limited to the months)."""
    bounds = [clock.start_of(m) for m in months[1:]]
    return case(*((column < bound, index) for index, bound in enumerate(bounds)), else_=len(bounds))


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


# --- percentiles ---------------------------------------------------------------------------------


def nearest_rank(histogram: list[tuple[int, int]], fraction: float) -> int | None:
    """The smallest value that at least ``fraction`` of the counted items reach, from
    (value, count) pairs sorted by value; None when nothing is counted."""
    total = sum(count for _value, count in histogram)
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


@dataclass(frozen=True)
class Spread:
    label: str
    count: int
    median: int | None
    p90: int | None
    maximum: int | None


def spread(label: str, histogram: list[tuple[int, int]]) -> Spread:
    """The count, median, 90th percentile and maximum of a (days, count) histogram."""
    counts = sorted(histogram)
    return Spread(
        label,
        sum(c for _d, c in counts),
        nearest_rank(counts, 0.5),
        nearest_rank(counts, 0.9),
        counts[-1][0] if counts else None,
    )


# --- the staff dashboard -------------------------------------------------------------------------


def cases_by_stage_and_kind() -> dict[tuple[str, str], int]:
    """Every case counted by (stage, kind), from the summary (``summary.stage_counts``)."""
    return summary.stage_counts()


@dataclass(frozen=True)
class MonthCounts:
    month: date
    received: int
    decided: int


def received_and_decided_per_month(organization_id: int | None = None) -> list[MonthCounts]:
    """Cases received and decided in each of the last twelve months: from the summary for
    the office, from the petitions' indexes for one organization."""
    months = last_months()
    if organization_id is not None:
        return _organization_months(months, organization_id)
    index = {month: i for i, month in enumerate(months)}
    counts = {"received": [0] * len(months), "decided": [0] * len(months)}
    rows = summary.month_totals(("received", "decided"), months[0], _next_month(months[-1]))
    for _kind, month, measure, cases in rows:
        counts[measure][index[month]] += cases
    return [
        MonthCounts(month, counts["received"][i], counts["decided"][i])
        for i, month in enumerate(months)
    ]


def _organization_months(months: list[date], organization_id: int) -> list[MonthCounts]:
    start = clock.start_of(months[0])
    end = clock.start_of(_next_month(months[-1]))
    counts = {"received": [0] * len(months), "decided": [0] * len(months)}
    for name, column in (("received", Petition.received_at), ("decided", Petition.decided_at)):
        bucket = _month_bucket(column, months)
        statement = (
            select(bucket, func.count())
            .where(column >= start, column < end, Petition.organization_id == organization_id)
            .group_by(bucket)
        )
        for index, count in db.session.execute(statement):
            counts[name][index] = count
    return [
        MonthCounts(month, counts["received"][i], counts["decided"][i])
        for i, month in enumerate(months)
    ]


def days_to_decision() -> list[Spread]:
    """Per kind, days from receipt to decision of the cases decided in the last twelve
    months (those of the chart), from the summary's histogram: exact, nearest-rank."""
    months = last_months()
    histogram: dict[str, list[tuple[int, int]]] = {}
    for kind, days, cases in summary.month_totals(
        ("decided",), months[0], _next_month(months[-1]), by_days=True
    ):
        histogram.setdefault(kind, []).append((days, cases))
    return [spread(label, histogram.get(kind, [])) for kind, label in KINDS.items()]


def days_in_stage() -> list[Spread]:
    """Per open stage, how many calendar days its cases have been in it until today (as
    the case page counts them), from the summary's open cases per day of entry."""
    histogram: dict[str, list[tuple[int, int]]] = {}
    for stage, days, cases in summary.open_days(clock.today()):
        histogram.setdefault(stage, []).append((days, cases))
    return [spread(Stage(stage).label, histogram.get(stage, [])) for stage in OPEN]


@dataclass(frozen=True)
class ReviewerLoad:
    name: str
    open_cases: int
    oldest_case: str
    oldest_received_at: datetime


def reviewer_loads() -> list[ReviewerLoad]:
    """Each assignee's open cases and the oldest of them (by receipt); unassigned last.

    The counts come from the partial index over open cases alone; each assignee's oldest case
    is one step into the same index (a correlated subquery, on both databases)."""
    oldest = aliased(Petition)
    groups = (
        select(
            Petition.assignee_id.label("assignee_id"),
            func.count().label("open_cases"),
            func.min(Petition.received_at).label("oldest_received_at"),
        )
        .where(is_open())
        .group_by(Petition.assignee_id)
        .subquery()
    )
    oldest_case = (
        select(oldest.case_number)
        .where(
            oldest.stage.in_([literal_column(f"'{stage}'") for stage in OPEN]),
            oldest.assignee_id.is_not_distinct_from(groups.c.assignee_id),
        )
        .order_by(oldest.received_at, oldest.id)
        .limit(1)
        .correlate(groups)
        .scalar_subquery()
    )
    assignee = aliased(User)
    rows = db.session.execute(
        select(assignee.name, groups.c.open_cases, oldest_case, groups.c.oldest_received_at)
        .select_from(groups)
        .outerjoin(assignee, assignee.id == groups.c.assignee_id)
        .order_by(groups.c.assignee_id.is_(None), groups.c.open_cases.desc(), assignee.name)
    )
    return [
        ReviewerLoad(name or "Nobody (unassigned)", open_cases, case_number, received_at)
        for name, open_cases, case_number, received_at in rows
    ]


def oldest_pending(limit: int = LIST_LIMIT, organization_id: int | None = None) -> list[Petition]:
    """The open cases received longest ago (an organization's only, when given)."""
    statement = (
        select(Petition).where(is_open()).order_by(Petition.received_at, Petition.id).limit(limit)
    )
    if organization_id is not None:
        statement = statement.where(Petition.organization_id == organization_id)
    return list(db.session.scalars(statement))


def count_open(organization_id: int | None = None) -> int:
    statement = select(func.count()).select_from(Petition).where(is_open())
    if organization_id is not None:
        statement = statement.where(Petition.organization_id == organization_id)
    return db.session.scalar(statement)


@dataclass(frozen=True)
class Overdue:
    what: str
    case_number: str
    due_on: date
    days_overdue: int


def overdue_items(limit: int | None = LIST_LIMIT) -> tuple[int, list[Overdue]]:
    """Open referrals and unanswered information requests past their due date, most overdue
    first: (how many in all, the first ``limit``)."""
    today = clock.today()
    referrals = (
        select(
            literal("referral").label("what"),
            Referral.agency,
            Petition.case_number,
            Referral.due_on,
        )
        .join(Petition, Petition.id == Referral.petition_id)
        .where(Referral.answered_on.is_(None), Referral.due_on < today)
    )
    requests = (
        select(
            literal("information_request").label("what"),
            literal(None).label("agency"),
            Petition.case_number,
            InformationRequest.due_on,
        )
        .join(Petition, Petition.id == InformationRequest.petition_id)
        .where(
            InformationRequest.answered_at.is_(None),
            InformationRequest.due_on < today,
            Petition.stage == Stage.INFORMATION_REQUESTED.value,
        )
    )
    both = referrals.union_all(requests).subquery()
    total = db.session.scalar(select(func.count()).select_from(both))
    statement = select(both).order_by(both.c.due_on, both.c.case_number)
    if limit is not None:
        statement = statement.limit(limit)
    items = []
    for what, agency, case_number, due_on in db.session.execute(statement):
        label = (
            f"Referral ({Referral(agency=agency).agency_label})"
            if what == "referral"
            else "Information request"
        )
        items.append(Overdue(label, case_number, due_on, (today - due_on).days))
    return total, items


@dataclass(frozen=True)
class AgainstRecommendation:
    case_number: str
    decision: str
    decided_at: datetime


def decisions_against_recommendation(limit: int | None = LIST_LIMIT):
    """Grants and denials of the last twelve months that went against the case's latest
    recommendation (marked so in their audit entry when decided): per decision the count
    (from the summary), and the latest ``limit`` of them (newest first, along the audit
    log's time index)."""
    months = last_months()
    counts = Counter()
    for _kind, _month, measure, cases in summary.month_totals(
        summary.AGAINST_MEASURES, months[0], _next_month(months[-1])
    ):
        counts[measure.removesuffix("_against")] += cases
    against = AuditEntry.details["against_recommendation"].as_boolean()
    statement = (
        select(Petition.case_number, AuditEntry.action, AuditEntry.created_at)
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .where(
            AuditEntry.created_at >= clock.start_of(months[0]),
            AuditEntry.action.in_(("grant", "deny")),
            against.is_(True),
        )
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    )
    if limit is not None:
        statement = statement.limit(limit)
    latest = [AgainstRecommendation(*row) for row in db.session.execute(statement)]
    return dict(counts), latest


# --- the advocate's dashboard --------------------------------------------------------------------


def open_information_requests(organization_id: int, limit: int | None = LIST_LIMIT):
    """What is asked of the organization: its cases' unanswered information requests,
    soonest due first: (how many in all, the first ``limit`` as (petition, request))."""
    condition = (
        Petition.organization_id == organization_id,
        Petition.stage == Stage.INFORMATION_REQUESTED.value,
        InformationRequest.answered_at.is_(None),
    )
    joined = select(Petition, InformationRequest).join(
        InformationRequest, InformationRequest.petition_id == Petition.id
    )
    total = db.session.scalar(
        select(func.count())
        .select_from(Petition)
        .join(InformationRequest, InformationRequest.petition_id == Petition.id)
        .where(*condition)
    )
    statement = joined.where(*condition).order_by(InformationRequest.due_on, Petition.id)
    if limit is not None:
        statement = statement.limit(limit)
    return total, list(db.session.execute(statement).all())


def decisions_this_year(organization_id: int) -> dict[tuple[str, str], int]:
    """The organization's cases decided in the current fiscal year, by (kind, stage) as they
    stand (a case reopened since is no longer counted)."""
    start, end = fiscal_year_bounds(current_fiscal_year())
    rows = db.session.execute(
        select(Petition.kind, Petition.stage, func.count())
        .where(
            Petition.organization_id == organization_id,
            Petition.decided_at >= start,
            Petition.decided_at < end,
        )
        .group_by(Petition.kind, Petition.stage)
    )
    return {(kind, stage): count for kind, stage, count in rows}
