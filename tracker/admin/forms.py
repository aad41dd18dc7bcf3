"""Supervisors' forms for managing users and organizations."""

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
    name = StringField("Organization name", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Create organization")


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    organization = SelectField(
        "Organization (advocates)", choices=[], validate_choice=False, validators=[Optional()]
    )
    password = PasswordField(
        "Temporary password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description="The user must change it at their first login.",
    )
    submit = SubmitField("Create user")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)
    organization = SelectField(
        "Organization (advocates)", choices=[], validate_choice=False, validators=[Optional()]
    )
    submit = SubmitField("Change role")


class TemporaryPasswordForm(FlaskForm):
    password = PasswordField(
        "Temporary password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description="Ends the user's sessions; they must choose a new password at next login.",
    )
    submit = SubmitField("Set temporary password")


class ConfirmForm(FlaskForm):
    """A bare POST form (CSRF token only) for buttons like deactivate and reactivate."""

    submit = SubmitField("Confirm")


class DeactivateForm(FlaskForm):
    """Deactivate a user, handing their open cases to a colleague or the unassigned queue."""

    reassign_to = SelectField("Reassign their open cases to", choices=[], default="")
    #: The case numbers the supervisor was shown, so that exactly those are reassigned.
    cases = HiddenField()
    submit = SubmitField("Deactivate")

    def confirmed_cases(self) -> list[str]:
        return [number for number in (self.cases.data or "").split(",") if number]
