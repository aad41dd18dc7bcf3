"""Pages for many petitions at once: an advocate's CSV import, and staff's bulk decisions.

A bulk decision takes three steps: the queue (tick cases, or "all N matching this filter";
pick an action and a reason), a confirmation page that fixes the exact cases and the
versions they had, and the apply step, which decides them all or none. A refusal at either
step returns to the queue as the user left it: the same filters and page, the cases still
ticked, the action and reason kept, and the cases that stopped it marked.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired

from tracker import permissions, pipeline
from tracker.errors import BulkRefused, CasesChanged, ValidationFailed
from tracker.extensions import db
from tracker.petitions import filters as queue_filters
from tracker.petitions import importing, queries, services
from tracker.petitions.fields import CASE_NUMBER_FORMAT, FIELDS, REASON_MAX_LENGTH
from tracker.petitions.forms import OutcomeFields, limited
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome, checked_outcome, parse_remission, relief_refusal
from tracker.petitions.views import position_args, render_queue
from tracker.readlog import services as readlog
from tracker.workflow import (
    TRANSITIONS_BY_NAME,
    Stage,
    WrongStage,
    check_move,
    check_role,
    transitions_for,
)

blueprint = Blueprint("bulk", __name__)

#: How many of the selected cases the confirmation page lists by name.
LISTED_ON_CONFIRMATION = 200
SELECTION_ITEM = re.compile(rf"({CASE_NUMBER_FORMAT}):([0-9]{{1,9}})")


def bulk_actions(user) -> list:
    """The transitions the user's role may take on some case: the bulk action choices."""
    return transitions_for(user.role_enum)


@blueprint.app_context_processor
def _template_helpers():
    return {"bulk_actions": bulk_actions, "XLSX_MEDIA_TYPE": importing.XLSX_MEDIA_TYPE}


# --- forms ----------------------------------------------------------------------------------------


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV or Excel (.xlsx) file"), validators=[FileRequired(_l("Choose the file."))]
    )


# The queue's filters and page travel through the bulk steps as the queue's own query
# names (hidden fields written from the parsed filters), and are read back by the same parser.


class BulkSelectionForm(OutcomeFields, FlaskForm):
    """Posted from the queue: the ticked cases (or all matching), one action, one reason,
    and what a close or grant records (one disposition, or one relief and terms, for all)."""

    case_numbers = SelectMultipleField(validate_choice=False)
    all_matching = BooleanField()
    action = SelectField(_l("Action"), validate_choice=False, validators=[DataRequired()])
    reason = TextAreaField(_l("Reason"), validators=[limited(REASON_MAX_LENGTH)])


class BulkApplyForm(FlaskForm):
    """Posted from the confirmation: the exact cases and versions, the action, the reason."""

    action = HiddenField(validators=[DataRequired()])
    reason = HiddenField(validators=[limited(REASON_MAX_LENGTH)])
    #: "CP-2026-000001:3 CP-2026-000002:1 …": each case and the version it had when confirmed.
    selection = HiddenField(validators=[DataRequired()])
    #: Whether the user chose "all matching", to show it again if the decision is refused.
    all_matching = HiddenField()
    #: The outcome confirmed (checked again by the service when applied).
    disposition = HiddenField()
    relief = HiddenField()
    commuted_sentence = HiddenField()
    new_release_date = HiddenField()
    remission_amount = HiddenField()
    terms = HiddenField()

    def outcome(self) -> Outcome | None:
        """The confirmed outcome, or None when a hidden value was tampered with."""
        try:
            release = self.new_release_date.data
            return Outcome(
                disposition=self.disposition.data or None,
                relief=self.relief.data or None,
                commuted_sentence=self.commuted_sentence.data or None,
                new_release_date=date.fromisoformat(release) if release else None,
                remission_amount=parse_remission(self.remission_amount.data),
                terms=self.terms.data or None,
            )
        except ValueError:
            return None

    def expected_versions(self) -> dict[str, int] | None:
        versions = {}
        for item in self.selection.data.split():
            match = SELECTION_ITEM.fullmatch(item)
            if match is None:
                return None
            versions[match[1]] = int(match[2])
        return versions


@dataclass
class BulkSelection:
    """A refused bulk decision as the queue shows it again."""

    message: str
    case_numbers: frozenset[str] = frozenset()
    all_matching: bool = False
    action: str = ""
    reason: str = ""
    #: case number → why it stopped the action
    offenders: dict[str, str] = field(default_factory=dict)
    #: The disposition, relief and terms as typed (OUTCOME_NAMES → text), shown again too.
    outcome: dict[str, str] = field(default_factory=dict)


#: The form names of what a close or grant records, carried from the queue to the apply step.
OUTCOME_NAMES = (
    "disposition",
    "relief",
    "commuted_sentence",
    "new_release_date",
    "remission_amount",
    "terms",
)


def _typed_outcome() -> dict[str, str]:
    """The outcome's values as posted (the queue's fields or the confirmation's hidden ones)."""
    return {name: request.form.get(name, "") for name in OUTCOME_NAMES}


# --- import ---------------------------------------------------------------------------------------


