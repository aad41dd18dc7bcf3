"""The dashboard page: the office's for reviewers and supervisors, the organization's for
advocates (their own organization's cases only), each table downloadable as CSV. Reads only."""

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from tracker import permissions
from tracker.dashboards import tables
from tracker.tables import csv_response

blueprint = Blueprint("dashboards", __name__)


@blueprint.route("/dashboard")
@login_required
def dashboard():
    """Staff: cases per stage and kind, received and decided per month (a chart and its
    table), days to decision and in each stage, each reviewer's open cases, the oldest
    pending cases, what is overdue, decisions against recommendations. Advocates: their
    organization's open cases with their ages, what is asked of them, this year's decisions."""
    permissions.require(permissions.can_view_dashboard, current_user)
    if permissions.can_view_staff_dashboard(current_user):
        months = tables.months()
        return render_template(
            "dashboards/staff.html",
            stages=tables.stage_by_kind(),
            months=months,
            chart=tables.months_chart(months),
            days_to_decision=tables.days_to_decision(),
            days_in_stage=tables.days_in_stage(),
            reviewers=tables.reviewers(),
            oldest=tables.oldest_pending(),
            overdue=tables.overdue(),
            against=tables.against_recommendation(),
        )
    organization_id = current_user.organization_id
    return render_template(
        "dashboards/organization.html",
        open_cases=tables.oldest_pending(organization_id=organization_id),
        asked=tables.asked_of_organization(organization_id),
        decisions=tables.decisions_this_year(organization_id),
    )


@blueprint.route("/dashboard/<name>.csv")
@login_required
def download(name):
    """One of the user's dashboard tables as CSV, whole (404 for a table not on theirs)."""
    permissions.require(permissions.can_view_dashboard, current_user)
    if permissions.can_view_staff_dashboard(current_user):
        build = tables.STAFF_TABLES.get(name)
        table = build() if build else None
    else:
        build = tables.ORGANIZATION_TABLES.get(name)
        table = build(current_user.organization_id) if build else None
    if table is None:
        abort(404, f"No table {name} on your dashboard.")
    return csv_response(table, f"dashboard-{name}.csv")
