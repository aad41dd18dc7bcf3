"""Supervisors' forms for managing users and organizations."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Length, Optional

from tracker.auth.passwords import MIN_PASSWORD_LENGTH
from tracker.forms import options
from tracker.workflow import Role

ROLE_CHOICES = options((r.value, r.label) for r in Role)


class OrganizationForm(FlaskForm):
    name = StringField(_l("Organization name"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Create organization"))


class UserCreateForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    organization = SelectField(
        _l("Organization (advocates)"), choices=[], validate_choice=False, validators=[Optional()]
    )
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description=_l("The user must change it at their first login."),
    )
    submit = SubmitField(_l("Create user"))


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    organization = SelectField(
        _l("Organization (advocates)"), choices=[], validate_choice=False, validators=[Optional()]
    )
    submit = SubmitField(_l("Change role"))


class TemporaryPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description=_l("Ends the user's sessions; they must choose a new password at next login."),
    )
    submit = SubmitField(_l("Set temporary password"))


class ConfirmForm(FlaskForm):
    """A bare POST form (CSRF token only) for buttons like deactivate and reactivate."""

    submit = SubmitField(_l("Confirm"))


class DeactivateForm(FlaskForm):
    """Deactivate a user, handing their open cases to a colleague or the unassigned queue."""

    reassign_to = SelectField(_l("Reassign their open cases to"), choices=[], default="")
    #: The case numbers the supervisor was shown, so that exactly those are reassigned.
    cases = HiddenField()
    submit = SubmitField(_l("Deactivate"))

    def confirmed_cases(self) -> list[str]:
        return [number for number in (self.cases.data or "").split(",") if number]
