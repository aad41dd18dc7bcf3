"""Request plumbing shared by every blueprint: login loading, client info, headers, errors."""

import functools
import logging
import secrets
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from tracker import i18n, permissions, pipeline
from tracker.api.auth import is_api_path
from tracker.audit.models import ACTION_LABELS
from tracker.audit.services import ClientInfo
from tracker.auth import sessions, two_factor
from tracker.deadlines.models import AGENCIES
from tracker.documents.models import DOCUMENT_VISIBILITIES
from tracker.eligibility import STATUS_LABELS as ELIGIBILITY_STATUSES
from tracker.errors import DomainError
from tracker.extensions import bootstrap, login_manager
from tracker.forms import MAX_ID
from tracker.http_messages import SERVER_ERROR, http_error_message
from tracker.kept import Kept
from tracker.petitions.models import (
    CUSTODY_STATUSES,
    FIELD_LABELS,
    KINDS,
    NOTE_VISIBILITIES,
    RECOMMENDATIONS,
)
from tracker.petitions.outcomes import OUTCOME_LABELS
from tracker.workflow import (
    CLOSE_DISPOSITIONS,
    DISPOSITIONS,
    KINDS_OF_RELIEF,
    RELIEFS,
    ROLE_LABELS,
    Stage,
)

request_log = logging.getLogger("tracker.requests")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
STAGE_BADGES = {
    Stage.RECEIVED: "text-bg-secondary",
    Stage.UNDER_REVIEW: "text-bg-primary",
    Stage.INFORMATION_REQUESTED: "text-bg-warning",
    Stage.GRANTED: "text-bg-success",
    Stage.DENIED: "text-bg-danger",
    Stage.CLOSED: "text-bg-dark",
}
#: The alert a decided case's page shows its decision in.
DECISION_ALERTS = {
    Stage.GRANTED: "alert-success",
    Stage.DENIED: "alert-danger",
    Stage.CLOSED: "alert-secondary",
}
ALWAYS_REACHABLE = {"auth.logout", "static", "bootstrap.static"}
#: Endpoints reachable before the second factor is given.
SECOND_FACTOR_ENDPOINTS = ALWAYS_REACHABLE | {"auth.two_factor", "auth.two_factor_setup"}
#: Endpoints a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = SECOND_FACTOR_ENDPOINTS | {"auth.change_password"}


@login_manager.user_loader
def load_user(user_id: str):
    """The user of this request's live server-side session (see tracker.auth.sessions)."""
    user_session = sessions.current_session()
    if user_session is None or str(user_session.user_id) != user_id:
        return None
    if not permissions.can_sign_in(user_session.user):
        return None
    g.user_session = user_session
    return user_session.user


def _refuse_nul_characters():
    """No database stores NUL in text (PostgreSQL refuses it): answer 400, not 500.

    Every value of a repeated parameter is checked (``stage=…&stage=…``, the bulk form's
    ``case_numbers``), and the names too: a NUL in a later value is as fatal downstream.
    The API checks its own input field by field (tracker.api) and is left to it.
    """
    if is_api_path(request.path):
        return
    texts = [request.path]
    parameters = []
    if request.query_string:
        parameters.append(request.args)
    if request.environ.get("CONTENT_TYPE"):  # else there is no form to parse (Werkzeug's test)
        parameters.append(request.form)
    for each in parameters:
        for name, values in each.lists():
            texts += [name, *values]
    if any("\x00" in text for text in texts):
        abort(400, _("The request contains a NUL character."))


def _remember_client() -> None:
    # Control characters (NUL above all, which PostgreSQL refuses) never reach the log.
    user_agent = request.headers.get("User-Agent", "")
    if not user_agent.isprintable():  # a browser's is: no filtering character by character
        user_agent = "".join(c for c in user_agent if c.isprintable())
    g.client = ClientInfo(ip_address=request.remote_addr, user_agent=user_agent[:500])


def _require_second_factor(user):
    """Staff reach no page (no case data) before giving their second factor."""
    if not user.is_authenticated or request.endpoint in SECOND_FACTOR_ENDPOINTS:
        return None
    if g.user_session.second_factor_at is None and two_factor.required_for(user):
        endpoint = "auth.two_factor" if user.totp_secret else "auth.two_factor_setup"
        return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))
    return None


def _require_password_change(user):
    if (
        user.is_authenticated
        and user.must_change_password
        and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS
    ):
        flash(_("Choose a new password before you go on."), "warning")
        return redirect(url_for("auth.change_password"))
    return None


