"""The access log (who read what) and the unusual access report, for supervisors."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from tracker import listing, permissions
from tracker.audit.services import format_timestamp
from tracker.database import begin_read_only
from tracker.extensions import db
from tracker.forms import parse_id
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
    form = AccessLogFilterForm(request.args)
    form.validate()
    before = parse_id(request.args.get("before"))
    entries, next_before = queries.ACCESS_LOG.page(
        form.filters(), before, current_app.config["READ_LOG_ENTRIES_PER_PAGE"]
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


@blueprint.route("/export.csv", methods=["POST"])
def export_access_log():
    """Download the filtered access log as CSV, streamed; the export is itself a logged read.

    A POST with a CSRF token, as the audit export: another site cannot make a supervisor's
    browser export (and log) on its behalf.
    """
    form = AccessLogFilterForm(request.form)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload and retry.")
    form.validate()
    filters = form.filters()
    services.record_read("access_log_export", details={"filters": form.filter_args()})

    def entries():
        begin_read_only(db.session)
        yield from queries.ACCESS_LOG.every(filters)

    return Response(
        stream_with_context(listing.stream_csv(map(export_record, entries()), EXPORT_COLUMNS)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="access-log.csv"'},
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
