"""Log in (password, then the second factor for staff), log out, change one's password."""

import secrets
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from tracker import pipeline, ratelimits
from tracker.audit import services as audit
from tracker.auth import services, sessions
from tracker.auth import two_factor as second_factor
from tracker.auth.forms import (
    EMAIL_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    ChangePasswordForm,
    LoginForm,
    TwoFactorForm,
    TwoFactorSetupForm,
)
from tracker.database import utcnow
from tracker.errors import ValidationFailed
from tracker.forms import apply_errors
from tracker.i18n import current_language

blueprint = Blueprint("auth", __name__)
#: Where the kept empty sign-in page takes each request's CSRF token (see _blank_login_page).
CSRF_TOKEN_HOLE = f"csrf-token-{secrets.token_hex(16)}"


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
@pipeline.writes(records_attempts=True)
def login():
    """Password step: on success a fresh session starts (no fixation); staff then give a code."""
    if current_user.is_authenticated:
        return redirect(url_for("petitions.home"))
    if request.method != "POST":
        # Nothing to validate: the page needs no form object, only its CSRF token.
        return _login_page(None)
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.TooManyFailures as error:
            return _throttled_login(form, error)
        if user is None:
            setattr(g, ratelimits.LOGIN_FAILED, True)
            form.password.errors.append("Wrong e-mail or password, or the account is inactive.")
        else:
            needs_code = second_factor.required_for(user)
            key = sessions.start_session(user, second_factor_done=not needs_code)
            next_path = safe_next_path(request.args.get("next"))
            session.clear()
            session[sessions.SESSION_KEY] = key
            session.permanent = True
            login_user(user)
            if needs_code:
                endpoint = "auth.two_factor" if user.totp_secret else "auth.two_factor_setup"
                return redirect(url_for(endpoint, next=next_path))
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(next_path)
    return _login_page(form)


def _login_page(form: LoginForm | None) -> str:
    """The sign-in page: empty (``form`` None), or a refused form with what was typed."""
    two_factor_off = not current_app.config["TWO_FACTOR_REQUIRED"]
    if form is None and "_flashes" not in session and not current_app.jinja_env.auto_reload:
        return _blank_login_page(two_factor_off).replace(CSRF_TOKEN_HOLE, generate_csrf())
    return _render_login_page(form, two_factor_off)


def _render_login_page(form: LoginForm | None, two_factor_off: bool, **context) -> str:
    return render_template(
        "auth/login.html",
        form=form,
        email_max_length=EMAIL_MAX_LENGTH,
        password_max_length=PASSWORD_MAX_LENGTH,
        two_factor_off=two_factor_off,
        **context,
    )


def _blank_login_page(two_factor_off: bool) -> str:
    """The empty sign-in page, rendered once per app, language and script root.

    It is every visitor's first page, and one visitor's differs from the next one's only by
    the CSRF token, which each request puts in. It holds no user's data (the visitor is
    anonymous, and a page with flashed messages is rendered afresh). Not kept while templates
    reload (development), so an edited template shows at once.
    """
    pages = current_app.extensions.setdefault("tracker.blank_login_pages", {})
    key = (current_language(), request.script_root, two_factor_off)
    page = pages.get(key)
    if page is None:
        page = _render_login_page(None, two_factor_off, csrf_token=lambda: CSRF_TOKEN_HOLE)
        if CSRF_TOKEN_HOLE not in page:
            raise RuntimeError("The sign-in page no longer asks for csrf_token().")
        pages[key] = page
    return page


def _throttled_login(form, error):
    """429 with Retry-After, the form kept: the same answer whether the e-mail exists or not."""
    setattr(g, ratelimits.LOGIN_FAILED, True)
    retry_after = ratelimits.retry_after_seconds(error.until.timestamp())
    form.password.errors.append(f"{error.message} Try again in {_duration(retry_after)}.")
    return _login_page(form), 429, {"Retry-After": str(retry_after)}


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"


def _second_factor_given():
    g.user_session.second_factor_at = utcnow()
    if current_user.must_change_password:
        return redirect(url_for("auth.change_password"))
    return redirect(safe_next_path(request.args.get("next")))


