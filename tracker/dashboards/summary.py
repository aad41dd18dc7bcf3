"""The summary behind the dashboards and the fiscal-year statistics (``tracker.dashboards.models``):
counts written in the same transaction as each change, so that at a million cases a dashboard
reads a few hundred summary rows instead of counting the petition table or the audit log.

The one writer is ``record_changes``, called by the transition path
(``tracker.petitions.services``: a submission, a transition single or bulk, a clemency act's
cohort) with one ``CaseChange`` per case moved; a corrected kind calls ``move_kind``. Nothing
else writes here except ``rebuild`` (the migration's backfill, ``flask dashboards rebuild``).

Contention: every writer reaches ``record_changes`` after its audit entries, that is while it
holds the audit chain's head row (``tracker.audit.services.record_many`` locks it until
commit), so writers of the summary already queue on that one row and cannot deadlock on the
counters; the rows are nonetheless written in key order, so that would hold without it.

``recount`` counts everything again from the petitions and the audit log; ``drift`` compares
it with what is kept (``flask dashboards verify``). The months are those of
``DISPLAY_TIMEZONE``: after changing it, run ``flask dashboards rebuild``.
"""

import functools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from tracker import clock
from tracker.audit.models import AuditEntry
from tracker.dashboards.models import MonthTally, OpenDayTally, StageTally
from tracker.extensions import db
from tracker.petitions.models import Petition
from tracker.workflow import DECIDED_STAGES, PENDING_STAGES, Stage

OPEN = frozenset(s.value for s in PENDING_STAGES)
DECIDED = frozenset(s.value for s in DECIDED_STAGES)
#: The measures counted from the audit log (never changed once counted, but for a kind).
HISTORY_MEASURES = (
    "submitted",
    "granted",
    "denied",
    "closed_without_action",
    "closed_other",
    "reopened",
)
AGAINST_MEASURES = ("grant_against", "deny_against")
#: Every measure of ``MonthTally``.
MEASURES = ("received", "decided", *HISTORY_MEASURES, *AGAINST_MEASURES)
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class CaseChange:
    """One case's move, as its audit entry records it, and what the summary needs besides.

    ``from_stage`` is None for a new case; ``at`` is the time of the move's audit entry;
    ``moved_at`` the time written on the case (its new ``stage_entered_at``, and its
    ``decided_at`` when the move decides it); ``entered_before`` and ``decided_before`` the
    case's times before the move (None for a new case, and while open); ``disposition`` is the
    one the entry's changes record (a closure's); ``against_recommendation`` as the decision's
    entry marks it."""

    petition_id: int
    kind: str
    action: str
    from_stage: str | None
    to_stage: str
    at: datetime
    moved_at: datetime
    received_at: datetime
    entered_before: datetime | None = None
    decided_before: datetime | None = None
    disposition: str | None = None
    against_recommendation: bool = False

    @classmethod
    def of_entry(
        cls, entry: dict, kind: str, moved_at, received_at, entered_before=None, decided_before=None
    ):
        """The change an audit entry (as ``record_many`` returned it) records."""
        return cls(
            petition_id=entry["petition_id"],
            kind=kind,
            action=entry["action"],
            from_stage=entry["from_stage"],
            to_stage=entry["to_stage"],
            at=entry["created_at"],
            moved_at=moved_at,
            received_at=received_at,
            entered_before=entered_before,
            decided_before=decided_before,
            disposition=((entry["changes"] or {}).get("disposition") or [None, None])[1],
            against_recommendation=bool((entry["details"] or {}).get("against_recommendation")),
        )


def month_of(moment: datetime) -> date:
    """The first day of the moment's month in the display time zone."""
    return clock.local_date(moment).replace(day=1)


def whole_days(start: datetime, end: datetime) -> int:
    return math.floor((end - start).total_seconds() / SECONDS_PER_DAY)


def history_measure(action: str, from_stage: str | None, to_stage: str, disposition) -> str | None:
    """What a stage-moving audit entry counts as in the statistics, or None: a submission is
    a receipt; a move from a finished stage to an open one a reopening (never a receipt); a
    move from an open stage (or none) to a finished one a grant, a denial or a closure, by
    the disposition it recorded."""
    if action == "submit":
        return "submitted"
    if to_stage in OPEN:
        return "reopened" if from_stage in DECIDED else None
    if from_stage in DECIDED:
        return None
    if to_stage == Stage.CLOSED.value:
        return "closed_without_action" if disposition == "closed_without_action" else "closed_other"
    return to_stage


def _against_measure(action: str, against: bool) -> str | None:
    return f"{action}_against" if against and action in ("grant", "deny") else None


# --- keeping it ----------------------------------------------------------------------------------


