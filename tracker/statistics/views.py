"""The statistics pages: the staff page (the fiscal-year table and decisions per month) and the
public page (the yearly counts only, no sign-in), each table downloadable as CSV. Reads only."""

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from tracker import permissions
from tracker.errors import ValidationFailed
from tracker.statistics import queries
from tracker.tables import csv_response

blueprint = Blueprint("statistics", __name__)


def _fiscal_year() -> tuple[int, str | None]:
    """The year asked for, or the current one with the message saying why not."""
    try:
        return queries.parse_fiscal_year(request.args.get("fiscal_year")), None
    except ValidationFailed as error:
        return queries.current_fiscal_year(), error.errors["fiscal_year"]


def _year_choices() -> list[int]:
    return list(range(queries.latest_fiscal_year(), queries.latest_fiscal_year() - 15, -1))


def _render(template: str, **context):
    year, error = _fiscal_year()
    counts = queries.year_counts(year)
    page = render_template(
        template,
        fiscal_year=year,
        error=error,
        asked=request.args.get("fiscal_year", ""),
        years=_year_choices(),
        bounds=queries.fiscal_year_bounds(year),
        table=queries.year_table(counts),
        **context,
    )
    return page, 422 if error else 200


@blueprint.route("/statistics")
@login_required
def staff():
    """The fiscal-year table per kind and a chart of decisions per month (staff)."""
    permissions.require(permissions.can_view_statistics, current_user)
    year, _error = _fiscal_year()
    months = queries.decisions_per_month(year)
    return _render(
        "statistics/staff.html",
        chart=queries.month_chart(year, months),
        months=queries.month_table(year, months),
    )


@blueprint.route("/statistics/<any('fiscal-year', 'decisions-per-month'):table>.csv")
@login_required
def staff_csv(table):
    """One of the staff page's tables as CSV (422 for a year that is not one)."""
    permissions.require(permissions.can_view_statistics, current_user)
    year = queries.parse_fiscal_year(request.args.get("fiscal_year"))
    if table == "fiscal-year":
        rows = queries.year_table(queries.year_counts(year))
    else:
        rows = queries.month_table(year, queries.decisions_per_month(year))
    return csv_response(rows, f"{table}-{year}.csv")


@blueprint.route("/public/statistics")
def public():
    """The public page: the yearly counts per kind, counts only (no name, case number or
    organization); no sign-in, rate-limited per address like the other anonymous pages."""
    from tracker.acts.services import public_acts

    return _render("statistics/public.html", acts=public_acts(_fiscal_year()[0]))


@blueprint.route("/public/statistics.csv")
def public_csv():
    """The public table as CSV."""
    year = queries.parse_fiscal_year(request.args.get("fiscal_year"))
    return csv_response(queries.year_table(queries.year_counts(year)), f"statistics-{year}.csv")