@blueprint.route("/login/two-factor", methods=["GET", "POST"])
@login_required
@pipeline.writes(records_attempts=True)
def two_factor():
    """Second step for staff: a TOTP code (accepted once) or an unused recovery code."""
    if g.user_session.second_factor_at is not None:
        return redirect(url_for("petitions.home"))
    if not current_user.totp_secret:
        return redirect(url_for("auth.two_factor_setup", next=request.args.get("next")))
    if services.second_factor_wait_until(current_user) is not None:
        return _end_login(_code_wait_message(current_user))
    form = TwoFactorForm()
    if form.validate_on_submit():
        if services.check_second_factor(current_user, form.code.data):
            return _second_factor_given()
        if services.second_factor_wait_until(current_user) is not None:
            return _end_login(_code_wait_message(current_user))
        form.code.errors.append("That code is not valid (or was already used).")
    return render_template("auth/two_factor.html", form=form), 422 if form.errors else 200


@blueprint.route("/account/two-factor/setup", methods=["GET", "POST"])
@login_required
@pipeline.writes
def two_factor_setup():
    """Enrol an authenticator app: scan the QR code, confirm a code, keep the recovery codes."""
    if current_user.totp_secret:
        flash(_("Two-factor authentication is already on."), "info")
        return redirect(url_for("petitions.home"))
    user_session = g.user_session
    # Chosen at login, when the session row is written (a GET writes nothing), and kept on
    # that server-side row: the cookie is signed but readable.
    secret = user_session.pending_totp_secret
    if secret is None:
        # Only a session started before enrolment secrets were chosen at login lacks one.
        return _end_login("Log in again to set up two-factor authentication.", "restart")
    form = TwoFactorSetupForm()
    if form.validate_on_submit():
        step = second_factor.check_enrolment_code(secret, form.code.data)
        if step is not None:
            codes = second_factor.enable(current_user, secret, step)
            audit.record_security_event("two_factor_enrolled", actor=current_user)
            user_session.second_factor_at = utcnow()
            user_session.pending_totp_secret = None
            return render_template(
                "auth/recovery_codes.html",
                codes=codes,
                next_path=safe_next_path(request.args.get("next")),
            )
        form.code.errors.append("That code does not match. Check the time on your phone.")
    uri = second_factor.provisioning_uri(current_user, secret)
    return render_template(
        "auth/two_factor_setup.html",
        form=form,
        secret=secret,
        qr_code=second_factor.qr_code_data_uri(uri),
    ), 422 if form.errors else 200


def _code_wait_message(user) -> str:
    seconds = ratelimits.retry_after_seconds(user.second_factor_blocked_until.timestamp())
    return f"Too many wrong codes: codes are refused for the next {_duration(seconds)}."


def _end_login(message: str, reason: str = "throttled"):
    sessions.end_session_apart(g.user_session, reason)
    logout_user()
    session.clear()
    flash(message, "danger")
    return redirect(url_for("auth.login"))


@blueprint.route("/logout", methods=["POST"])
@login_required
@pipeline.writes
def logout():
    """End the session on the server (POST with a CSRF token, so no page can log a user out)."""
    sessions.end_session(g.user_session, "logout")
    services.record_logout(current_user)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/account")
@login_required
def account():
    """The user's account: who they are, their language, and the links to their password,
    second factor, notification preferences and (for those who use them) API tokens."""
    from tracker.auth import tokens
    from tracker.auth.forms import LanguageForm

    form = LanguageForm(language=current_user.language or "")
    return render_template(
        "auth/account.html",
        language_form=form,
        holds_tokens=bool(tokens.user_tokens(current_user)),
    )


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
@pipeline.writes
def change_password():
    """Change one's own password; other sessions end, this one stays."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_own_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
                current_session=g.user_session,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(_("Your password is changed."), "success")
            return redirect(url_for("petitions.home"))
    return render_template("auth/change_password.html", form=form), 422 if form.errors else 200
