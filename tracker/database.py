"""Declarative base, naming convention and column types shared by every model."""

import functools
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData, Table, any_, bindparam, event, exc, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC time stamp on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no zone, so values are written
    as naive UTC and given ``UTC`` back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _is_sqlite(dbapi_connection) -> bool:
    """Whether a driver connection is SQLite's (the pool's events see driver connections)."""
    return type(dbapi_connection).__module__ == "sqlite3"


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, wait for the write lock, and let us own BEGIN."""
    if not _is_sqlite(dbapi_connection):
        return
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we emit
    # BEGIN IMMEDIATE ourselves (see _begin) so that every writing transaction holds the
    # write lock from its start and the audit chain's read-then-append can never race
    # another writer. (A page view's reads send no BEGIN at all: each statement is its own.)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


#: A pooled connection idle at least this long (seconds) is pinged (``SELECT 1``) before it is
#: used, and replaced if the server is gone (restarted, or it dropped an idle connection); one
#: given back to the pool more recently is used as it is. SQLAlchemy's ``pool_pre_ping`` pinged
#: on every checkout: a round trip of the four or five a PostgreSQL page view makes, for a
#: connection the same worker used a few milliseconds before.
PING_AFTER_IDLE_SECONDS = 5.0
_CHECKED_IN_AT = "tracker_checked_in_at"


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        connection_record.info[_CHECKED_IN_AT] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, connection_record, connection_proxy) -> None:
    """Ping a connection that sat in the pool (see PING_AFTER_IDLE_SECONDS); a dead one makes
    the pool throw it away and connect afresh (``DisconnectionError``), so no request gets
    it. A connection just made is not pinged."""
    checked_in_at = connection_record.info.get(_CHECKED_IN_AT)
    if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
        return
    # psycopg: outside a transaction, as SQLAlchemy's own ping does it (an AUTOCOMMIT
    # engine's connection stays in autocommit).
    transactional = not _is_sqlite(dbapi_connection) and not dbapi_connection.autocommit
    try:
        if transactional:
            dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
            if transactional and not dbapi_connection.closed:
                dbapi_connection.autocommit = False
    except Exception as error:
        raise exc.DisconnectionError(f"an idle pooled connection is gone: {error}") from error


@event.listens_for(Engine, "connect")
def _configure_psycopg(dbapi_connection, connection_record):
    """PostgreSQL: cursors that describe a result's columns when asked (``DescribedCursor``)."""
    if type(dbapi_connection).__module__.startswith("psycopg"):
        dbapi_connection.cursor_factory = _described_cursor_class()


@functools.cache
def _described_cursor_class():
    import psycopg  # the PostgreSQL driver: imported only where it is used
    from psycopg import pq

    with_rows = frozenset(
        {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK}
    )

    class DescribedColumns(Sequence):
        """A result's columns (``cursor.description``), each ``psycopg.Column`` made the
        first time any is asked for, from the result they describe (not the cursor's next
        one). SQLAlchemy reads a statement's description once and keeps what it learnt with
        the compiled statement; every later execution only asks whether there is one. psycopg
        made a Column object per column per execution all the same: a tenth of an API case's
        time in process (a petition's sixty columns and the token's user)."""

        __slots__ = ("pgresult", "_encoding", "adapters", "_columns")

        def __init__(self, cursor) -> None:
            self.pgresult, self._encoding = cursor.pgresult, cursor._encoding
            self.adapters, self._columns = cursor.adapters, None

        def _described(self) -> list:
            if self._columns is None:
                count = self.pgresult.nfields
                self._columns = [psycopg.Column(self, index) for index in range(count)]
            return self._columns

        def __len__(self) -> int:
            return self.pgresult.nfields

        def __getitem__(self, index):
            return self._described()[index]

        def __eq__(self, other) -> bool:
            return list(self) == other

        __hash__ = None

    class DescribedCursor(psycopg.Cursor):
        @property
        def description(self):
            result = self.pgresult
            if result and (result.nfields or result.status in with_rows):
                return DescribedColumns(self)
            return None

    return DescribedCursor


#: Execution option for long reads (chain verification, exports): on SQLite their
#: transaction starts deferred, so it does not hold the write lock while it reads.
READ_ONLY = {"tracker_read_only": True}


