"""Every API error as ``application/problem+json`` (RFC 9457), with the right status.

The services raise ``tracker.errors`` and ``tracker.workflow`` exceptions carrying their
HTTP status; this module turns them (and Werkzeug's HTTP errors) into problem documents.
Extension members: ``errors`` (422: [{field, message}], plus ``line`` for CSV rows),
``offenders`` (bulk refusals: one per case), ``current_stage`` (409 from a transition),
``current_version`` (412).
"""

from http import HTTPStatus

from flask import Blueprint, Response, json
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker import pipeline
from tracker.errors import (
    BulkRefused,
    CasesChanged,
    DomainError,
    Ineligible,
    OpenPetitionExists,
    StaleVersion,
    ValidationFailed,
)
from tracker.http_messages import SERVER_ERROR, http_error_message
from tracker.workflow import ReasonRequired, WrongStage

PROBLEM_JSON = "application/problem+json"


class MalformedRequest(DomainError):
    """The request cannot be read: not JSON, not an object, a broken cursor… (400)."""

    status = 400


#: The problems' titles, in the request's language (Accept-Language); others stay English.
TITLES = {
    400: _l("Bad Request"),
    401: _l("Unauthorized"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    409: _l("Conflict"),
    412: _l("Precondition Failed"),
    413: _l("Content Too Large"),
    415: _l("Unsupported Media Type"),
    422: _l("Unprocessable Content"),
    428: _l("Precondition Required"),
    429: _l("Too Many Requests"),
    500: _l("Internal Server Error"),
}


def problem(status: int, detail: str, *, headers: dict | None = None, **members) -> Response:
    """A problem+json response; ``members`` are added to the standard ones. ``title`` and
    ``detail`` are in the request's language; field names and codes stay English."""
    title = str(TITLES.get(status, HTTPStatus(status).phrase))
    body = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = str(detail)
    body.update(members)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def field_errors(errors: dict[str, str]) -> list[dict]:
    return [{"field": name, "message": message} for name, message in errors.items()]


def domain_error_response(error: DomainError) -> Response:
    """The problem for a service's refusal, audited by the same error path as the web's."""
    members = {}
    if isinstance(error, WrongStage):
        members["current_stage"] = error.current_stage  # as read under the row lock
    pipeline.refuse(error.status, error.message, error.refusal, via="api")
    if isinstance(error, OpenPetitionExists):
        return problem(
            409, error.message, errors=field_errors(error.errors), open_case=error.open_case
        )
    if isinstance(error, Ineligible):
        return problem(
            422, error.message, errors=field_errors(error.errors), eligibility=error.eligibility
        )
    if isinstance(error, ValidationFailed):
        return problem(422, error.message, errors=field_errors(error.errors))
    if isinstance(error, ReasonRequired):
        return problem(422, error.message, errors=[{"field": "reason", "message": error.message}])
    if isinstance(error, StaleVersion):
        return problem(
            412,
            error.message,
            current_version=error.current_version,
            headers={"ETag": f'"{error.current_version}"'},
        )
    if isinstance(error, CasesChanged):
        return problem(412, error.message, offenders=error.offenders)
    if isinstance(error, BulkRefused):
        if error.status == 422:
            return problem(422, error.message, errors=error.offenders)
        return problem(error.status, error.message, offenders=error.offenders)
    return problem(error.status, error.message, **members)


def http_error_response(error: HTTPException) -> Response:
    pipeline.abandon()
    status = error.code or 500
    if isinstance(error, InternalServerError) or status >= 500:
        # Logged by Flask with the traceback; the answer says nothing about the cause.
        return problem(500, str(SERVER_ERROR))
    headers = {}
    for name, value in error.get_headers():
        if name.lower() in ("allow", "www-authenticate", "retry-after"):
            headers[name] = value
    return problem(status, http_error_message(error), headers=headers)


def register(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(DomainError, domain_error_response)
    blueprint.register_error_handler(HTTPException, http_error_response)
    # Flask looks for a handler of the status code (500) in the blueprint and then in the
    # app before it looks for one of the class (HTTPException): without this, the app's HTML
    # error page would answer an unexpected error in an API view.
    blueprint.register_error_handler(InternalServerError, http_error_response)
