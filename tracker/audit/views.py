"""The global audit log and its chain verification, for supervisors."""

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from tracker import permissions, pipeline
from tracker.audit import export, queries, services
from tracker.audit.forms import AuditFilterForm
from tracker.audit.models import AuditVerification
from tracker.database import begin_read_only
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.readlog import services as readlog

blueprint = Blueprint("audit", __name__, url_prefix="/audit")


@blueprint.before_request
@login_required
def _supervisors_only():
    permissions.require(permissions.can_view_audit_log, current_user)


@blueprint.route("/")
def log():
    """Every audit entry, newest first, filtered by actor, case, action and dates."""
    form = AuditFilterForm(request.args)
    form.validate()
    before = parse_id(request.args.get("before"))
    entries, next_before = queries.AUDIT_LOG.page(
        form.filters(), before, current_app.config["AUDIT_ENTRIES_PER_PAGE"]
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
        abort(400, "The form expired. Reload and retry.")
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
    form = AuditFilterForm(request.form)
    if not FlaskForm().validate_on_submit():
        abort(400, "The form expired. Reload and retry.")
    form.validate()
    filters = form.filters()
    services.record_security_event(
        "audit_exported",
        actor=current_user,
        details={"format": file_format, "filters": form.filter_args()},
    )
    readlog.record_read(
        "audit_export", details={"format": file_format, "filters": form.filter_args()}
    )
    mimetype, stream = EXPORT_FORMATS[file_format]

    def entries():
        # The download may be slow: read in a transaction that takes no write lock.
        begin_read_only(db.session)
        yield from queries.AUDIT_LOG.every(filters)

    body = stream_with_context(stream(entries()))
    filename = f"audit-log.{file_format}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
