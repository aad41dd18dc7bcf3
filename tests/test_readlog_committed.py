"""The read log's commit, with real commits: at the end of the request, without waiting for
the disk (the rest keeps waiting for it) — on PostgreSQL with the page's own transaction, in
one round trip; on SQLite in a short transaction of its own after the page's."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, insert, select

from tests.conftest import AuthActions, on_postgres, petition_values
from tracker.auth import services as auth_services
from tracker.database import insert_with_commit
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.readlog.models import ReadLogEntry

pytestmark = pytest.mark.committed


@pytest.fixture(scope="module")
def case(committed_app):
    with committed_app.app_context():
        organization = auth_services.create_organization(None, "Read Log Org")
        advocate = auth_services.create_user(
            None,
            email="adv@readlog.example",
            name="Adv",
            role="advocate",
            password="a long enough password",
            organization=organization,
        )
        petition = petition_services.submit_petition(advocate, petition_values())
        db.session.commit()
        return SimpleNamespace(email=advocate.email), petition.case_number, petition.id


def sent_by(app, request):
    with app.app_context():
        engine = db.engine
    sent = []

    def listener(connection, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return response, sent


def test_the_read_is_committed_in_a_transaction_that_does_not_wait_for_the_disk(
    committed_app, case
):
    advocate, case_number, petition_id = case
    client = committed_app.test_client()
    assert AuthActions(client).login(advocate, password="a long enough password").destination
    response, sent = sent_by(committed_app, lambda: client.get(f"/petitions/{case_number}"))
    assert response.status_code == 200
    if on_postgres():
        # The page's reads ran in autocommit (tests/test_autocommit_reads.py): the row gets
        # a transaction of its own and ends it, in one message, last.
        assert sent[-1].startswith(
            "BEGIN; SET LOCAL synchronous_commit TO OFF; INSERT INTO read_log_entry (created_at"
        )
        assert sent[-1].endswith("; COMMIT")
        assert sum("read_log_entry" in s for s in sent) == 1
    else:
        # The page's reads ran in autocommit: the row is one INSERT, its own transaction,
        # last, at the relaxed level (set first unless the connection was at it).
        assert sent[-1].startswith("INSERT INTO read_log_entry")
        assert sum("read_log_entry" in s for s in sent) == 1
        assert not [s for s in sent if s.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK")]
        if "PRAGMA synchronous = NORMAL" in sent:
            assert sent.index("PRAGMA synchronous = NORMAL") == len(sent) - 2
    with committed_app.app_context():
        logged = db.session.scalar(
            select(func.count())
            .select_from(ReadLogEntry)
            .where(ReadLogEntry.petition_id == petition_id, ReadLogEntry.kind == "case_page")
        )
        assert logged == 1


def _level(connection) -> str:
    if on_postgres():
        return connection.exec_driver_sql("SHOW synchronous_commit").scalar()
    return {1: "off", 2: "on"}[connection.exec_driver_sql("PRAGMA synchronous").scalar()]


def test_only_the_relaxed_transaction_skips_waiting_for_the_disk(committed_app):
    """On one connection: relaxed, then an ordinary transaction, which waits for the disk
    again (SQLite's level is per connection and is set back at the next BEGIN)."""
    with committed_app.app_context():
        engine = db.engine
    with engine.connect() as connection:
        connection.execution_options(tracker_relaxed_durability=True)
        with connection.begin():
            assert _level(connection) == "off"
        connection.execution_options(tracker_relaxed_durability=False)
        with connection.begin():
            assert _level(connection) == "on"


def test_the_read_is_committed_on_the_pages_own_connection(committed_app, case):
    """The page's reads ran in autocommit; the read's row is committed on the same connection
    (one checkout): on PostgreSQL in one message with its BEGIN and COMMIT; on SQLite as one
    INSERT in its own transaction, after the reads (no second checkout, no BEGIN, ROLLBACK
    or COMMIT sent). The session then only gives the connection back: SQLAlchemy ends its
    own record of a transaction (a "rollback" event) the server no longer has, and the
    driver sends nothing for it."""
    advocate, case_number, petition_id = case
    client = committed_app.test_client()
    assert AuthActions(client).login(advocate, password="a long enough password").destination
    client.get(f"/petitions/{case_number}")  # the session's touch, if due, is done now
    with committed_app.app_context():
        engine = db.engine
        logged_before = _logged(petition_id)
    happened = []
    listeners = [
        (engine, name, lambda *args, name=name: happened.append(name))
        for name in ("begin", "commit", "rollback")
    ]
    listeners.append((engine.pool, "checkout", lambda *args: happened.append("checkout")))
    sent = []
    listeners.append(
        (engine, "before_cursor_execute", lambda *args: sent.append(args[2].split()[0].upper()))
    )
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        assert client.get(f"/petitions/{case_number}").status_code == 200
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    assert happened == ["checkout", "begin", "rollback"]
    with committed_app.app_context():
        assert _logged(petition_id) == logged_before + 1  # this view's row, committed
    if not on_postgres():
        # The page's reads, then the row in a transaction of its own.
        assert sent[-1] == "INSERT", sent
        assert "INSERT" not in sent[:-1]
        assert not {"BEGIN", "COMMIT", "ROLLBACK"} & set(sent), sent


def _logged(petition_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(ReadLogEntry)
        .where(ReadLogEntry.petition_id == petition_id)
    )


def _export_row(petition_id: int, details, *, reader_assigned: bool) -> dict:
    """A read log row whose values test the binding: a time stamp with microseconds, JSON,
    a boolean and an address with a percent sign."""
    return {
        "created_at": datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=UTC),
        "user_id": None,
        "interface": "web",
        "kind": "case_export",
        "petition_id": petition_id,
        "document_id": None,
        "reader_assigned": reader_assigned,
        "ip_address": "2001:db8::%1",
        "details": details,
    }


