"""Pages for time on a case: referrals (staff), the advocate's answer to an information
request, and each user's "Due and overdue" list. Thin, as every view: parse, call one
service, render or redirect; the request pipeline commits."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from tracker import permissions, pipeline
from tracker.deadlines import queries, services
from tracker.deadlines.models import Referral
from tracker.errors import StaleVersion, ValidationFailed
from tracker.extensions import db
from tracker.forms import apply_errors
from tracker.i18n import date_filter
from tracker.petitions import services as petition_services
from tracker.petitions.forms import ProvideInformationForm
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.petitions.views import _render_case
from tracker.workflow import WrongStage

blueprint = Blueprint("deadlines", __name__)
#: What the case page calls the fields of a referral or an information request.
FIELD_NAMES = {
    "agency": _l("Agency"),
    "agency_name": _l("Agency name"),
    "sent_on": _l("Sent on"),
    "due_on": _l("Due on"),
    "answered_on": _l("Answered on"),
    "summary": _l("Summary"),
    "reason": _l("Reason"),
}


def _refused_on_case_page(petition, error: ValidationFailed):
    """The case page again (422) with each refused field named; nothing was written."""
    pipeline.abandon()
    for name, message in error.errors.items():
        flash(f"{FIELD_NAMES.get(name, name.replace('_', ' ').capitalize())}: {message}", "danger")
    return _render_case(petition, 422)


def _form_values() -> dict:
    return {name: value for name, value in request.form.items() if name != "csrf_token"}


@blueprint.route("/petitions/<case_number>/referrals", methods=["POST"])
@login_required
@pipeline.writes
def open_referral(case_number):
    """Staff refer the case to an agency (the due date defaults to the agency's period)."""
    # The case first: another organization's case is a 404 whatever the role.
    petition = petition_services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_view_referrals, current_user)
    try:
        referral = services.open_referral(petition, current_user, _form_values())
    except ValidationFailed as error:
        return _refused_on_case_page(petition, error)
    flash(
        _(
            "Referred to %(agency)s, due %(date)s.",
            agency=referral.agency_label,
            date=date_filter(referral.due_on),
        ),
        "success",
    )
    return redirect(url_for("petitions.show", case_number=case_number, _anchor="referrals-heading"))


@blueprint.route("/referrals/<int:referral_id>", methods=["POST"])
@login_required
@pipeline.writes
def change_referral(referral_id):
    """Staff record a referral's answer (answered=true: today) or extend it with a reason."""
    permissions.require(permissions.can_view_referrals, current_user)
    referral = db.session.get(Referral, referral_id) if referral_id < 2**31 else None
    if referral is None:
        abort(404, _("No referral %(number)s.", number=referral_id))
    petition = db.session.get(Petition, referral.petition_id)
    values = _form_values()
    if "answered" in values:
        values["answered"] = values["answered"] == "true"
    try:
        services.change_referral(referral, petition, current_user, values)
    except ValidationFailed as error:
        return _refused_on_case_page(petition, error)
    flash(_("Referral #%(number)s updated.", number=referral.id), "success")
    return redirect(url_for("petitions.show", case_number=petition.case_number))


@blueprint.route("/petitions/<case_number>/information-due", methods=["POST"])
@login_required
@pipeline.writes
def change_information_due(case_number):
    """Staff move the due date of the case's open information request."""
    petition = petition_services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_manage_referrals, current_user, petition)
    try:
        request_ = services.change_information_due_on(
            petition, current_user, request.form.get("due_on")
        )
    except ValidationFailed as error:
        return _refused_on_case_page(petition, error)
    flash(
        _("The information is now due on %(date)s.", date=date_filter(request_.due_on)),
        "success",
    )
    return redirect(url_for("petitions.show", case_number=case_number))


@blueprint.route("/petitions/<case_number>/information", methods=["GET", "POST"])
@login_required
@pipeline.writes
def provide_information(case_number):
    """The advocate answers the information request: a response and, in the same step,
    corrections to the petition's fields (checked as an edit is). Back under review, with
    the same reviewer, flagged "information provided"."""
    petition = petition_services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_answer_information_requests, current_user)
    if petition.open_information_request is None:
        abort(409, _("Case %(case)s has no open information request.", case=case_number))
    initial = {name: getattr(petition, name) for name in EDITABLE_FIELDS}
    form = ProvideInformationForm(data=initial | {"version": petition.version})
    if form.validate_on_submit():
        corrections = {
            name: value
            for name, value in form.petition_values().items()
            if value != getattr(petition, name)
        }
        try:
            petition_services.apply_transition(
                petition,
                current_user,
                "provide_information",
                None,
                form.version.data,
                response=form.response.data,
                corrections=corrections,
            )
        except ValidationFailed as error:
            pipeline.abandon()
            apply_errors(form, error)
        except (StaleVersion, WrongStage) as error:
            pipeline.abandon()
            form.form_errors.append(error.message)
        else:
            flash(
                _(
                    "Your answer was sent: case %(case)s is back under review.",
                    case=case_number,
                ),
                "success",
            )
            return redirect(url_for("petitions.show", case_number=case_number))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "petitions/provide_information.html", form=form, petition=petition
    ), status


@blueprint.route("/due")
@login_required
def due():
    """Due and overdue: the reminders recorded for the current user, newest day first, and
    what is due for them now."""
    return render_template(
        "deadlines/due.html",
        reminders=queries.reminders_for(current_user),
        items=queries.due_items_for(current_user),
    )
