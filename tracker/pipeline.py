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
  ``tracker.audit.services.record_refusal``), and so does the bookkeeping a GET may do:
  a session's last-seen time and an API token's last use, each at most once a minute.
- The read log's entry for a case or document read (``tracker.readlog``) goes through
  ``write_with_read``: it is written at the end of a request that answered without an
  error, in the request's own transaction where the database can commit it there in one
  round trip (PostgreSQL), or on the request's own connection right after its read
  transaction (SQLite). So a GET commits exactly one thing, its read-log rows, and only
  if it wrote nothing else (the session's writes are watched); otherwise the rest is rolled
  back and the rows are written apart (see ``write_with_read``).

A GET (HEAD, OPTIONS) only reads (``begin_request``): its statements run in autocommit, each
on its own, with no BEGIN and no ROLLBACK (``tracker.database._begin``; on PostgreSQL two round
trips). On SQLite they take no lock, not the ``BEGIN IMMEDIATE`` of writing transactions: in
WAL mode readers run beside the one writer, so page views do not queue behind each other for
the write lock. The few writes a GET makes (the throttled session touch, the read log) are the
writes apart above, each batch in a short write transaction of its own after the reads.

CLI commands are not requests: each commits once, in the command (``tracker.cli``).
"""

import functools
from collections.abc import Callable

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import Table, event, insert
from sqlalchemy.engine import Connection

from tracker.database import REQUEST_READS_ONLY, begin_relaxed_durability, insert_with_commit
from tracker.extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``g`` keys: the commit policy of a view that returned, and the writes kept apart.
_RETURNED = "pipeline_view_returned"
_APART = "pipeline_apart"
#: ``g`` keys: the rows of a read (write_with_read), and whether the request wrote anything.
_WITH_READ = "pipeline_with_read"
_WROTE = "pipeline_wrote"


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


def write_with_read(table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` into ``table`` at the end of the request, if it answers without an
    error (status below 400): the read log's rows for what the request let its user read.

    In a request that commits (a ``@writes`` view that succeeded) they join that commit.
    In a read (a GET, or a view that commits nothing) that wrote nothing else, the request's
    own transaction takes them and is committed with them in one round trip, without
    waiting for the disk (``tracker.database.insert_with_commit``, PostgreSQL): no rollback,
    no second pool checkout with its ping, no BEGIN. SQLite, whose safety level can only
    change outside a transaction, writes them after the reads in a short relaxed one (one
    row: its INSERT alone) on the same connection, without the session's second checkout
    and transaction. When
    the request did write something else (a read never should: that is rolled back, never
    committed with the read), they go in a short transaction of their own right after, as
    ``write_apart(if_answered=True, relaxed_durability=True)`` does.

    Outside a request (CLI, tests calling services), they are inserted at once, in the
    caller's transaction, which the caller commits.
    """
    if not has_request_context():
        _insert([(table, rows)])
        return
    g.setdefault(_WITH_READ, []).append((table, rows))


def _insert(inserts: list[tuple[Table, list[dict]]]) -> None:
    # Core on the session's connection, not the ORM's execute: the rows need no identity,
    # and a page view pays for this.
    connection = db.session.connection()
    for table, rows in inserts:
        connection.execute(insert(table), rows)


def _note_write(*args) -> None:
    if has_request_context():
        g.setdefault(_WROTE, True)


def _note_statement(orm_execute_state) -> None:
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        _note_write()


# Anything the request's transaction writes through the session: a flush, or an INSERT,
# UPDATE or DELETE statement. Listened to once, on the session class every app shares.
event.listen(db.session, "after_flush", _note_write)
event.listen(db.session, "do_orm_execute", _note_statement)


def _commit_read(inserts: list[tuple[Table, list[dict]]]) -> bool:
    """Commit a read's rows with the request's transaction, if it wrote nothing else and
    the database can do it in one round trip; False when they must be written apart."""
    if g.get(_WROTE):
        return False
    try:
        if not insert_with_commit(db.session, inserts):
            return False
        if isinstance(db.session.get_bind(), Connection):
            db.session.commit()  # the test suite's outer transaction: release its savepoint
        else:
            # The server has no transaction left to end (the rows committed on their own):
            # give the connection back, without the commit's bookkeeping (a third of it).
            db.session.close()
    except Exception:
        db.session.rollback()
        raise
    return True


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
    """after_request: commit or roll back the request's work (with a read's writes, see
    ``write_with_read``), then the writes kept apart."""
    status = response.status_code
    reads = g.pop(_WITH_READ, [])
    if status >= 400:  # a read is logged only once the reader got the page
        reads = []
    if _should_commit(status):
        g.pop(_RETURNED, None)  # a failing commit comes back here as a 500: roll back then
        _insert(reads)
        db.session.commit()
    elif not (reads and _commit_read(reads)):
        if db.session.registry.has():  # a page that sent no statement has no session to end
            db.session.rollback()
        if reads:
            g.setdefault(_APART, []).append((functools.partial(_insert, reads), True, True))
    g.pop(REQUEST_READS_ONLY, None)  # the writes apart begin as writers (BEGIN IMMEDIATE)
    try:
        _run_apart(status)
    finally:
        g.pop(_WROTE, None)  # the writes apart are noted too: forget them with the request's
    return response


def register(app: Flask) -> None:
    """Install the pipeline; registered first, so it runs after every other after_request."""
    app.after_request(finish_request)
    # First of the before_request hooks, before anything can open the transaction.
    app.before_request_funcs.setdefault(None, []).insert(0, begin_request)
