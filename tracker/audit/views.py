"""The global audit log and its chain verification, for supervisors."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from tracker import listing, permissions, pipeline
from tracker.audit import export, queries, services
from tracker.audit.forms import AuditFilterForm
from tracker.audit.models import AuditVerification
from tracker.extensions import db
from tracker.readlog import services as readlog

blueprint = Blueprint("audit", __name__, url_prefix="/audit")


@blueprint.before_request
@login_required
def _supervisors_only():
    permissions.require(permissions.can_view_audit_log, current_user)


@blueprint.route("/")
def log():
    """Every audit entry, newest first, filtered by actor, case, action and dates."""
    form, entries, next_before = listing.requested_page(
        queries.AUDIT_LOG, AuditFilterForm, current_app.config["AUDIT_ENTRIES_PER_PAGE"]
    )
    last_check = db.session.scalar(
        select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
    )
    return render_template(
        "audit/log.html",
        form=form,
        entries=entries,
        next_before=next_before,
        filter_args=form.filter_args(),
        last_check=last_check,
        verify_form=FlaskForm(),
        web_verify_limit=current_app.config["AUDIT_WEB_VERIFY_LIMIT"],
    )


@blueprint.route("/verify", methods=["POST"])
@pipeline.writes
def verify():
    """Check the newest entries of the chain now and keep the result."""
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    result = services.verify_chain(recent=current_app.config["AUDIT_WEB_VERIFY_LIMIT"])
    services.save_verification(result, scope="recent", verified_by=current_user)
    flash(result.message, "success" if result.intact else "danger")
    return redirect(url_for("audit.log"))


EXPORT_FORMATS = {
    "csv": ("text/csv; charset=utf-8", export.stream_csv),
    "jsonl": ("application/x-ndjson; charset=utf-8", export.stream_jsonl),
}


@blueprint.route("/export.<any(csv, jsonl):file_format>", methods=["POST"])
@pipeline.writes
def export_log(file_format):
    """Download the filtered log, streamed; the export itself is audited first.

    A POST (with a CSRF token) because an export is recorded: no write on a GET.
    """
    form = listing.export_filters(AuditFilterForm)
    services.record_security_event(
        "audit_exported",
        actor=current_user,
        details={"format": file_format, "filters": form.filter_args()},
    )
    readlog.record_read(
        "audit_export", details={"format": file_format, "filters": form.filter_args()}
    )
    mimetype, stream = EXPORT_FORMATS[file_format]
    return listing.export_response(
        queries.AUDIT_LOG, form.filters(), stream, mimetype, f"audit-log.{file_format}"
    )
