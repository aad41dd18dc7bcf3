"""Choosing one's language (the form is on the account page, ``auth.account``)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker import pipeline
from tracker.auth import services
from tracker.auth.forms import LanguageForm
from tracker.errors import ValidationFailed
from tracker.forms import apply_errors

blueprint = Blueprint("account", __name__)


def _render(form: LanguageForm, status: int = 200):
    return render_template("auth/account.html", language_form=form), status


@blueprint.route("/account/language", methods=["POST"])
@login_required
@pipeline.writes
def language():
    """Choose the language of one's pages and e-mails; audited (``language_changed``)."""
    form = LanguageForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    try:
        services.set_language(current_user, form.language.data or None)
    except ValidationFailed as error:
        apply_errors(form, error)
        return _render(form, 422)
    # Said in the language just chosen (the request began in the old one).
    with force_locale(services.effective_language(current_user)):
        flash(_("Your language is saved."), "success")
    return redirect(url_for("auth.account"))
