"""Bearer-token authentication for /api/v1. The session cookie is never accepted there.

Tokens are the API's only credential, so the blueprint needs no CSRF token (it is
exempted in ``create_app``): a browser cannot be tricked into sending a bearer token.
"""

from flask import g, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from tracker.api.problems import MalformedRequest, http_error_response, problem
from tracker.auth import tokens
from tracker.errors import ValidationFailed
from tracker.extensions import login_manager

API_PREFIX = "/api/v1"
#: Readable without a token: the description of the API itself, and the public statistics.
PUBLIC_ENDPOINTS = frozenset({"api.openapi_document", "api.docs", "api.public_statistics"})
CHALLENGE = 'Bearer realm="api"'


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def shield_api_requests():
    """Runs before the app's own request hooks, for every request; acts on /api/v1 only.

    Nobody is logged in by cookie on the API: Flask-Login loads the user from the
    session on first use of ``current_user``, so it is settled here as anonymous
    before anything can ask. Unknown paths and methods under /api/v1 get problem+json
    rather than the site's HTML error page (routing errors belong to no blueprint).
    """
    if not is_api_path(request.path):
        return None
    g._login_user = login_manager.anonymous_user()  # Flask-Login's per-request user slot
    error = request.routing_exception
    if isinstance(error, HTTPException) and not isinstance(error, RequestRedirect):
        return http_error_response(error)
    return None


def require_token():
    """Authenticate the request's bearer token (401 otherwise) and keep its user in g.api_user."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _space, credentials = request.headers.get("Authorization", "").partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials:
        return problem(
            401,
            _(
                "Send a personal API token: 'Authorization: Bearer <token>'. "
                "Create one on your profile page (API tokens)."
            ),
            headers={"WWW-Authenticate": CHALLENGE},
        )
    user = tokens.authenticate_token(credentials)
    if user is None:
        return problem(
            401,
            _("The API token is unknown or revoked, or its user is deactivated."),
            headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
        )
    g.api_user = user
    return None


def check_query(known: dict[str, tuple[str, ...]]):
    """A before_request hook: refuse query parameters the endpoint does not take (422), so a
    misspelt filter never silently widens a list, and NUL characters (400), which no
    database text can hold. ``known`` maps endpoints to the parameters they take.
    """

    def check():
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise MalformedRequest(
                    _("The query parameter '%(name)s' contains a NUL character.", name=name)
                )
        unknown = set(request.args) - set(known.get(request.endpoint, ()))
        if unknown and (request.endpoint in known or request.endpoint not in PUBLIC_ENDPOINTS):
            raise ValidationFailed(
                {name: _("Unknown query parameter.") for name in sorted(unknown)}
            )

    return check
