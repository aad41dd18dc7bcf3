"""The read log's own transaction, with real commits: after the response, apart from the
request's work, and without waiting for the disk (the rest keeps waiting for it)."""

from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select

from tests.conftest import AuthActions, on_postgres, petition_values
from tracker.auth import services as auth_services
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
    [insert] = [i for i, s in enumerate(sent) if s.startswith("INSERT INTO read_log_entry")]
    if on_postgres():
        relaxed = [i for i, s in enumerate(sent) if s == "SET LOCAL synchronous_commit TO OFF"]
        # Once, in the read log's transaction: after every read of the page.
        assert len(relaxed) == 1 and relaxed[0] < insert
        assert all(not s.startswith("SELECT") for s in sent[relaxed[0] :])
    else:
        normal = sent.index("PRAGMA synchronous = NORMAL")
        assert sent[normal + 1] == "BEGIN IMMEDIATE" and normal + 2 == insert
        assert all(not s.startswith("SELECT") for s in sent[normal:])
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
