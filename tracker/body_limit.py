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
"""

import io

from werkzeug.http import parse_set_header

READ_SIZE = 64 * 1024


class ChunkedBodyLimit:
    """WSGI middleware: buffer a chunked body up to ``config["MAX_CONTENT_LENGTH"]``."""

    def __init__(self, wsgi_app, config):
        self.wsgi_app = wsgi_app
        self.config = config  # read per request: tests and operators may change the limit

    def __call__(self, environ, start_response):
        limit = self.config.get("MAX_CONTENT_LENGTH")
        if limit is not None and _is_chunked(environ):
            _buffer_body(environ, limit)
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


def _buffer_body(environ, limit: int) -> None:
    """Replace the chunked input by the buffered body and its length."""
    source = environ["wsgi.input"]
    # In memory, as Werkzeug's get_data() would hold it anyway; at most the limit plus one.
    body = io.BytesIO()
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
