"""A chunked request body (no Content-Length) is held to MAX_CONTENT_LENGTH like any other.

Werkzeug refuses a body whose Content-Length is over the limit before reading it. A body sent
with ``Transfer-Encoding: chunked`` has no length: Werkzeug reads it up to the limit and stops
there without a word, so an oversized upload reached the app cut short (a CSV import answered
201 with its last row truncated). This middleware reads such a body before the app sees it,
up to one byte past the limit:

- within the limit, the app gets the body with its Content-Length, as if sent that way;
- past it, the app gets a Content-Length over the limit, so every endpoint that
  reads the body answers 413 exactly as it does for an oversized body sent with its length
  (problem+json on the API, the error page on the web), before any of it is used.

Only servers that de-chunk the body and mark the end of its stream (``wsgi.input_terminated``:
gunicorn, Werkzeug's development server) pass chunked bodies to the app at all.

**Per-endpoint limits.** MAX_CONTENT_LENGTH holds for every route but those that take a
document, which are marked ``@body_limit(...)`` with their own (MAX_DOCUMENT_BYTES and room for
the form's other fields): the middleware buffers their chunked bodies to that limit, and
``apply_request_limit`` sets it as the request's ``max_content_length``, so Werkzeug refuses a
longer body by its length (413) before reading it. A chunked body is buffered in a spooled
temporary file: in memory up to SPOOL_SIZE, on disk beyond, so a 20 MiB document never sits in
memory whole.
"""

import tempfile
from collections.abc import Callable

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_set_header

READ_SIZE = 64 * 1024
#: Buffered chunked bodies stay in memory up to this size, then go to a temporary file.
SPOOL_SIZE = 1024 * 1024
#: Room for the multipart framing and the small fields sent with a document.
MULTIPART_ALLOWANCE = 256 * 1024


def body_limit(limit_of: Callable[[dict], int]):
    """Mark a view as taking larger bodies than MAX_CONTENT_LENGTH: ``limit_of(config)``."""

    def mark(view):
        view.body_limit = limit_of
        return view

    return mark


def document_body_limit(config) -> int:
    """The body of a route that takes a document: the document and its form's fields."""
    return config["MAX_DOCUMENT_BYTES"] + MULTIPART_ALLOWANCE


def _view_limit(app: Flask, environ) -> int | None:
    """The limit of the view the request is routed to, when it sets its own."""
    try:
        endpoint, _ = app.url_map.bind_to_environ(environ).match()
    except HTTPException:
        return None
    limit_of = getattr(app.view_functions.get(endpoint), "body_limit", None)
    return limit_of(app.config) if limit_of is not None else None


def apply_request_limit() -> None:
    """before_request: a view marked with ``body_limit`` reads bodies up to its own limit."""
    view = current_app.view_functions.get(request.endpoint)
    limit_of = getattr(view, "body_limit", None)
    if limit_of is not None:
        request.max_content_length = limit_of(current_app.config)


class ChunkedBodyLimit:
    """WSGI middleware: buffer a chunked body up to the limit of the route it is sent to
    (``MAX_CONTENT_LENGTH`` unless the view sets its own)."""

    def __init__(self, wsgi_app, config, app: Flask | None = None):
        self.wsgi_app = wsgi_app
        self.config = config  # read per request: tests and operators may change the limit
        self.app = app

    def __call__(self, environ, start_response):
        limit = self.config.get("MAX_CONTENT_LENGTH")
        if _is_chunked(environ):
            if self.app is not None:
                limit = _view_limit(self.app, environ) or limit
            if limit is not None:
                body = _buffer_body(environ, limit)
                try:
                    return self.wsgi_app(environ, start_response)
                finally:
                    # Flask has read what it reads of the body by the time the view answered.
                    body.close()
        return self.wsgi_app(environ, start_response)


def _is_chunked(environ) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING")
    return (
        bool(environ.get("wsgi.input_terminated"))
        and encoding is not None
        and "chunked" in parse_set_header(encoding)
    )


def _copy(source, body, stop: int) -> None:
    """Copy from source into body until the stream ends or body holds ``stop`` bytes."""
    while body.tell() < stop:
        piece = source.read(min(READ_SIZE, stop - body.tell()))
        if not piece:
            return
        body.write(piece)


def _drain(source, amount: int) -> None:
    while amount > 0:
        piece = source.read(min(READ_SIZE, amount))
        if not piece:
            return
        amount -= len(piece)


def _buffer_body(environ, limit: int):
    """Replace the chunked input by the buffered body and its length."""
    source = environ["wsgi.input"]
    # At most the limit plus one; past SPOOL_SIZE on disk (a document's limit is large).
    # Not a with-block: the file is the request's input, closed once the app has answered.
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115
    broken = False
    try:
        _copy(source, body, limit + 1)
        if body.tell() > limit:
            # Read (and drop) up to one more limit's worth, so that a client still sending
            # sees the 413 instead of a connection reset; past that it may see the reset.
            _drain(source, limit)
    except (OSError, ValueError):
        broken = True
    size = body.tell()
    if broken and size <= limit:
        # A broken chunked stream is a client gone away: the length promises one byte more
        # than the body holds, which Werkzeug answers with 400 (ClientDisconnected).
        size += 1
    # Now a body of known length: Werkzeug refuses it by its length past the limit (413,
    # unread), and holds a read to that length (a shorter body is a disconnect, 400). With
    # wsgi.input_terminated left set it would trust the stream's end instead, and a body
    # cut by the client would pass as whole.
    del environ["HTTP_TRANSFER_ENCODING"], environ["wsgi.input_terminated"]
    environ["CONTENT_LENGTH"] = str(size)
    body.seek(0)
    environ["wsgi.input"] = body
    return body