#: Execution option for writes whose last second may be lost in an operating-system crash or
#: power cut (the read log): their commit does not wait for the disk. On PostgreSQL
#: ``synchronous_commit`` is off for that transaction; on SQLite (WAL) ``synchronous`` is
#: NORMAL for it and back to FULL for the connection's next transaction. Either way the
#: database stays consistent; only the newest such rows can be lost, never half-written.
RELAXED_DURABILITY = {"tracker_relaxed_durability": True}
_RELAXED = "tracker_relaxed_durability"


#: ``info`` key of a pooled connection whose transaction is a page view's reads, run in
#: autocommit (see ``_begin``).
_AUTOCOMMIT_READ = "tracker_autocommit_read"


@event.listens_for(Engine, "begin")
def _begin(connection):
    options = connection.get_execution_options()
    relaxed = options.get(_RELAXED, False)
    pooled = connection.connection
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return
    if not relaxed and not options.get("tracker_read_only") and _request_reads_only():
        # A page view's reads, each statement on its own: no BEGIN and no ROLLBACK (on
        # PostgreSQL two round trips of the few a page makes). Under PostgreSQL's READ
        # COMMITTED every statement of a transaction takes its own snapshot anyway, so the
        # page sees the same rows; SQLite's statements each take theirs as PostgreSQL's
        # do. A write (which a read must not keep) ends it first (``_write_in_a_read``).
        # Long reads (READ_ONLY: exports, chain checks) keep one snapshot in a transaction.
        if dialect == "postgresql":
            pooled.driver_connection.autocommit = True
        pooled.info[_AUTOCOMMIT_READ] = True
        return
    _end_autocommit_read(pooled.driver_connection, pooled)
    if dialect == "postgresql":
        if relaxed:
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return
    # SQLite. The safety level can only change outside a transaction, so before BEGIN; a
    # read-only transaction commits nothing, so it leaves the level as the last writer set it.
    info = pooled.info
    read_only = options.get("tracker_read_only") or _request_reads_only()
    if relaxed != info.get(_RELAXED, False) and not read_only:
        connection.exec_driver_sql(f"PRAGMA synchronous = {'NORMAL' if relaxed else 'FULL'}")
        info[_RELAXED] = relaxed
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@event.listens_for(Pool, "checkin")
def _end_autocommit_read(dbapi_connection, connection_record) -> None:
    """A connection given back to the pool (or beginning anything but a page's reads) is
    transactional again. (SQLite's driver never opens a transaction of its own here, see
    ``_configure_sqlite``: there the next BEGIN is the one ``_begin`` sends.)"""
    if not connection_record.info.pop(_AUTOCOMMIT_READ, False):
        return
    if _is_sqlite(dbapi_connection):
        return
    if dbapi_connection is not None and not dbapi_connection.closed:
        dbapi_connection.autocommit = False


@event.listens_for(Engine, "before_execute")
def _write_in_a_read(connection, statement, *args) -> None:
    """A write or a locking read (FOR UPDATE) in a page view's autocommit reads: make the
    connection transactional before it runs, so the write is rolled back with the request as
    any read's stray write is, and the lock held until then (on SQLite: the write lock, from
    a BEGIN IMMEDIATE)."""
    writes = getattr(statement, "is_dml", False)
    if (writes or getattr(statement, "_for_update_arg", None) is not None) and (
        connection.connection.info.get(_AUTOCOMMIT_READ)
    ):
        _end_autocommit_read(connection.connection.driver_connection, connection.connection)
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


#: ``flask.g`` flag: this request's own transaction only reads (tracker.pipeline sets it for
#: a GET and clears it before the writes kept apart). Read when the transaction begins, so a
#: page that sends no statement (the login page) opens no transaction at all.
REQUEST_READS_ONLY = "tracker_request_reads_only"


def _request_reads_only() -> bool:
    from flask import g, has_request_context

    return has_request_context() and g.get(REQUEST_READS_ONLY, False)


def begin_relaxed_durability(session) -> None:
    """Start the session's next transaction with RELAXED_DURABILITY (not inside the test
    suite's rolled-back transaction, which it keeps)."""
    if isinstance(session.get_bind(), Connection):
        return
    session.connection(execution_options=RELAXED_DURABILITY)


def _client_side(column, dialect):
    """How a column's value is bound client-side: its type's bind processing, then, for
    JSON (which the dialect leaves to the driver's adapter), psycopg's JSON wrapper."""
    if isinstance(column.type, JSON):
        from psycopg.types.json import Json

        return lambda value: None if value is None else Json(value)
    return column.type.bind_processor(dialect) or (lambda value: value)


