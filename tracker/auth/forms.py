"""Forms for logging in, changing one's password and choosing one's language."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from tracker.auth.passwords import MIN_PASSWORD_LENGTH
from tracker.forms import options
from tracker.i18n import LANGUAGE_NAMES

#: The sign-in fields' limits, which the sign-in page's inputs carry too (auth/login.html).
EMAIL_MAX_LENGTH = 254
PASSWORD_MAX_LENGTH = 1024


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=EMAIL_MAX_LENGTH)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)]
    )
    submit = SubmitField(_l("Log in"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)],
        description=_l("At least %(count)s characters.", count=MIN_PASSWORD_LENGTH),
    )
    confirm_password = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Change password"))


class TwoFactorForm(FlaskForm):
    code = StringField(
        _l("Authentication code"),
        validators=[DataRequired(), Length(max=40)],
        description=_l(
            "The 6-digit code from your authenticator app, or one of your recovery codes."
        ),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Verify"))


class TwoFactorSetupForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app"),
        validators=[DataRequired(), Length(min=6, max=6)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Turn on two-factor authentication"))


class LanguageForm(FlaskForm):
    #: "" is the browser's default (Accept-Language); each language is named in itself.
    language = SelectField(
        _l("Language"),
        choices=options([("", _l("Browser default")), *LANGUAGE_NAMES.items()]),
        description=_l("Pages and e-mails use it; the browser default follows your browser."),
    )
    submit = SubmitField(_l("Save"))