def _deltas(change: CaseChange, local_date=clock.local_date) -> Counter:
    """The summary rows one change adds to (+1) and takes from (−1). ``local_date``: the
    display time zone's date of a moment (a batch passes one that remembers its answers)."""

    def month_of(moment: datetime) -> date:
        return local_date(moment).replace(day=1)

    deltas = Counter()
    kind = change.kind
    if change.from_stage is not None:
        deltas[("stage", kind, change.from_stage)] -= 1
    else:
        deltas[("month", kind, month_of(change.received_at), "received", 0)] += 1
    deltas[("stage", kind, change.to_stage)] += 1
    if change.from_stage in OPEN and change.entered_before is not None:
        deltas[("day", change.from_stage, local_date(change.entered_before))] -= 1
    if change.to_stage in OPEN:
        deltas[("day", change.to_stage, local_date(change.moved_at))] += 1
    if change.decided_before is not None:
        days = whole_days(change.received_at, change.decided_before)
        deltas[("month", kind, month_of(change.decided_before), "decided", days)] -= 1
    if change.to_stage in DECIDED:
        days = whole_days(change.received_at, change.moved_at)
        deltas[("month", kind, month_of(change.moved_at), "decided", days)] += 1
    for measure in (
        history_measure(change.action, change.from_stage, change.to_stage, change.disposition),
        _against_measure(change.action, change.against_recommendation),
    ):
        if measure:
            deltas[("month", kind, month_of(change.at), measure, 0)] += 1
    return deltas


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def _add(deltas: Counter) -> None:
    """Add the deltas to the kept counts: one upsert per table, rows in key order."""
    stage_rows = [
        {"kind": key[1], "stage": key[2], "cases": n}
        for key, n in sorted(deltas.items())
        if key[0] == "stage" and n
    ]
    month_rows = [
        {"kind": key[1], "month": key[2], "measure": key[3], "days": key[4], "cases": n}
        for key, n in sorted(deltas.items())
        if key[0] == "month" and n
    ]
    day_rows = [
        {"stage": key[1], "day": key[2], "cases": n}
        for key, n in sorted(deltas.items())
        if key[0] == "day" and n
    ]
    for model, rows, keys in (
        (StageTally, stage_rows, ["kind", "stage"]),
        (OpenDayTally, day_rows, ["stage", "day"]),
        (MonthTally, month_rows, ["measure", "month", "kind", "days"]),
    ):
        if not rows:
            continue
        statement = _insert(model).values(rows)
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=keys, set_={"cases": model.cases + statement.excluded.cases}
            )
        )


def record_changes(changes: Iterable[CaseChange]) -> None:
    """Count the cases' moves in the summary, in the caller's transaction (call it after
    their audit entries are written: see the module's docstring). At most three statements
    (one per table) whatever the number of cases."""
    zone = clock.display_zone()

    # A batch's moves share a few moments (now, the entries' time, days of receipt): each
    # is converted to the display time zone once, not once per case (a third of an act's
    # summary time).
    @functools.cache
    def local_date(moment: datetime) -> date:
        return moment.astimezone(zone).date()

    deltas = Counter()
    for change in changes:
        deltas.update(_deltas(change, local_date))
    _add(deltas)


def move_kind(petition_id: int, old_kind: str) -> None:
    """A case's kind was corrected (after its row and audit entry were written): everything
    it counts for moves from the old kind to the new one, its history included (a case is
    counted under its kind today)."""
    counted = recount(petition_id)
    moved = Counter()
    for key, cases in counted.items():
        if key[0] == "day":
            continue  # counted per stage, whatever the kind
        moved[key] += cases
        moved[(key[0], old_kind, *key[2:])] -= cases
    _add(moved)


# --- checking it ---------------------------------------------------------------------------------


def recount(petition_id: int | None = None) -> Counter:
    """Every summary row counted again from the petitions and the audit log (one case's
    when given): {("stage", kind, stage) or ("month", kind, month, measure, days): cases}."""
    counted = Counter()
    cases = select(
        Petition.kind,
        Petition.stage,
        Petition.received_at,
        Petition.decided_at,
        Petition.stage_entered_at,
    )
    if petition_id is not None:
        cases = cases.where(Petition.id == petition_id)
    for kind, stage, received_at, decided_at, entered_at in db.session.execute(
        cases.execution_options(yield_per=20_000)
    ):
        counted[("stage", kind, stage)] += 1
        if stage in OPEN:
            counted[("day", stage, clock.local_date(entered_at))] += 1
        counted[("month", kind, month_of(received_at), "received", 0)] += 1
        if decided_at is not None:
            days = whole_days(received_at, decided_at)
            counted[("month", kind, month_of(decided_at), "decided", days)] += 1
    entries = (
        select(
            Petition.kind,
            AuditEntry.action,
            AuditEntry.from_stage,
            AuditEntry.to_stage,
            AuditEntry.created_at,
            case((AuditEntry.to_stage == Stage.CLOSED.value, AuditEntry.changes), else_=None),
            case((AuditEntry.action.in_(("grant", "deny")), AuditEntry.details), else_=None),
        )
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .where(AuditEntry.to_stage.is_not(None))
    )
    if petition_id is not None:
        entries = entries.where(AuditEntry.petition_id == petition_id)
    for kind, action, from_stage, to_stage, created_at, changes, details in db.session.execute(
        entries.execution_options(yield_per=20_000)
    ):
        disposition = ((changes or {}).get("disposition") or [None, None])[1]
        against = bool((details or {}).get("against_recommendation"))
        for measure in (
            history_measure(action, from_stage, to_stage, disposition),
            _against_measure(action, against),
        ):
            if measure:
                counted[("month", kind, month_of(created_at), measure, 0)] += 1
    return counted