def insert_with_commit(session, inserts: list[tuple[Table, list[dict]]]) -> bool:
    """Insert the rows and COMMIT the session's transaction on the server in ONE round trip,
    the commit not waiting for the disk (RELAXED_DURABILITY); False, having done nothing,
    where the database cannot (anything but PostgreSQL and SQLite). The caller then commits
    the session as usual, which finds the server's transaction ended and sends nothing.
    On SQLite see ``_insert_after_read_sqlite``.

    For the read log's row of a page view (``tracker.pipeline.write_with_read``), whose
    cost must stay well under a millisecond on a loaded server, where each round trip to
    PostgreSQL can cost one: ``SET LOCAL synchronous_commit TO OFF; INSERT …; COMMIT`` goes
    as one simple-protocol message, its values bound client-side by psycopg's own quoting
    (``ClientCursor.mogrify``) after each column type's bind processing; SQLAlchemy's
    commit then finds the server's transaction ended and sends nothing. A session inside
    the test suite's outer transaction (bound to a Connection) must not end that one: there
    the rows are only inserted, and the caller's commit releases its savepoint.
    """
    bind = session.get_bind()
    if bind.dialect.name not in ("postgresql", "sqlite"):
        return False
    if isinstance(bind, Connection):
        for table, rows in inserts:
            session.execute(insert(table), rows)
        return True
    if bind.dialect.name == "sqlite":
        _insert_after_read_sqlite(session.connection(), inserts)
        return True
    import psycopg  # the PostgreSQL driver (tracker requires psycopg 3 for PostgreSQL)

    connection = session.connection()
    quote = connection.dialect.identifier_preparer.quote
    binder = psycopg.ClientCursor(connection.connection.driver_connection)
    # A page view's reads ran in autocommit (``_begin``): the rows get a transaction here.
    autocommit = connection.connection.info.get(_AUTOCOMMIT_READ, False)
    statements = [*(["BEGIN"] if autocommit else []), "SET LOCAL synchronous_commit TO OFF"]
    for table, rows in inserts:
        names = list(rows[0])
        binds = [_client_side(table.c[name], connection.dialect) for name in names]
        values = [bind(row[name]) for row in rows for name, bind in zip(names, binds, strict=True)]
        row_marks = "(" + ", ".join(["%s"] * len(names)) + ")"
        statements.append(
            binder.mogrify(
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
                f"VALUES {', '.join([row_marks] * len(rows))}",
                values,
            )
        )
    statements.append("COMMIT")
    # exec_driver_sql hands psycopg an (empty) parameter list: a literal % is written %%.
    connection.exec_driver_sql("; ".join(statements).replace("%", "%%"))
    return True


def _insert_after_read_sqlite(connection, inserts: list[tuple[Table, list[dict]]]) -> None:
    """SQLite: write the rows after the request's reads, at the relaxed safety level, on the
    same connection. A page view's reads ran in autocommit (``_begin``), so there is no read
    transaction to end: (PRAGMA synchronous = NORMAL unless the connection is at it), then
    one row is one INSERT, its own transaction; several rows go in BEGIN IMMEDIATE … COMMIT.
    A read transaction still open (a long read's) is rolled back first.

    In-process there is no round trip to save, but the session's way to a transaction of its
    own — roll back, give the connection back to the pool, check one out again (with its
    ping), begin, execute through the ORM, commit, give it back — cost about a millisecond
    of Python a page view on a loaded machine, several times the database's work.
    """
    info = connection.connection.info
    if connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("ROLLBACK")
    info.pop(_AUTOCOMMIT_READ, None)  # the statements below are not a page's reads
    try:
        if not info.get(_RELAXED, False):
            connection.exec_driver_sql("PRAGMA synchronous = NORMAL")
            info[_RELAXED] = True
        if len(inserts) == 1 and len(inserts[0][1]) == 1:
            ((table, (row,)),) = inserts
            sql, binds = _sqlite_insert(table, tuple(row), connection.dialect)
            connection.exec_driver_sql(sql, tuple(bind(row[name]) for name, bind in binds))
            return
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        for table, rows in inserts:
            connection.execute(insert(table), rows)
        connection.exec_driver_sql("COMMIT")
    except Exception:
        if connection.connection.driver_connection.in_transaction:
            connection.exec_driver_sql("ROLLBACK")  # the session's rollback then finds none
        raise


