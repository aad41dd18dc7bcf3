"""Fiscal-year statistics like the Office of the Pardon Attorney's, computed from the audit
history. Reads only.

Decisions written down here (the README's *Statistics* section repeats them):

- **Fiscal year N** runs from October 1 of N−1 to September 30 of N, both days whole, in the
  configured ``DISPLAY_TIMEZONE`` (America/New_York by default, where the office is): a case
  submitted at 23:30 on September 30 Eastern time belongs to fiscal year N even though it is
  October 1 in UTC.
- Every count is of **audit entries** of cases (``tracker.audit``), kept per month and kind
  in the summary written with each entry (``tracker.dashboards.summary``: the same rules,
  ``history_measure``, and a recount to check it), so the numbers never
  change when a case later moves on: *received* counts ``submit`` entries (an import of
  100 rows is 100 receipts); *granted*, *denied* and the two closure columns count entries
  that moved a case into that stage, whatever action did (a grant, a clemency act);
  *reopened* counts entries that moved a finished case back to an open stage — a reopened
  case is counted there, never as a new receipt.
- A closure's column follows the disposition it recorded: ``closed_without_action``, or
  ``closed_other`` for withdrawn, deceased, moot and ineligible.
- A case is counted under its **kind today** (the kind can be corrected while the case is
  open; counting it under its kind at each moment would move receipts between columns).
- **pending_start** is everything received before the year, less everything finished
  before it, plus everything reopened before it; **pending_end** the same at the year's end.
  So ``pending_end = pending_start + received − granted − denied − closed_without_action −
  closed_other + reopened`` for each kind and year, by construction and checked by a test.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select

from tracker import charts, clock
from tracker.audit.models import AuditEntry
from tracker.dashboards import summary
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.petitions.fields import KINDS
from tracker.petitions.models import Petition
from tracker.tables import Table
from tracker.workflow import DECIDED_STAGES, PENDING_STAGES

#: The columns of the table, in the order the office publishes them.
COLUMNS = (
    "pending_start",
    "received",
    "granted",
    "denied",
    "closed_without_action",
    "closed_other",
    "reopened",
    "pending_end",
)
#: What each column is called on pages and in the CSV header's second line.
COLUMN_LABELS = {
    "pending_start": "Pending at the start",
    "received": "Received",
    "granted": "Granted",
    "denied": "Denied",
    "closed_without_action": "Closed without presidential action",
    "closed_other": "Other closures (withdrawn, deceased, moot, ineligible)",
    "reopened": "Reopened",
    "pending_end": "Pending at the end",
}
#: The decisions drawn per month on the chart.
MONTHLY_COLUMNS = ("granted", "denied", "closed")
#: The first fiscal year anyone may ask for, and how far ahead of today.
FIRST_FISCAL_YEAR = 1900
YEARS_AHEAD = 1

_DECIDED = tuple(s.value for s in DECIDED_STAGES)
_OPEN = tuple(s.value for s in PENDING_STAGES)


def fiscal_year_of(day: date) -> int:
    """The fiscal year a calendar day belongs to (October starts the next one)."""
    return day.year + 1 if day.month >= 10 else day.year


def current_fiscal_year() -> int:
    return fiscal_year_of(clock.today())


def fiscal_year_bounds(fiscal_year: int) -> tuple[datetime, datetime]:
    """[start, end) of the fiscal year as UTC instants: midnight of October 1 of N−1 and of
    October 1 of N in the display time zone."""
    return (
        clock.start_of(date(fiscal_year - 1, 10, 1)),
        clock.start_of(date(fiscal_year, 10, 1)),
    )


def month_starts(fiscal_year: int) -> list[date]:
    """The first day of each of the year's twelve months, October first."""
    return [
        date(fiscal_year - 1 if month >= 10 else fiscal_year, month, 1)
        for month in (*range(10, 13), *range(1, 10))
    ]


def latest_fiscal_year() -> int:
    """The last fiscal year one may ask about: the current one plus YEARS_AHEAD."""
    return current_fiscal_year() + YEARS_AHEAD


@dataclass(frozen=True)
class YearCounts:
    fiscal_year: int
    #: kind → column → count, every kind and column present.
    kinds: dict[str, dict[str, int]]

    def as_json(self) -> dict:
        return {"fiscal_year": self.fiscal_year, "kinds": self.kinds}


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


#: Each column's measure in the summary (``tracker.dashboards.summary``).
MEASURE_OF = {
    "received": "submitted",
    "granted": "granted",
    "denied": "denied",
    "closed_without_action": "closed_without_action",
    "closed_other": "closed_other",
    "reopened": "reopened",
}
COLUMN_OF = {measure: column for column, measure in MEASURE_OF.items()}
FINISHED = ("granted", "denied", "closed_without_action", "closed_other")


def _first_months(fiscal_year: int) -> tuple[date, date]:
    """The first month of the year and of the next (the summary's months are local)."""
    return date(fiscal_year - 1, 10, 1), date(fiscal_year, 10, 1)


