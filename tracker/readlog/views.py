"""The access log (who read what) and the unusual access report, for supervisors."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    render_template,
    request,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from tracker import listing, permissions
from tracker.audit.services import format_timestamp
from tracker.readlog import queries, services
from tracker.readlog.forms import AccessLogFilterForm, UnusualAccessForm

blueprint = Blueprint("readlog", __name__, url_prefix="/access-log")

EXPORT_COLUMNS = (
    "id",
    "created_at",
    "user",
    "role",
    "interface",
    "kind",
    "case_number",
    "document_id",
    "reader_assigned",
    "ip_address",
    "details",
)


@blueprint.before_request
@login_required
def _supervisors_only():
    permissions.require(permissions.can_view_access_log, current_user)


@blueprint.app_template_global()
def case_readers(petition):
    """(readers, total reads) of a case, for the supervisors' section of its page."""
    return queries.readers_of(petition, current_app.config["READ_LOG_READERS_SHOWN"])


@blueprint.route("/")
def access_log():
    """Every read, newest first, filtered by reader, case, interface and dates."""
    form, entries, next_before = listing.requested_page(
        queries.ACCESS_LOG, AccessLogFilterForm, current_app.config["READ_LOG_ENTRIES_PER_PAGE"]
    )
    return render_template(
        "readlog/log.html",
        form=form,
        entries=entries,
        next_before=next_before,
        filter_args=form.filter_args(),
        export_form=FlaskForm(),
        last_sealed=services.last_digested_day(),
    )


def export_record(entry) -> dict:
    """A read as exported: the reader by e-mail, the case by its number, times in UTC."""
    return {
        "id": entry.id,
        "created_at": format_timestamp(entry.created_at),
        "user": entry.user.email if entry.user else None,
        "role": entry.user.role if entry.user else None,
        "interface": entry.interface,
        "kind": entry.kind,
        "case_number": entry.petition.case_number if entry.petition else None,
        "document_id": entry.document_id,
        "reader_assigned": entry.reader_assigned,
        "ip_address": entry.ip_address,
        "details": entry.details,
    }


def stream_csv(entries):
    return listing.stream_csv(map(export_record, entries), EXPORT_COLUMNS)


@blueprint.route("/export.csv", methods=["POST"])
def export_access_log():
    """Download the filtered access log as CSV, streamed; the export is itself a logged read.

    A POST with a CSRF token, as the audit export: another site cannot make a supervisor's
    browser export (and log) on its behalf.
    """
    form = listing.export_filters(AccessLogFilterForm)
    services.record_read("access_log_export", details={"filters": form.filter_args()})
    return listing.export_response(
        queries.ACCESS_LOG, form.filters(), stream_csv, "text/csv; charset=utf-8", "access-log.csv"
    )


@blueprint.route("/unusual")
def unusual_access():
    """Users who read many more cases in a day than their role's median, and reviewers'
    reads of cases not assigned to them."""
    form = UnusualAccessForm(request.args)
    form.validate()
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    day = form.day.data or datetime.now(zone).date()
    report = queries.unusual_access(day, current_app.config["READ_LOG_UNUSUAL_FACTOR"])
    return render_template("readlog/unusual.html", form=form, report=report)
