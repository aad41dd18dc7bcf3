"""The request pipeline: the one place that commits or rolls back a web or API request.

As Indico's request handler does (``RH.process``), a request's work is one transaction:

- A view that writes says so with ``@writes``. Its transaction commits once, after the
  view returned, when the method is unsafe (POST, PATCH…) and the answer is not an error
  (status below 400); in every other case — a GET, an unmarked view, a 4xx/5xx answer, an
  exception — it is rolled back. Services only flush; views never commit or roll back.
- The sign-in views are marked ``@writes(records_attempts=True)``: a refused attempt (a
  wrong password or code) is still their work — its counter and audit entry are kept —
  so they commit whatever status they answer with, unless they raise.
- Error handlers call ``abandon()`` first: the refused change is rolled back before the
  error page is rendered.
- What must be written whatever becomes of the request goes through ``write_apart``: it
  runs after the request's transaction has ended, in a short transaction of its own. The
  error path records refusals there (403, and the 404 of a case the user may not see, see
  ``tracker.audit.services.record_refusal``), and so does the bookkeeping a GET may do —
  a session's last-seen time and an API token's last use, each at most once a minute,
  and the read log's entry for a case or document read (``tracker.readlog``).

A GET (HEAD, OPTIONS) only reads: its transaction begins as a read-only one
(``begin_request``). On SQLite that is a deferred ``BEGIN``, not the ``BEGIN IMMEDIATE`` of
writing transactions: in WAL mode readers run beside the one writer, so page views no longer
queue behind each other for the write lock. The few writes a GET makes (the throttled session
touch, the read log) are the writes apart above, each batch in a short write transaction of its
own after the read one ended. On PostgreSQL the begin is unchanged (MVCC readers never wait).

CLI commands are not requests: each commits once, in the command (``tracker.cli``).
"""

import functools
from collections.abc import Callable

from flask import Flask, g, has_request_context, request
from flask_login import current_user

from tracker.database import REQUEST_READS_ONLY, begin_relaxed_durability
from tracker.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``g`` keys: the commit policy of a view that returned, and the writes kept apart.
_RETURNED = "pipeline_view_returned"
_APART = "pipeline_apart"


def writes(view: Callable | None = None, *, records_attempts: bool = False):
    """Mark a view as writing: its transaction commits when it answers without an error.

    ``records_attempts``: commit even a 4xx answer (the sign-in views, whose refused
    attempts are recorded). A view that raises is rolled back in every case.
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            response = function(*args, **kwargs)
            g.setdefault(_RETURNED, "attempts" if records_attempts else "success")
            return response

        wrapper.writes = True
        return wrapper

    return decorate(view) if view is not None else decorate


def abandon() -> None:
    """Roll back the request's work now (the error path, before it renders its answer)."""
    g.setdefault(_RETURNED, "failed")
    g.pipeline_abandoned = True
    db.session.rollback()


def refuse(status: int, message: str, refusal: dict | None = None, **details) -> None:
    """The error path: roll back the refused change, and audit a refusal apart from it.

    Every 403 is a security event, and so is a refusal that carries its own details (the
    404 of a case the user may not see, ``DomainError.refusal``). Pages and API end here.
    """
    from tracker.audit import services as audit  # the audit module uses write_apart

    abandon()
    if status != 403 and refusal is None:
        return
    actor = current_user if current_user.is_authenticated else g.get("api_user")
    if refusal is None:
        refusal = {"status": 403, "path": request.path, "method": request.method}
        refusal["message"] = message
    audit.record_refusal("access_refused", actor=actor, details=refusal | details)


def write_apart(
    write: Callable[[], object], *, if_answered: bool = False, relaxed_durability: bool = False
) -> None:
    """Run ``write`` after the request's transaction ends, in a transaction of its own.

    ``if_answered``: only when the request answers without an error (status below 400):
    a read is logged only once the reader got the page (``tracker.readlog``).
    ``relaxed_durability``: in a further transaction whose commit does not wait for the disk
    (``tracker.database.RELAXED_DURABILITY``): the read log, whose rows an operating-system
    crash may lose the last second of, but which must not cost a page view a disk flush.
    Outside a request (CLI, tests calling services), it runs at once, in the caller's
    transaction, which the caller commits.
    """
    if not has_request_context():
        write()
        return
    g.setdefault(_APART, []).append((write, if_answered, relaxed_durability))


def _should_commit(status: int) -> bool:
    if request.method in SAFE_METHODS or g.get("pipeline_abandoned"):
        return False
    policy = g.get(_RETURNED)
    return policy == "attempts" or (policy == "success" and status < 400)


def _run_apart(status: int) -> None:
    answered = status < 400
    writes_apart = [w for w in g.pop(_APART, []) if answered or not w[1]]
    for relaxed in (False, True):
        writes = [write for write, _, is_relaxed in writes_apart if is_relaxed == relaxed]
        if not writes:
            continue
        try:
            if relaxed:
                begin_relaxed_durability(db.session)
            for write in writes:
                write()
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise


def begin_request() -> None:
    """before_request, first of all: a safe method's transaction will begin read-only (when
    its first statement opens it; a page that sends none opens none)."""
    if request.method in SAFE_METHODS:
        setattr(g, REQUEST_READS_ONLY, True)


def finish_request(response):
    """after_request: commit or roll back the request's work, then the writes kept apart."""
    if _should_commit(response.status_code):
        g.pop(_RETURNED, None)  # a failing commit comes back here as a 500: roll back then
        db.session.commit()
    else:
        db.session.rollback()
    g.pop(REQUEST_READS_ONLY, None)  # the writes apart begin as writers (BEGIN IMMEDIATE)
    _run_apart(response.status_code)
    return response


def register(app: Flask) -> None:
    """Install the pipeline; registered first, so it runs after every other after_request."""
    app.after_request(finish_request)
    # First of the before_request hooks, before anything can open the transaction.
    app.before_request_funcs.setdefault(None, []).insert(0, begin_request)
