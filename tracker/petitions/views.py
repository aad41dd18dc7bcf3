"""Pages for petitions: the queue, a case, submitting, editing and acting on it.

Views parse the request, call one service, commit once, and render or redirect.
"""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker import permissions
from tracker.auth.models import Organization, User
from tracker.errors import NotFound, StaleVersion, ValidationFailed
from tracker.extensions import db
from tracker.forms import apply_errors, options, parse_id
from tracker.petitions import queries, services
from tracker.petitions.forms import (
    AssignForm,
    NoteForm,
    PetitionForm,
    QueueFilterForm,
    TakeForm,
    TransitionForm,
)
from tracker.petitions.models import EDITABLE_FIELDS
from tracker.workflow import TRANSITIONS_BY_NAME, allowed_transitions

blueprint = Blueprint("petitions", __name__)
#: Beyond this, OFFSET would overflow some databases; no queue has that many pages.
MAX_PAGE = 1_000_000


def _petition_or_404(case_number: str):
    try:
        return services.get_visible_petition(current_user, case_number)
    except NotFound as error:
        abort(404, error.message)


@blueprint.route("/")
@login_required
def home():
    """Everyone starts at the list of cases they may see."""
    return redirect(url_for("petitions.queue"))


@blueprint.route("/petitions")
@login_required
def queue():
    """The queue (staff) or the organization's cases (advocates), filtered, sorted, paginated."""
    form = QueueFilterForm(request.args)
    if current_user.is_staff:
        form.assignee.choices += options((str(u.id), u.name) for u in queries.assignable_staff())
        form.organization.choices += options(
            (str(o.id), o.name)
            for o in db.session.scalars(select(Organization).order_by(Organization.name))
        )
    filters = queries.QueueFilters(
        q=form.q.data, stage=form.stage.data, kind=form.kind.data,
        assignee=form.assignee.data, organization=form.organization.data,
        sort=form.sort.data or "oldest",
    )  # fmt: skip
    page = queries.queue_page(
        queries.queue_query(current_user, filters),
        page=min(max(1, request.args.get("page", 1, type=int)), MAX_PAGE),
        per_page=current_app.config["PETITIONS_PER_PAGE"],
    )
    if page.page > 1 and not page.items:
        abort(404, f"There is no page {page.page} of these cases.")
    return render_template("petitions/queue.html", form=form, page=page)


@blueprint.route("/petitions/new", methods=["GET", "POST"])
@login_required
def new():
    """An advocate submits a petition for their organization."""
    if not permissions.can_submit_petition(current_user):
        abort(403, "Only an advocate of an organization may submit a petition.")
    form = PetitionForm(data={"version": 0})
    if form.validate_on_submit():
        try:
            petition = services.submit_petition(current_user, form.petition_values())
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            db.session.commit()
            flash(f"Petition {petition.case_number} submitted.", "success")
            return redirect(url_for("petitions.show", case_number=petition.case_number))
    return render_template("petitions/form.html", form=form, petition=None), (
        422 if form.errors else 200
    )


def _case_page_forms(petition):
    """The action forms the current user may use on this case, keyed by name."""
    forms = {}
    transitions = allowed_transitions(petition.stage_enum, current_user.role_enum)
    if transitions:
        form = TransitionForm(data={"version": petition.version}, prefix="transition")
        form.action.choices = options((t.name, t.label) for t in transitions)
        forms["transition"] = form
    if permissions.can_take_petition(current_user, petition):
        forms["take"] = TakeForm(data={"version": petition.version}, prefix="take")
    if permissions.can_assign_petitions(current_user) and not petition.stage_enum.is_decided:
        form = AssignForm(
            data={"version": petition.version, "assignee": str(petition.assignee_id or "")},
            prefix="assign",
        )
        form.assignee.choices = options(
            [("", "Nobody")]
            + [(str(u.id), f"{u.name} ({u.role})") for u in queries.assignable_staff()]
        )
        forms["assign"] = form
    if permissions.can_write_notes(current_user):
        forms["note"] = NoteForm(prefix="note")
    return forms


def _render_case(petition, status=200, **overrides):
    forms = _case_page_forms(petition) | overrides
    return render_template(
        "petitions/show.html",
        petition=petition,
        forms=forms,
        transitions=TRANSITIONS_BY_NAME,
        timeline=queries.timeline(petition, current_user),
        notes=[n for n in petition.notes
               if permissions.can_view_internal_history(current_user) or n.visibility == "shared"],
    ), status  # fmt: skip


@blueprint.route("/petitions/<case_number>")
@login_required
def show(case_number):
    """A case: its fields, stage, notes, history, and the actions the user may take."""
    return _render_case(_petition_or_404(case_number))


