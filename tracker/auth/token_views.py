"""The profile page of personal API tokens: list, create (shown once), revoke."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from tracker import pipeline
from tracker.auth import tokens
from tracker.errors import NotFound, ValidationFailed
from tracker.forms import apply_errors

blueprint = Blueprint("tokens", __name__)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=tokens.NAME_MAX_LENGTH)],
        description=_l("What will use it, e.g. 'weekly import script'."),
    )
    submit = SubmitField(_l("Create token"))


class RevokeTokenForm(FlaskForm):
    submit = SubmitField(_l("Revoke"))


def _render(form: TokenForm, new_token: str | None = None, status: int = 200):
    return render_template(
        "auth/tokens.html",
        form=form,
        revoke_form=RevokeTokenForm(),
        tokens=tokens.user_tokens(current_user),
        new_token=new_token,
    ), status


@blueprint.route("/account/tokens")
@login_required
def index():
    """The user's API tokens: name, prefix, created, last used; a form for a new one."""
    return _render(TokenForm())


@blueprint.route("/account/tokens", methods=["POST"])
@login_required
@pipeline.writes
def create():
    """Create a token and show it once, on this answer only (never in a flash or a redirect)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _render(form, status=422)
    try:
        token, plaintext = tokens.create_token(current_user, form.name.data)
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render(form, status=422)
    return _render(TokenForm(formdata=None), new_token=plaintext)


@blueprint.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
@pipeline.writes
def revoke(token_id):
    """Revoke one of one's own tokens; it stops working at once."""
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        abort(400, _("The form was incomplete."))
    try:
        token = tokens.get_user_token(current_user, token_id)
    except NotFound as error:
        abort(404, error.message)
    tokens.revoke_token(current_user, token)
    flash(_("Token '%(name)s' revoked.", name=token.name), "success")
    return redirect(url_for("tokens.index"))
