"""Log in, log out, change one's own password."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from tracker.auth import services
from tracker.auth.forms import ChangePasswordForm, LoginForm
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.forms import apply_errors

blueprint = Blueprint("auth", __name__)


def safe_next_path(target: str | None) -> str:
    """Only a path of this app: never another host, scheme or a backslash trick."""
    default = url_for("petitions.home")
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return default
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; on success start a fresh session and go where the user was headed."""
    if current_user.is_authenticated:
        return redirect(url_for("petitions.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        db.session.commit()
        if user is None:
            form.password.errors.append("Wrong e-mail or password, or the account is inactive.")
        else:
            next_path = safe_next_path(request.args.get("next"))
            session.clear()  # a new session at login: no fixation
            login_user(user)
            session.permanent = True
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(next_path)
    return render_template("auth/login.html", form=form)


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout():
    """End the session (POST with a CSRF token, so no page can log a user out)."""
    services.record_logout(current_user)
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; other sessions end, this one stays."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_own_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except ValidationFailed as error:
            db.session.rollback()
            apply_errors(form, error)
        else:
            user = current_user._get_current_object()
            db.session.commit()
            login_user(user)  # the session now carries the new token
            flash("Your password is changed.", "success")
            return redirect(url_for("petitions.home"))
    return render_template("auth/change_password.html", form=form)