def _before_page():
    """before_request: the page's checks in order, as one hook (Flask pays per hook)."""
    _refuse_nul_characters()
    _remember_client()
    user = current_user._get_current_object()  # loads the session's user, once
    return _require_second_factor(user) or _require_password_change(user)


#: Every answer's headers, unless its view set its own: (name in lower case, name, value).
STANDARD_HEADERS = (
    ("x-content-type-options", "X-Content-Type-Options", "nosniff"),
    ("referrer-policy", "Referrer-Policy", "same-origin"),
    ("x-frame-options", "X-Frame-Options", "DENY"),
)
PAGE_HEADERS = (("content-security-policy", "Content-Security-Policy", CONTENT_SECURITY_POLICY),)
# Pages carry case data or account data: never keep them in a cache.
NOT_CACHED = (("cache-control", "Cache-Control", "no-store"),)
STATIC_ENDPOINTS = frozenset({"static", "bootstrap.static"})


def _security_headers(response):
    headers = response.headers
    wanted = [*STANDARD_HEADERS]
    if response.mimetype == "text/html":
        wanted += PAGE_HEADERS
    if current_app.config["HSTS_SECONDS"]:
        hsts = f"max-age={current_app.config['HSTS_SECONDS']}"
        wanted.append(("strict-transport-security", "Strict-Transport-Security", hsts))
    if request.endpoint not in STATIC_ENDPOINTS:
        wanted += NOT_CACHED
    # One pass over the answer's headers, not a search per header.
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 (Headers, not a dict)
    for lower_name, name, value in wanted:
        if lower_name not in present:
            headers.add(name, value)
    return response


def _render_error(status: int, message: str, **context):
    return render_template("error.html", status=status, message=message, **context), status


def _handle_domain_error(error: DomainError):
    pipeline.refuse(error.status, error.message, error.refusal)
    # An edit refused mid-work shows back what was typed (tracker.errors.EditRefused).
    return _render_error(error.status, error.message, kept_input=getattr(error, "kept_input", None))


def _handle_http_error(error: HTTPException):
    message = http_error_message(error)
    pipeline.refuse(error.code or 500, message)
    return _render_error(error.code or 500, message)


def _handle_csrf_error(error: CSRFError):
    pipeline.abandon()
    return _render_error(400, _("The form expired or was not sent by this site. Reload and retry."))


def _handle_server_error(error: InternalServerError):
    pipeline.abandon()
    # Flask has logged the traceback; the page says nothing about the cause.
    return _render_error(500, str(SERVER_ERROR))


def _log_request(response):
    """One line per request: no query string, no form data, so no case data in the log."""
    if current_user.is_authenticated:
        user_id = current_user.get_id()
    elif "api_user" in g:
        user_id = f"{g.api_user.id} (api)"
    else:
        user_id = "-"
    request_log.info(
        "%s %s %s user=%s", request.method, request.path, response.status_code, user_id
    )
    return response


def can(rule: str, *subject) -> bool:
    """Templates ask the named rules of tracker.permissions for the current user:
    ``can("edit_petition", petition)``. They never test a role or a stage themselves."""
    # The user itself, not the proxy: a rule reads several of its attributes.
    return permissions.RULES[rule](current_user._get_current_object(), *subject)


#: The layout's menu entries shown only to some users, by the rule that shows each.
MENU_RULES = (
    "work_queue",
    "view_acts",
    "view_dashboard",
    "view_statistics",
    "submit_petition",
    "view_audit_log",
    "view_access_log",
    "manage_users",
)


def menu_rules() -> SimpleNamespace:
    """The layout asks its menu's rules for the current user in one call, not one ``can``
    per entry on every page: ``menu_rules().view_acts``."""
    user = current_user._get_current_object()
    return SimpleNamespace(**{name: permissions.RULES[name](user) for name in MENU_RULES})


def _finish_page(response):
    """after_request: the log line, then the security headers (one hook, not two)."""
    _log_request(response)
    return _security_headers(response)