@pytest.mark.skipif(not on_postgres(), reason="the one-round-trip commit is PostgreSQL's")
def test_the_one_round_trip_commit_binds_every_value_safely(committed_app, case):
    """Values go through each column's bind processing and psycopg's quoting: time stamps,
    JSON details, and text with quotes, semicolons and percent signs arrive intact."""
    _, _, petition_id = case
    details = {"q": "50% off'; DROP TABLE petition; --", "rows": 3}
    row = _export_row(petition_id, details, reader_assigned=False)
    with committed_app.app_context():
        db.session.scalar(select(func.count()).select_from(ReadLogEntry))  # a transaction open
        assert insert_with_commit(db.session, [(ReadLogEntry.__table__, [row, row])])
        connection = db.session.connection().connection.driver_connection
        assert connection.info.transaction_status.name == "IDLE"  # committed on the server
        db.session.commit()  # the session's own bookkeeping: sends nothing
        stored = db.session.scalars(
            select(ReadLogEntry).where(ReadLogEntry.kind == "case_export")
        ).all()
    assert len(stored) == 2
    assert all(
        (e.created_at, e.details, e.ip_address, e.petition_id, e.reader_assigned)
        == (row["created_at"], details, "2001:db8::%1", petition_id, False)
        for e in stored
    )


@pytest.mark.skipif(on_postgres(), reason="the one-row INSERT of SQLite's text is SQLite's")
@pytest.mark.parametrize("details", [None, {"q": "50% off'; DROP TABLE petition; --", "n": "é"}])
def test_one_row_on_sqlite_is_stored_as_sqlalchemys_insert_stores_it(committed_app, case, details):
    """SQLite's one-row read log INSERT (its text and bind processing built once) stores what
    SQLAlchemy's own ``insert(table)`` stores, byte for byte: the time stamp's text, JSON
    details (``null`` for none), booleans, quotes and percent signs."""
    _, _, petition_id = case
    row = _export_row(petition_id, details, reader_assigned=True)
    table = ReadLogEntry.__table__
    with committed_app.app_context():
        assert insert_with_commit(db.session, [(table, [row])])  # the one-row path
        db.session.execute(insert(table), [row])  # SQLAlchemy's own, for comparison
        db.session.commit()
        stored = (
            db.session.connection()
            .exec_driver_sql(
                "SELECT created_at, user_id, interface, kind, petition_id, document_id,"
                " reader_assigned, ip_address, details, typeof(details) FROM read_log_entry"
                " WHERE kind = 'case_export' ORDER BY id DESC LIMIT 2"
            )
            .all()
        )
    assert stored[0] == stored[1]
    assert stored[0][0] == "2026-11-30 01:02:03.456789"
