"""User and organization management, for supervisors."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import permissions, pipeline
from tracker.admin.forms import (
    ConfirmForm,
    DeactivateForm,
    OrganizationForm,
    RoleForm,
    TemporaryPasswordForm,
    UserCreateForm,
)
from tracker.auth import services
from tracker.auth.models import Organization, User
from tracker.errors import Conflict, ValidationFailed
from tracker.extensions import db
from tracker.forms import apply_errors, options, parse_id
from tracker.petitions import queries

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.before_request
@login_required
def _supervisors_only():
    permissions.require(permissions.can_manage_users, current_user)


def _organization_choices():
    organizations = db.session.scalars(
        select(Organization).where(Organization.active).order_by(Organization.name)
    )
    return options([("", "—")] + [(str(o.id), o.name) for o in organizations])


def _organization(choice: str | None) -> Organization | None:
    organization_id = parse_id(choice)
    return db.session.get(Organization, organization_id) if organization_id else None


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, _("No such user."))
    return user


@blueprint.route("/users", methods=["GET", "POST"])
@pipeline.writes
def users():
    """Every account, and the form to create one with a temporary password."""
    form = UserCreateForm()
    form.organization.choices = _organization_choices()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_user(
                current_user,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                password=form.password.data,
                organization=_organization(form.organization.data),
                must_change_password=True,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                _("User %(email)s created. Give them the temporary password.", email=user.email),
                "success",
            )
            return redirect(url_for("admin.users"))
    if form.errors:
        status = 422
    accounts = db.session.scalars(
        select(User).options(joinedload(User.organization)).order_by(User.active.desc(), User.name)
    )
    return render_template("admin/users.html", form=form, users=list(accounts)), status


@blueprint.route("/users/<int:user_id>", methods=["GET"])
def user(user_id):
    """One account with the forms that change it."""
    account = _user_or_404(user_id)
    return _render_user(account)


def _render_user(account, status=200, **forms):
    role_form = forms.get("role_form") or RoleForm(
        data={"role": account.role, "organization": str(account.organization_id or "")}
    )
    role_form.organization.choices = _organization_choices()
    return render_template(
        "admin/user.html",
        account=account,
        role_form=role_form,
        password_form=forms.get("password_form") or TemporaryPasswordForm(),
        confirm_form=ConfirmForm(),
    ), status


@blueprint.route("/users/<int:user_id>/role", methods=["POST"])
@pipeline.writes
def change_role(user_id):
    account = _user_or_404(user_id)
    form = RoleForm()
    form.organization.choices = _organization_choices()
    if form.validate_on_submit():
        try:
            services.change_role(
                current_user, account, form.role.data, _organization(form.organization.data)
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            form.role.errors = [error.message]
        else:
            flash(
                _("%(email)s is now: %(role)s.", email=account.email, role=account.role_enum.label),
                "success",
            )
            return redirect(url_for("admin.user", user_id=account.id))
    return _render_user(account, 422, role_form=form)


@blueprint.route("/users/<int:user_id>/password", methods=["POST"])
@pipeline.writes
def set_password(user_id):
    account = _user_or_404(user_id)
    form = TemporaryPasswordForm()
    if form.validate_on_submit():
        try:
            services.set_temporary_password(current_user, account, form.password.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                _(
                    "Temporary password set for %(email)s; their sessions ended.",
                    email=account.email,
                ),
                "success",
            )
            return redirect(url_for("admin.user", user_id=account.id))
    return _render_user(account, 422, password_form=form)


def _reassign_choices(account: User):
    colleagues = [u for u in queries.assignable_staff() if u.id != account.id]
    return options(
        [("", _l("Nobody: back to the unassigned queue"))]
        + [(str(u.id), f"{u.name} ({u.role})") for u in colleagues]
    )


def _render_deactivation(account: User, form: DeactivateForm, status: int = 200):
    cases = queries.open_cases_assigned_to(account)
    # Always the cases listed on this page, also after a refusal: the next click confirms them.
    form.cases.data = ",".join(petition.case_number for petition in cases)
    return render_template("admin/deactivate.html", account=account, form=form, cases=cases), status


@blueprint.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@pipeline.writes
def deactivate(user_id):
    """Confirm a deactivation: the user's open cases are listed, and the confirmation
    reassigns them in the same step (to a named colleague or back to the unassigned queue)."""
    account = _user_or_404(user_id)
    if not account.active:
        flash(_("%(email)s is already deactivated.", email=account.email), "info")
        return redirect(url_for("admin.user", user_id=account.id))
    form = DeactivateForm()
    form.reassign_to.choices = _reassign_choices(account)
    if not form.is_submitted():
        return _render_deactivation(account, form)
    if not form.validate_on_submit():
        return _render_deactivation(account, form, 422)
    reassign_to = db.session.get(User, parse_id(form.reassign_to.data) or 0)
    try:
        reassigned = services.set_user_active(
            current_user,
            account,
            False,
            reassign_to=reassign_to,
            expected_cases=form.confirmed_cases(),
        )
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render_deactivation(account, form, 422)
    except Conflict as error:
        form.form_errors.append(error.message)
        return _render_deactivation(account, form, 409)
    message = _("%(email)s is deactivated.", email=account.email)
    if reassigned and reassign_to:
        message += " " + ngettext(
            "Their %(num)d open case went to %(name)s.",
            "Their %(num)d open cases went to %(name)s.",
            len(reassigned),
            name=reassign_to.name,
        )
    elif reassigned:
        message += " " + ngettext(
            "Their %(num)d open case went to the unassigned queue.",
            "Their %(num)d open cases went to the unassigned queue.",
            len(reassigned),
        )
    flash(message, "success")
    return redirect(url_for("admin.user", user_id=account.id))


@blueprint.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@pipeline.writes
def reset_two_factor(user_id):
    """Forget the user's second factor (lost phone); they enrol again at next login."""
    account = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    services.reset_second_factor(current_user, account)
    flash(
        _(
            "Second factor of %(email)s reset; they set it up again at next login.",
            email=account.email,
        ),
        "success",
    )
    return redirect(url_for("admin.user", user_id=account.id))