@functools.lru_cache(maxsize=32)
def _sqlite_insert(table: Table, names: tuple[str, ...], dialect) -> tuple[str, tuple]:
    """A one-row INSERT of ``names`` into ``table`` as SQLite's text, with each value's bind
    processing (its type's, as SQLAlchemy's own INSERT applies it), built once: sent with
    ``exec_driver_sql`` it costs a page view's read log about half what compiling and
    executing ``insert(table)`` does, and is still seen by the engine's events (and so
    counted with the request's statements)."""
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(name) for name in names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    binds = tuple(
        (name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect) or _as_is)
        for name in names
    )
    return sql, binds


def _as_is(value):
    return value


def begin_read_only(session) -> None:
    """Start the session's next transaction as a read-only one (see READ_ONLY).

    A session bound to a Connection (the test suite's rolled-back transaction) is
    already inside its transaction, which it keeps.
    """
    if isinstance(session.get_bind(), Connection):
        return
    session.connection(execution_options=READ_ONLY)


def among(column, values):
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, one array parameter:
    a bulk decision's thousands of ids would otherwise be thousands of parameters to render
    and parse, at a cost that shows."""
    from tracker.extensions import db  # the extensions import this module

    values = list(values)
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))


@functools.cache
def _attribute_keys(model) -> tuple[tuple[str, ...], int]:
    """The attribute of each column of ``model``'s table, in the table's order, and the
    position of its primary key (a single column)."""
    mapper = sa_inspect(model)
    (primary_key,) = mapper.primary_key
    keys = tuple(mapper.get_property_by_column(column).key for column in model.__table__.c)
    return keys, list(model.__table__.c).index(primary_key)


def table_slices(row: Sequence, *models) -> list[Sequence]:
    """``row`` cut into each model's table's columns, in order: a Core row of
    ``select(*A.__table__.c, *B.__table__.c, …)`` into A's values, B's…, for
    ``persistent_from_row``. Columns after them are left out."""
    slices, start = [], 0
    for model in models:
        end = start + len(model.__table__.c)
        slices.append(row[start:end])
        start = end
    return slices


def persistent_from_row(
    session, model, values: Sequence, *, columns: Sequence[str] | None = None, options=(), **related
):
    """``model``'s instance of a row read with Core, ``values`` being its table's columns in
    the table's order (``select(model.__table__)``, or a slice of a wider row), as the ORM's
    loading would leave it in ``session``: persistent, with nothing to write. ``columns``:
    the attributes ``values`` hold instead, when only some were read (the primary key among
    them); the others are expired, and load together on first use. ``related`` gives
    relationships as loaded (``organization=…``, an instance made the same way, or None),
    as a joined eager load would; the others load on first use, with the loader ``options``
    of the query the ORM would have run (``defaultload(Petition.notes).joinedload(…)``), as
    they would after that query. None when the key is NULL (an outer join that found
    nothing). If the session already holds that row's instance, that instance as it is (the
    ORM's loading would also fill what it had not loaded; these rows' callers read first).

    For the rows every request reads (the API token's user, the signed-in session's, the
    case page's case): the ORM's loading of a row, its compile state, row processors and
    instance assembly, cost several times the row's query on SQLite (about 6 % of an API
    case served by gunicorn, 10 % of a case page; README, issue 15).
    """
    keys, primary = _attribute_keys(model)
    if columns is not None:
        keys, primary = columns, columns.index(keys[primary])
    if values[primary] is None:
        return None
    mapper = sa_inspect(model)
    present = session.identity_map.get(mapper.identity_key_from_primary_key([values[primary]]))
    if present is not None:
        return present
    instance = mapper.class_manager.new_instance()  # with the ORM's state, as loaded ones
    state = instance_state(instance)
    loaded = state.dict
    loaded.update(zip(keys, values, strict=True))
    loaded.update(related)  # held by the instance: the session holds it only weakly
    make_transient_to_detached(instance)  # its identity key; what was not given, unloaded
    if options:
        # What the ORM's loading sets on each instance it makes (orm.loading._instance): the
        # query's options that propagate, for the lazy loads of what it did not load.
        state.load_options = options
        state.load_path = mapper._path_registry
    session.add(instance)
    return instance