@functools.lru_cache(maxsize=256)
def _built_url(script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def fixed_url(endpoint: str, **values) -> str:
    """``url_for`` for links that cannot change while the process runs (the layout's menu,
    static files): built once per process and script root, not on every page."""
    return _built_url(request.script_root, endpoint, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=16)
def _bootstrap_tags(script_root: str, serve_local: bool, theme, kind: str):
    return bootstrap.load_css() if kind == "css" else bootstrap.load_js()


def bootstrap_tags(kind: str):
    """Bootstrap-Flask's ``<link>`` (``"css"``) or ``<script>`` (``"js"``) tags, built once
    per process: the files and their integrity hashes are fixed by the installed version."""
    config = current_app.config
    return _bootstrap_tags(
        request.script_root,
        config["BOOTSTRAP_SERVE_LOCAL"],
        config["BOOTSTRAP_BOOTSWATCH_THEME"],
        kind,
    )


#: The signed-in menu as written, by everything it shows (see signed_in_menu).
_menus = Kept()
#: Where a kept menu takes each request's CSRF token (its log-out form's).
_CSRF_TOKEN_HOLE = f"csrf-token-{secrets.token_hex(16)}"


def signed_in_menu() -> Markup:
    """The layout's menu for the signed-in user (``_menu.html``), from the kept copy: it is a
    function of the language, the script root, the menu's rules for the user, their name,
    role and organization and the bell's count alone, so the same key writes the same HTML.
    Each request puts its own CSRF token in (the log-out form's). Writing it — some forty
    translated strings, links and rules — was most of the layout's cost on every page.
    Not kept while templates reload (development), so an edited template shows at once."""
    user = current_user._get_current_object()
    menu = menu_rules()
    organization = user.organization.name if user.organization is not None else None
    role = str(user.role_enum.label)
    unread = unread_notifications()
    environment = current_app.jinja_env

    def write() -> str:
        macro = environment.get_template("_menu.html").module.signed_in_menu
        html = str(macro(menu, user.name, role, organization, unread, _CSRF_TOKEN_HOLE))
        if _CSRF_TOKEN_HOLE not in html:
            raise RuntimeError("The menu no longer has its log-out form's CSRF token.")
        return html

    if environment.auto_reload:
        html = write()
    else:
        key = (
            i18n.current_language(),
            request.script_root,
            tuple(vars(menu).items()),
            user.name,
            role,
            organization,
            unread,
        )
        html = _menus.get(key, write)
    return Markup(html.replace(_CSRF_TOKEN_HOLE, generate_csrf()))


def unread_notifications() -> int:
    """The bell's count for the signed-in user (one query per page)."""
    from tracker.notifications import services as notifications

    return notifications.unread_count(current_user)


def localtime(moment, fmt: str | None = None):
    """A moment in the display time zone, written for the page's language (tracker.i18n):
    the default is date and time, ``"%Y-%m-%d"`` the date; other formats are kept as given
    (the audit log's seconds)."""
    if moment is None:
        return ""
    if fmt is None:
        return i18n.datetime_filter(moment)
    local = moment.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    if fmt == "%Y-%m-%d":
        return i18n.date_filter(local.date())
    return local.strftime(fmt)


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in routes: only ids a database integer can hold (else 404, never 500)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def register(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.localize_callback = _  # translated when flashed
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    pipeline.register(app)  # first: it must run after every other after_request
    app.before_request(_before_page)
    app.after_request(_finish_page)
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(InternalServerError, _handle_server_error)
    app.register_error_handler(HTTPException, _handle_http_error)

    app.jinja_env.filters["localtime"] = localtime
    app.jinja_env.globals.update(
        can=can,
        menu_rules=menu_rules,
        signed_in_menu=signed_in_menu,
        fixed_url=fixed_url,
        bootstrap_tags=bootstrap_tags,
        unread_notifications=unread_notifications,
        permissions=permissions,
        DECISION_ALERTS=DECISION_ALERTS,
        Stage=Stage,
        STAGE_BADGES=STAGE_BADGES,
        AGENCIES=AGENCIES,
        VISIBILITIES=DOCUMENT_VISIBILITIES | NOTE_VISIBILITIES,
        RECOMMENDATIONS=RECOMMENDATIONS,
        ACTION_LABELS=ACTION_LABELS,
        ELIGIBILITY_STATUSES=ELIGIBILITY_STATUSES,
        ROLE_LABELS=ROLE_LABELS,
        KINDS=KINDS,
        CUSTODY_STATUSES=CUSTODY_STATUSES,
        FIELD_LABELS=FIELD_LABELS | OUTCOME_LABELS,
        DISPOSITIONS=DISPOSITIONS,
        CLOSE_DISPOSITIONS=CLOSE_DISPOSITIONS,
        RELIEFS=RELIEFS,
        KINDS_OF_RELIEF=KINDS_OF_RELIEF,
        display_timezone=lambda: app.config["DISPLAY_TIMEZONE"],
    )