@blueprint.route("/users/<int:user_id>/reactivate", methods=["POST"])
@pipeline.writes
def reactivate(user_id):
    """Give a deactivated account its access back (sessions and tokens ended stay ended)."""
    account = _user_or_404(user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    services.set_user_active(current_user, account, True)
    flash(_("%(email)s is active.", email=account.email), "success")
    return redirect(url_for("admin.user", user_id=account.id))


@blueprint.route("/organizations", methods=["GET", "POST"])
@pipeline.writes
def organizations():
    """Every advocacy group, and the form to add one."""
    form = OrganizationForm()
    status = 200
    if form.validate_on_submit():
        try:
            organization = services.create_organization(current_user, form.name.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Organization %(name)s created.", name=organization.name), "success")
            return redirect(url_for("admin.organizations"))
    if form.errors:
        status = 422
    rows = db.session.scalars(select(Organization).order_by(Organization.name))
    return render_template(
        "admin/organizations.html", form=form, organizations=list(rows), confirm_form=ConfirmForm()
    ), status


@blueprint.route(
    "/organizations/<int:organization_id>/<any(deactivate, reactivate):change>", methods=["POST"]
)
@pipeline.writes
def set_organization_active(organization_id, change):
    organization = db.session.get(Organization, organization_id)
    if organization is None:
        abort(404, _("No such organization."))
    if not ConfirmForm().validate_on_submit():
        abort(400, _("The form expired. Reload and retry."))
    services.set_organization_active(current_user, organization, change == "reactivate")
    if organization.active:
        flash(_("%(name)s is active.", name=organization.name), "success")
    else:
        flash(_("%(name)s is deactivated.", name=organization.name), "success")
    return redirect(url_for("admin.organizations"))