def year_counts(fiscal_year: int) -> YearCounts:
    """The office's table for one fiscal year, per kind (see the module's docstring), read
    from the monthly counts of the audit entries kept in the summary: the year's months for
    the columns, every month before it for ``pending_start``."""
    first, after = _first_months(fiscal_year)
    kinds = {kind: dict.fromkeys(COLUMNS, 0) for kind in KINDS}
    for kind, month, measure, cases in summary.month_totals(MEASURE_OF.values(), before=after):
        column = COLUMN_OF[measure]
        if month >= first:
            kinds[kind][column] += cases
        else:
            sign = -1 if column in FINISHED else 1
            kinds[kind]["pending_start"] += sign * cases
    for counts in kinds.values():
        counts["pending_end"] = (
            counts["pending_start"]
            + counts["received"]
            + counts["reopened"]
            - sum(counts[c] for c in FINISHED)
        )
    return YearCounts(fiscal_year, kinds)


def pending_at(moment: datetime) -> dict[str, int]:
    """Cases pending at a moment per kind, from the history alone (the invariant's check)."""
    return {kind: 0 for kind in KINDS} | _pending_before(moment)


@dataclass(frozen=True)
class MonthRow:
    month: date
    kind: str
    granted: int
    denied: int
    closed: int


def decisions_per_month(fiscal_year: int) -> list[MonthRow]:
    """Granted, denied and closed per month (display time zone) and kind, October first."""
    first, after = _first_months(fiscal_year)
    months = month_starts(fiscal_year)
    counts = {(m, k): dict.fromkeys(MONTHLY_COLUMNS, 0) for m in months for k in KINDS}
    finished = [MEASURE_OF[c] for c in FINISHED]
    for kind, month, measure, cases in summary.month_totals(finished, first, after):
        column = COLUMN_OF[measure]
        counts[(month, kind)]["closed" if column.startswith("closed") else column] += cases
    return [MonthRow(m, k, **counts[(m, k)]) for m in months for k in KINDS]


def parse_fiscal_year(raw: str | None, *, empty_is_current: bool = True) -> int:
    """The fiscal year a request names (the current one when it names none); ValidationFailed
    (422) naming ``fiscal_year`` for anything but a whole year from 1900 to next year. The
    API passes ``empty_is_current=False``: there ``fiscal_year=`` is a mistake, not a default
    (a page's form may send the empty choice)."""
    if raw is None or (raw == "" and empty_is_current):
        return current_fiscal_year()
    latest = latest_fiscal_year()
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        raise ValidationFailed(
            {
                "fiscal_year": _(
                    "A fiscal year is a year such as %(year)s.", year=current_fiscal_year()
                )
            }
        )
    year = int(text)
    if not FIRST_FISCAL_YEAR <= year <= latest:
        raise ValidationFailed(
            {
                "fiscal_year": _(
                    "A fiscal year from %(first)s to %(last)s.",
                    first=FIRST_FISCAL_YEAR,
                    last=latest,
                )
            }
        )
    return year


def year_table(counts: YearCounts) -> Table:
    """The year's counts as a table: one row per kind, the office's columns, and a total."""
    columns = [_("Kind")] + [_(COLUMN_LABELS[name]) for name in COLUMNS]
    rows = [[KINDS[kind], *(counts.kinds[kind][name] for name in COLUMNS)] for kind in counts.kinds]
    rows.append(
        [_("Total"), *(sum(counts.kinds[k][name] for k in counts.kinds) for name in COLUMNS)]
    )
    return Table("fiscal-year", _("Fiscal year %(year)s", year=counts.fiscal_year), columns, rows)


def month_table(fiscal_year: int, months: list[MonthRow]) -> Table:
    columns = [_("Month"), _("Kind"), _("Granted"), _("Denied"), _("Closed")]
    rows = [
        [row.month.strftime("%Y-%m"), KINDS[row.kind], row.granted, row.denied, row.closed]
        for row in months
    ]
    return Table("decisions-per-month", _("Decisions per month"), columns, rows)


def month_chart(fiscal_year: int, months: list[MonthRow]) -> charts.BarChart:
    """Decisions per month, both kinds together: granted, denied, closed."""
    labels = [m.strftime("%b %Y") for m in month_starts(fiscal_year)]
    totals = {}
    for row in months:
        bucket = totals.setdefault(row.month, [0, 0, 0])
        bucket[0] += row.granted
        bucket[1] += row.denied
        bucket[2] += row.closed
    return charts.grouped_bars(
        _("Decisions per month, fiscal year %(year)s", year=fiscal_year),
        labels,
        [_("Granted"), _("Denied"), _("Closed")],
        [totals[m] for m in month_starts(fiscal_year)],
    )


def public_json(fiscal_year: int) -> dict:
    """What the public endpoint answers: the year's counts per kind, and the clemency acts
    signed in the year (title, date, relief, how many cases: ``public_acts``) — counts only."""
    from tracker.acts.services import public_acts

    return year_counts(fiscal_year).as_json() | {"acts": public_acts(fiscal_year)}
