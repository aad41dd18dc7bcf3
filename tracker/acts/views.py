"""Pages of clemency acts (staff): the list, drafting, adding cases by the queue's filters or
by register numbers, the preview with the recording's confirmation, the act's page and its
CSV. Thin, as every view: parse, call one service, render or redirect; the pipeline commits.

An advocate is refused every page here (403, as the other staff pages refuse them); a
reviewer reads acts, a supervisor drafts and records them.
"""

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker import listing, permissions, pipeline
from tracker.acts import services
from tracker.acts.forms import ActFilterForm, ActForm, RecordForm, RegisterNumbersForm
from tracker.errors import BulkRefused, ValidationFailed
from tracker.forms import apply_errors, parse_id
from tracker.petitions import filters as queue_filters
from tracker.readlog import services as readlog

blueprint = Blueprint("acts", __name__, url_prefix="/acts")
#: Cases listed on one page of an act (the CSV has them all).
CASES_PER_PAGE = 100
EXPORT_COLUMNS = ("case_number", "register_number", "petitioner_name", "kind", "stage", "relief")


@blueprint.before_request
@login_required
def _staff_only():
    permissions.require(permissions.can_view_acts, current_user)


def _act(act_id: int):
    return services.get_act(current_user, act_id)


@blueprint.get("")
def index():
    """Every act, the latest signed first."""
    return render_template("acts/index.html", acts=services.list_acts(current_user))


@blueprint.route("/new", methods=["GET", "POST"])
@pipeline.writes
def new():
    """A supervisor drafts an act; bad fields re-render the form (422) as typed."""
    permissions.require(permissions.can_manage_acts, current_user)
    form = ActForm()
    if request.method == "POST" and form.validate():
        values = {name: form[name].data for name in services.ACT_FIELDS}
        try:
            act = services.draft_act(current_user, values)
        except ValidationFailed as error:
            pipeline.abandon()
            apply_errors(form, error)
        else:
            flash(_("Act drafted: now add its cases."), "success")
            return redirect(url_for("acts.show", act_id=act.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("acts/new.html", form=form), status


def _render_act(act, status=200, *, filter_form=None, numbers_form=None, refusal=None):
    page = parse_id(request.args.get("page")) or 1
    cases = services.act_cases(act, limit=CASES_PER_PAGE, offset=(page - 1) * CASES_PER_PAGE)
    total = services.case_count(act)
    return (
        render_template(
            "acts/show.html",
            act=act,
            cases=cases,
            total=total,
            page=page,
            pages=max(1, -(-total // CASES_PER_PAGE)),
            filter_form=filter_form or ActFilterForm(formdata=None),
            numbers_form=numbers_form or RegisterNumbersForm(formdata=None),
            refusal=refusal,
        ),
        status,
    )


@blueprint.get("/<int:act_id>")
def show(act_id):
    """The act, its cases (a page at a time) and, while a draft, the forms that add cases."""
    return _render_act(_act(act_id))


@blueprint.post("/<int:act_id>/cases")
@pipeline.writes
def add_by_filter(act_id):
    """Add the cases the queue's filters select; a bad filter re-renders the page (422)."""
    act = _act(act_id)
    permissions.require(permissions.can_manage_acts, current_user)
    form = ActFilterForm()
    if not form.validate():
        return _render_act(act, 422, filter_form=form)
    try:
        added = services.add_cases_by_filter(act, current_user, request.form, queue_filters.WEB)
    except ValidationFailed as error:
        pipeline.abandon()
        apply_errors(form, error)
        return _render_act(act, 422, filter_form=form)
    flash(_("%(count)d cases added to the act.", count=added), "success")
    return redirect(url_for("acts.show", act_id=act.id))


def _pasted_or_uploaded(form: RegisterNumbersForm) -> list[services.RegisterNumber]:
    upload = form.file.data
    if upload is not None and getattr(upload, "filename", ""):
        return services.read_register_csv(upload.read())
    return services.read_register_csv(form.numbers.data or "")


@blueprint.post("/<int:act_id>/register-numbers")
@pipeline.writes
def add_by_register_numbers(act_id):
    """Add cases by register numbers (a CSV file, or pasted): all or nothing; each bad one
    is listed by line and value (422)."""
    act = _act(act_id)
    permissions.require(permissions.can_manage_acts, current_user)
    form = RegisterNumbersForm()
    if not form.validate():
        return _render_act(act, 422, numbers_form=form)
    try:
        numbers = _pasted_or_uploaded(form)
        added = services.add_cases_by_register_numbers(act, current_user, numbers)
    except BulkRefused as refusal:
        pipeline.abandon()
        return _render_act(act, refusal.status, numbers_form=form, refusal=refusal)
    flash(_("%(count)d cases added to the act.", count=added), "success")
    return redirect(url_for("acts.show", act_id=act.id))


@blueprint.get("/<int:act_id>/preview")
def preview(act_id):
    """What recording would grant and what not and why, with the recording's confirmation."""
    act = _act(act_id)
    result = services.preview(act, current_user)
    form = RecordForm(formdata=None, expected_included=str(len(result.included)))
    return render_template(
        "acts/preview.html",
        act=act,
        preview=result,
        form=form,
        reasons=services.REASON_LABELS,
    )


@blueprint.post("/<int:act_id>/record")
@pipeline.writes
def record(act_id):
    """Record the act as confirmed on the preview: every included case granted at once."""
    act = _act(act_id)
    permissions.require(permissions.can_manage_acts, current_user)
    form = RecordForm()
    if not form.validate():
        flash(_("The confirmation expired: check the preview again."), "danger")
        return redirect(url_for("acts.preview", act_id=act.id))
    expected = parse_id(form.expected_included.data)
    decided = services.record_act(act, current_user, expected)
    flash(_("The act is recorded: %(count)d cases granted.", count=len(decided)), "success")
    return redirect(url_for("acts.show", act_id=act.id))


@blueprint.get("/<int:act_id>/cases.csv")
def export(act_id):
    """The act's cases as CSV (each read is logged as a case export)."""
    act = _act(act_id)
    cases = services.act_cases(act)
    readlog.record_reads("case_export", cases, details={"act_id": act.id})
    records = ({name: getattr(petition, name) for name in EXPORT_COLUMNS} for petition in cases)
    return Response(
        "".join(listing.stream_csv(records, EXPORT_COLUMNS)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="act-{act.id}-cases.csv"'},
    )