def _render_conflict(petition, error: StaleVersion, form, form_template: str):
    db.session.rollback()
    if form is not None:
        # The kept input is offered again against the version this page now shows; the
        # hidden field renders the posted (stale) value unless raw_data is replaced too.
        form.version.data = error.current_version
        form.version.raw_data = [str(error.current_version)]
    return render_template(
        "petitions/conflict.html",
        petition=petition,
        error=error,
        changes=queries.changes_since(petition, error.seen_version, current_user),
        form=form,
        form_template=form_template,
    ), 409


@blueprint.route("/petitions/<case_number>/edit", methods=["GET", "POST"])
@login_required
def edit(case_number):
    """Fix a petition's fields: advocates while received, staff until decided."""
    petition = _petition_or_404(case_number)
    if not permissions.can_edit_petition(current_user, petition):
        abort(403, f"Case {petition.case_number} cannot be edited by you while it is "
                   f"{petition.stage_enum.label.lower()}.")  # fmt: skip
    initial = {name: getattr(petition, name) for name in EDITABLE_FIELDS}
    form = PetitionForm(data=initial | {"version": petition.version})
    if form.validate_on_submit():
        try:
            changes = services.update_petition(
                petition, current_user, form.petition_values(), form.version.data
            )
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        except StaleVersion as error:
            return _render_conflict(petition, error, form, "petitions/_petition_fields.html")
        else:
            db.session.commit()
            flash("Saved." if changes else "Nothing changed.", "success" if changes else "info")
            return redirect(url_for("petitions.show", case_number=petition.case_number))
    status = 422 if form.errors else 200
    return render_template("petitions/form.html", form=form, petition=petition), status


def _posted_form(form_class, prefix):
    form = form_class(prefix=prefix)
    if not form.validate_on_submit():
        return form, False
    return form, True


@blueprint.route("/petitions/<case_number>/transition", methods=["POST"])
@login_required
def transition(case_number):
    """Take a workflow action (start_review, return_for_information, grant, deny, reopen)."""
    petition = _petition_or_404(case_number)
    form, valid = _posted_form(TransitionForm, "transition")
    form.action.choices = options(
        (t.name, t.label) for t in allowed_transitions(petition.stage_enum, current_user.role_enum)
    )
    if not valid:
        return _render_case(petition, 422, transition=form)
    try:
        services.apply_transition(
            petition, current_user, form.action.data, form.reason.data, form.version.data
        )
    except StaleVersion as error:
        return _render_conflict(petition, error, form, "petitions/_transition_fields.html")
    db.session.commit()
    label = TRANSITIONS_BY_NAME[form.action.data].label
    flash(f"{label}: case {petition.case_number} is now {petition.stage_enum.label.lower()}.",
          "success")  # fmt: skip
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/take", methods=["POST"])
@login_required
def take(case_number):
    """A reviewer makes the case their own work."""
    petition = _petition_or_404(case_number)
    form, valid = _posted_form(TakeForm, "take")
    if not valid:
        abort(400, "The form was incomplete.")
    try:
        services.assign_petition(petition, current_user, current_user, form.version.data)
    except StaleVersion as error:
        return _render_conflict(petition, error, None, None)
    db.session.commit()
    flash(f"Case {petition.case_number} is now yours.", "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/assign", methods=["POST"])
@login_required
def assign(case_number):
    """A supervisor assigns, reassigns or unassigns the case."""
    petition = _petition_or_404(case_number)
    form, valid = _posted_form(AssignForm, "assign")
    if not valid:
        abort(400, "The form was incomplete.")
    assignee = None
    if form.assignee.data:
        assignee_id = parse_id(form.assignee.data)
        assignee = db.session.get(User, assignee_id) if assignee_id else None
        if assignee is None:
            abort(400, "Unknown assignee.")
    try:
        services.assign_petition(petition, current_user, assignee, form.version.data)
    except StaleVersion as error:
        return _render_conflict(petition, error, None, None)
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.errors.get("assignee", error.message), "danger")
        return redirect(url_for("petitions.show", case_number=petition.case_number))
    db.session.commit()
    who = assignee.name if assignee else "nobody"
    flash(f"Case {petition.case_number} assigned to {who}.", "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/notes", methods=["POST"])
@login_required
def add_note(case_number):
    """Staff write an internal or shared note on the case."""
    petition = _petition_or_404(case_number)
    if not permissions.can_write_notes(current_user):
        abort(403, "Only reviewers and supervisors write notes.")
    form, valid = _posted_form(NoteForm, "note")
    if not valid:
        return _render_case(petition, 422, note=form)
    services.add_note(petition, current_user, form.body.data, form.visibility.data)
    db.session.commit()
    flash("Note added.", "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number, _anchor="notes"))