def kept() -> Counter:
    """The summary as kept (rows at zero left out)."""
    counts = Counter()
    for row in db.session.scalars(select(StageTally)):
        counts[("stage", row.kind, row.stage)] += row.cases
    for row in db.session.scalars(select(MonthTally)):
        counts[("month", row.kind, row.month, row.measure, row.days)] += row.cases
    for row in db.session.scalars(select(OpenDayTally)):
        counts[("day", row.stage, row.day)] += row.cases
    return +counts


def drift() -> list[tuple[tuple, int, int]]:
    """(key, kept, recounted) of every summary row that differs from a recount; [] when the
    summary is exact."""
    have, want = kept(), +recount()
    return [
        (key, have[key], want[key])
        for key in sorted(have.keys() | want.keys(), key=str)
        if have[key] != want[key]
    ]


def describe(key: tuple) -> str:
    """A summary row's key in words (``flask dashboards verify``)."""
    if key[0] == "stage":
        return f"cases in {key[2]}, {key[1]}"
    if key[0] == "day":
        return f"open cases in {key[1]} since {key[2]:%Y-%m-%d}"
    _table, kind, month, measure, days = key
    suffix = f", {days} days" if measure == "decided" else ""
    return f"{measure}, {kind}, {month:%Y-%m}{suffix}"


def rebuild() -> None:
    """Replace the summary by a recount (the caller commits)."""
    counted = +recount()
    db.session.execute(delete(StageTally))
    db.session.execute(delete(MonthTally))
    db.session.execute(delete(OpenDayTally))
    stage_rows = [
        {"kind": k[1], "stage": k[2], "cases": n} for k, n in counted.items() if k[0] == "stage"
    ]
    month_rows = [
        {"kind": k[1], "month": k[2], "measure": k[3], "days": k[4], "cases": n}
        for k, n in counted.items()
        if k[0] == "month"
    ]
    day_rows = [
        {"stage": k[1], "day": k[2], "cases": n} for k, n in counted.items() if k[0] == "day"
    ]
    for model, rows in (
        (StageTally, stage_rows),
        (MonthTally, month_rows),
        (OpenDayTally, day_rows),
    ):
        for start in range(0, len(rows), 5_000):
            db.session.execute(insert(model), rows[start : start + 5_000])


# --- reading it ----------------------------------------------------------------------------------


def open_days(today: date) -> list[tuple[str, int, int]]:
    """[(open stage, calendar days in it until ``today``, cases)]."""
    rows = db.session.execute(
        select(OpenDayTally.stage, OpenDayTally.day, OpenDayTally.cases).where(
            OpenDayTally.cases != 0
        )
    )
    return [(stage, (today - day).days, cases) for stage, day, cases in rows]


def stage_counts() -> dict[tuple[str, str], int]:
    """{(stage, kind): cases} now."""
    return {
        (stage, kind): cases
        for kind, stage, cases in db.session.execute(
            select(StageTally.kind, StageTally.stage, StageTally.cases)
        )
    }


def month_totals(measures, since: date | None = None, before: date | None = None, *, by_days=False):
    """Sums of the measures over the months [since, before) (open-ended where None), grouped
    by (kind, month, measure), or by (kind, days) with ``by_days`` (the ``decided``
    histogram): [(kind, month or days, [measure,] cases)]."""
    groups = (
        (MonthTally.kind, MonthTally.days)
        if by_days
        else (MonthTally.kind, MonthTally.month, MonthTally.measure)
    )
    statement = (
        select(*groups, func.sum(MonthTally.cases))
        .where(MonthTally.measure.in_(measures))
        .group_by(*groups)
    )
    if since is not None:
        statement = statement.where(MonthTally.month >= since)
    if before is not None:
        statement = statement.where(MonthTally.month < before)
    return [(*row[:-1], int(row[-1])) for row in db.session.execute(statement) if row[-1]]