@blueprint.route("/petitions/import", methods=["GET", "POST"])
@login_required
@pipeline.writes
def import_petitions():
    """An advocate uploads a CSV of petitions: every row is imported, or none and why."""
    permissions.require(permissions.can_submit_petition, current_user)
    form = ImportForm()
    refusal = None
    if form.validate_on_submit():
        try:
            rows = importing.read_file(form.file.data.read())
            case_numbers = services.import_petitions(current_user, rows)
        except BulkRefused as error:
            refusal = error
        else:
            flash(
                ngettext(
                    "Imported %(num)d petition (%(first)s to %(last)s).",
                    "Imported %(num)d petitions (%(first)s to %(last)s).",
                    len(case_numbers),
                    first=case_numbers[0],
                    last=case_numbers[-1],
                ),
                "success",
            )
            return redirect(url_for("petitions.queue", sort="newest"))
    status = 422 if refusal or form.errors else 200
    return render_template(
        "petitions/import.html",
        form=form,
        refusal=refusal,
        columns=[(field.name, importing.template_help(field)) for field in FIELDS],
        max_rows=importing.MAX_IMPORT_ROWS,
    ), status


@blueprint.route("/petitions/import/template.csv")
@login_required
def import_template():
    """The import's CSV template: every column, a help row in the user's language (skipped
    on import) and one example row (refused if imported unchanged)."""
    permissions.require(permissions.can_submit_petition, current_user)
    return Response(
        importing.template_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="petitions-template.csv"'},
    )


# --- bulk decisions -------------------------------------------------------------------------------


def _refuse_nul(form: FlaskForm) -> None:
    """No database text can hold NUL: a form carrying one is malformed (400), not a 500."""
    for form_field in form:
        values = form_field.data if isinstance(form_field.data, list) else [form_field.data]
        if any(isinstance(value, str) and "\x00" in value for value in values):
            abort(400, _("The form contains a NUL character."))


def _posted_filters() -> queue_filters.QueueFilters | None:
    """The queue filters the bulk form carried, read by the queue's parser (None if invalid:
    only a hand-made request has them so, and the queue page then names the problem)."""
    try:
        return queue_filters.parse(request.form, current_user, queue_filters.WEB)
    except ValidationFailed:
        return None


def _back_to_selection(form: BulkSelectionForm, message: str, *, offenders=(), status=422):
    """The queue as the user left it, the selection kept, with why it was refused."""
    selection = BulkSelection(
        message=message,
        case_numbers=frozenset(form.case_numbers.data or ()),
        all_matching=bool(form.all_matching.data),
        action=form.action.data or "",
        reason=form.reason.data or "",
        offenders={offender["case_number"]: offender["message"] for offender in offenders},
        outcome=_typed_outcome(),
    )
    return render_queue(request.form, selection=selection, status=status)


def _selected_rows(form: BulkSelectionForm, filters: queue_filters.QueueFilters):
    """The chosen cases with the version and stage each has now, in queue order."""
    columns = (
        Petition.case_number,
        Petition.version,
        Petition.stage,
        Petition.petitioner_name,
        Petition.id,  # id and assignee: for the read log
        Petition.assignee_id,
        Petition.kind,  # whether the relief fits the case
    )
    if form.all_matching.data:
        statement = queries.queue_query(current_user, filters).with_only_columns(*columns)
    else:
        statement = (
            queries.visible_petitions(current_user)
            .with_only_columns(*columns)
            .where(Petition.case_number.in_(form.case_numbers.data))
            .order_by(Petition.created_at, Petition.id)
        )
    return db.session.execute(statement.limit(services.MAX_BULK_DECISIONS + 1)).all()


def _preview_refusals(transition, rows, outcome: Outcome | None = None) -> list[dict]:
    """Cases that could not take the action as they are now (the apply step re-checks),
    a relief that does not fit a case's kind too."""
    refusals = []
    for row in rows:
        try:
            check_move(transition, current_user.role_enum, Stage(row.stage))
        except WrongStage as error:
            refusals.append({"case_number": row.case_number, "message": error.message})
            continue
        message = relief_refusal(outcome, row.case_number, row.kind) if outcome else None
        if message is not None:
            refusals.append({"case_number": row.case_number, "message": message})
    return refusals


def _selection_problem(form: BulkSelectionForm, transition) -> str | None:
    """What is wrong with the request as posted, before looking at the cases."""
    if transition.reason_required and not (form.reason.data or "").strip():
        return f"{transition.label} needs a written reason."
    if len(form.case_numbers.data or ()) > services.MAX_BULK_DECISIONS:
        return f"At most {services.MAX_BULK_DECISIONS} cases at once: narrow the selection."
    return None


def _rows_problem(rows) -> str | None:
    if not rows:
        return "Select at least one case (or all matching the filter)."
    if len(rows) > services.MAX_BULK_DECISIONS:
        return f"At most {services.MAX_BULK_DECISIONS} cases at once: narrow the filter."
    return None


