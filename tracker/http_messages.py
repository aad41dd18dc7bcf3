"""What people read for HTTP errors raised without a message of ours, in their language
(the web's error page and the API's problem documents share them)."""

from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

#: What the error page says for Werkzeug's errors raised without a message of ours.
HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You may not do this."),
    404: _l("There is nothing here, or it is not yours to see."),
    405: _l("This address does not take that method."),
    409: _l("The request conflicts with the current state of the case."),
    413: _l("What you sent is too large."),
    415: _l("This kind of content is not accepted here."),
    422: _l("Some of what you sent is invalid."),
    429: _l("Too many requests. Wait a moment and try again."),
}
SERVER_ERROR = _l("Something went wrong on our side. Nothing was saved.")


def http_error_message(error: HTTPException) -> str:
    """The error's own message, or for Werkzeug's stock English text our translated one."""
    stock = error.description is None or error.description == type(error).description
    if stock and error.code in HTTP_MESSAGES:
        return str(HTTP_MESSAGES[error.code])
    return error.description or error.name
