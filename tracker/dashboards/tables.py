"""The dashboards' tables (each shown on the page and downloadable as CSV) and charts.

Tables list case numbers, kinds, stages and ages, never a petitioner's name or offense, so a
download is no read of a case's personal data (the case page and its PDF are logged reads).
"""

from flask_babel import gettext as _

from tracker import charts, clock
from tracker.dashboards import queries
from tracker.petitions.fields import KINDS
from tracker.tables import Table
from tracker.workflow import DISPOSITIONS, Stage


def _cut_short(note: str, shown: int, total: int) -> str | None:
    """The note under a list the page cuts short; None when it shows every row."""
    return note if shown < total else None


def _month_label(month) -> str:
    return month.strftime("%Y-%m")


def stage_by_kind() -> Table:
    counts = queries.cases_by_stage_and_kind()
    rows = []
    for stage in Stage:
        values = [counts.get((stage.value, kind), 0) for kind in KINDS]
        rows.append([stage.label, *values, sum(values)])
    totals = [sum(row[i] for row in rows) for i in range(1, len(KINDS) + 2)]
    rows.append([_("All stages"), *totals])
    return Table(
        "stages", _("Cases per stage and kind"), [_("Stage"), *KINDS.values(), _("All")], rows
    )


def months(organization_id: int | None = None) -> Table:
    rows = [
        [_month_label(m.month), m.received, m.decided]
        for m in queries.received_and_decided_per_month(organization_id)
    ]
    return Table(
        "months",
        _("Received and decided per month"),
        [_("Month"), _("Received"), _("Decided")],
        rows,
    )


def months_chart(table: Table) -> charts.BarChart:
    return charts.grouped_bars(
        _("Received and decided per month"),
        [row[0] for row in table.rows],
        [_("Received"), _("Decided")],
        [row[1:] for row in table.rows],
    )


def _spread_rows(spreads) -> list[list]:
    return [[s.label, s.count, s.median, s.p90, s.maximum] for s in spreads]


def days_to_decision() -> Table:
    return Table(
        "days-to-decision",
        _("Days from receipt to decision (decisions of the last twelve months)"),
        [_("Kind"), _("Decisions"), _("Median days"), _("90th percentile"), _("Longest")],
        _spread_rows(queries.days_to_decision()),
    )


def days_in_stage() -> Table:
    return Table(
        "days-in-stage",
        _("Days in the current stage (open cases)"),
        [_("Stage"), _("Cases"), _("Median days"), _("90th percentile"), _("Longest")],
        _spread_rows(queries.days_in_stage()),
    )


def reviewers() -> Table:
    rows = [
        [load.name, load.open_cases, load.oldest_case, clock.days_between(load.oldest_received_at)]
        for load in queries.reviewer_loads()
    ]
    return Table(
        "reviewers",
        _("Open cases per reviewer"),
        [_("Reviewer"), _("Open cases"), _("Oldest case"), _("Its days pending")],
        rows,
    )


def oldest_pending(limit: int | None = queries.LIST_LIMIT, organization_id=None) -> Table:
    total = queries.count_open(organization_id)
    petitions = queries.oldest_pending(limit or max(total, 1), organization_id)
    rows = [
        [p.case_number, p.kind_label, p.stage_enum.label, p.days_pending, p.days_in_stage]
        for p in petitions
    ]
    shown = len(rows)
    return Table(
        "oldest-open" if organization_id else "oldest-pending",
        _("Open cases, oldest first") if organization_id else _("Oldest pending cases"),
        [_("Case"), _("Kind"), _("Stage"), _("Days pending"), _("Days in stage")],
        rows,
        note=_cut_short(
            _(
                "The %(shown)s oldest of %(total)s open cases; the CSV has them all.",
                shown=shown,
                total=total,
            ),
            shown,
            total,
        ),
    )


def overdue(limit: int | None = queries.LIST_LIMIT) -> Table:
    total, items = queries.overdue_items(limit)
    rows = [[i.case_number, i.what, i.due_on.isoformat(), i.days_overdue] for i in items]
    return Table(
        "overdue",
        _("Overdue referrals and information requests"),
        [_("Case"), _("What"), _("Due on"), _("Days overdue")],
        rows,
        note=_cut_short(
            _(
                "The %(shown)s most overdue of %(total)s; the CSV has them all.",
                shown=len(rows),
                total=total,
            ),
            len(rows),
            total,
        ),
    )


def against_recommendation(limit: int | None = queries.LIST_LIMIT) -> Table:
    counts, latest = queries.decisions_against_recommendation(limit)
    rows = [
        [
            item.case_number,
            _("Granted against an unfavorable recommendation")
            if item.decision == "grant"
            else _("Denied against a favorable recommendation"),
            clock.local_date(item.decided_at).isoformat(),
        ]
        for item in latest
    ]
    total = sum(counts.values())
    return Table(
        "against-recommendation",
        _(
            "Decisions against the latest recommendation (last twelve months): "
            "%(grants)s grants, %(denials)s denials",
            grants=counts.get("grant", 0),
            denials=counts.get("deny", 0),
        ),
        [_("Case"), _("Decision"), _("Decided on")],
        rows,
        note=_cut_short(
            _(
                "The latest %(shown)s of %(total)s; the CSV has them all.",
                shown=len(rows),
                total=total,
            ),
            len(rows),
            total,
        ),
    )


def asked_of_organization(organization_id: int, limit: int | None = queries.LIST_LIMIT) -> Table:
    today = clock.today()
    total, asked = queries.open_information_requests(organization_id, limit)
    rows = [
        [
            petition.case_number,
            request.asked,
            request.due_on.isoformat(),
            _("overdue")
            if request.due_on < today
            else _("due in %(days)s days", days=(request.due_on - today).days),
        ]
        for petition, request in asked
    ]
    return Table(
        "asked",
        _("What is asked of you: open information requests"),
        [_("Case"), _("Asked"), _("Due on"), _("When")],
        rows,
        note=_cut_short(
            _(
                "The %(shown)s due soonest of %(total)s; the CSV has them all.",
                shown=len(rows),
                total=total,
            ),
            len(rows),
            total,
        ),
    )


def decisions_this_year(organization_id: int) -> Table:
    counts = queries.decisions_this_year(organization_id)
    decided = [s for s in Stage if s.is_decided]
    rows = [[KINDS[kind], *(counts.get((kind, s.value), 0) for s in decided)] for kind in KINDS]
    return Table(
        "decisions",
        _("Decisions this fiscal year"),
        [_("Kind"), *(_(DISPOSITIONS.get(s.value, s.label)) for s in decided)],
        rows,
    )


#: The tables each dashboard downloads, by name: name → builder for the whole table.
STAFF_TABLES = {
    "stages": stage_by_kind,
    "months": months,
    "days-to-decision": days_to_decision,
    "days-in-stage": days_in_stage,
    "reviewers": reviewers,
    "oldest-pending": lambda: oldest_pending(limit=None),
    "overdue": lambda: overdue(limit=None),
    "against-recommendation": lambda: against_recommendation(limit=None),
}
ORGANIZATION_TABLES = {
    "oldest-open": lambda org: oldest_pending(limit=None, organization_id=org),
    "asked": lambda org: asked_of_organization(org, limit=None),
    "decisions": decisions_this_year,
}