def _outcome_data(outcome: Outcome | None) -> dict:
    """The outcome as the apply form's hidden values."""
    if outcome is None:
        return {}
    return {
        "disposition": outcome.disposition or "",
        "relief": outcome.relief or "",
        "commuted_sentence": outcome.commuted_sentence or "",
        "new_release_date": outcome.new_release_date.isoformat()
        if outcome.new_release_date
        else "",
        "remission_amount": str(outcome.remission_amount or ""),
        "terms": outcome.terms or "",
    }


def _requested_transition(form: BulkSelectionForm):
    """The action chosen; 403 for one the user's role never takes."""
    transition = TRANSITIONS_BY_NAME.get(form.action.data)
    if transition is None:
        abort(403, _("You may not take the action '%(action)s'.", action=form.action.data))
    check_role(transition, current_user.role_enum)
    return transition


@blueprint.route("/petitions/bulk", methods=["POST"])
@login_required
def confirm():
    """Show exactly which cases (and versions) the action will apply to, and ask to confirm.

    A selection that cannot go ahead (no action or reason, no case, too many, or cases that
    cannot take the action now) returns to the queue with the selection kept (422, or 409
    naming the cases).
    """
    permissions.require(permissions.can_work_queue, current_user)
    form = BulkSelectionForm()
    _refuse_nul(form)
    filters = _posted_filters()
    if filters is None:
        return render_queue(request.form)
    if not form.validate_on_submit():
        outcome_fields = (form.relief, form.remission_amount, form.new_release_date)
        problems = [error for each in outcome_fields for error in each.errors]
        message = " ".join(problems) or "Choose an action for the selected cases."
        return _back_to_selection(form, message)
    transition = _requested_transition(form)
    if problem := _selection_problem(form, transition):
        return _back_to_selection(form, problem)
    try:
        outcome = checked_outcome(transition, form.outcome())
    except ValidationFailed as error:
        return _back_to_selection(form, " ".join(error.errors.values()))
    rows = _selected_rows(form, filters)
    if problem := _rows_problem(rows):
        return _back_to_selection(form, problem)
    if refusals := _preview_refusals(transition, rows, outcome):
        message = f"{len(refusals)} of these cases cannot take this action now."
        return _back_to_selection(form, message, offenders=refusals, status=409)
    readlog.record_reads("bulk_confirmation", rows[:LISTED_ON_CONFIRMATION])
    apply_form = BulkApplyForm(
        formdata=None,
        data={
            "action": transition.name,
            "reason": form.reason.data or "",
            "selection": " ".join(f"{row.case_number}:{row.version}" for row in rows),
            "all_matching": "y" if form.all_matching.data else "",
            **_outcome_data(outcome),
        },
    )
    return render_template(
        "petitions/bulk_confirm.html",
        form=apply_form,
        filters=filters,
        position=position_args(request.form),
        transition=transition,
        reason=(form.reason.data or "").strip(),
        rows=rows[:LISTED_ON_CONFIRMATION],
        count=len(rows),
        outcome=outcome,
        back=url_for("petitions.queue", **filters.query_args(), **position_args(request.form)),
    )


def _refused_apply(form: BulkApplyForm, error: BulkRefused, expected_versions: dict):
    # Nothing of the refused decision may show on the queue drawn below.
    pipeline.abandon()
    changed = isinstance(error, CasesChanged)
    after = " They changed after you confirmed the selection." if changed else ""
    selection = BulkSelection(
        message=f"Nothing was applied. {error.message}{after}",
        case_numbers=frozenset(expected_versions),
        all_matching=form.all_matching.data == "y",
        action=form.action.data,
        reason=form.reason.data or "",
        offenders={offender["case_number"]: offender["message"] for offender in error.offenders},
        outcome=_typed_outcome(),
    )
    return render_queue(request.form, selection=selection, status=error.status)


@blueprint.route("/petitions/bulk/apply", methods=["POST"])
@login_required
@pipeline.writes
def apply():
    """Decide the confirmed cases, all or none; if any changed or cannot, return to the queue
    with the selection kept and those cases marked."""
    form = BulkApplyForm()
    _refuse_nul(form)
    if not form.validate_on_submit():
        abort(400, _("The form was incomplete."))
    expected_versions = form.expected_versions()
    if expected_versions is None:
        abort(400, _("The selection was garbled; select the cases again."))
    filters = _posted_filters()
    if filters is None:
        return render_queue(request.form)
    outcome = form.outcome()
    if outcome is None:
        abort(400, _("The form was garbled; select the cases again."))
    try:
        decided = services.decide_petitions(
            current_user, form.action.data, form.reason.data, expected_versions, outcome
        )
    except BulkRefused as error:
        return _refused_apply(form, error, expected_versions)
    transition = TRANSITIONS_BY_NAME[form.action.data]
    count = len(decided)
    flash(
        ngettext(
            "%(action)s: %(num)d case is now %(stage)s.",
            "%(action)s: %(num)d cases are now %(stage)s.",
            count,
            action=transition.label,
            stage=transition.target.label.lower(),
        ),
        "success",
    )
    return redirect(
        url_for("petitions.queue", **filters.query_args(), **position_args(request.form))
    )
