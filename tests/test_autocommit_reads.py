"""A page view's reads run in autocommit, each statement on its own (no BEGIN, no ROLLBACK: on
PostgreSQL two round trips), and nothing else does — the connection is transactional again
for whatever comes next, and a stray write in a read is still rolled back with the request.
On both databases; real commits (``committed``).
"""

import pytest
from sqlalchemy import event, func, select

from tests.conftest import AuthActions, on_postgres
from tests.conftest import testing_app as app_on
from tracker.auth import services as auth_services
from tracker.auth.models import Organization
from tracker.extensions import db

pytestmark = pytest.mark.committed


@pytest.fixture(scope="module")
def world(committed_app):
    """An app of its own on the committed database, with a GET page that writes (a bug
    this guards against) and a GET page that reads, and a signed-in advocate."""
    app = app_on(committed_app.config["SQLALCHEMY_DATABASE_URI"])

    @app.get("/test-only/stray-write")
    def stray_write():
        db.session.add(Organization(name="Written by a GET", active=True))
        db.session.flush()
        return "wrote"

    @app.get("/test-only/locking-read")
    def locking_read():
        db.session.scalars(select(Organization).with_for_update()).all()
        return str(in_transaction(db.session.connection()))

    @app.get("/test-only/read")
    def read():
        return str(db.session.scalar(select(func.count()).select_from(Organization)))

    with app.app_context():
        organization = auth_services.create_organization(None, "Autocommit Org")
        auth_services.create_user(
            None,
            email="adv@autocommit.example",
            name="Adv",
            role="advocate",
            password="a long enough password",
            organization=organization,
        )
        db.session.commit()
    client = app.test_client()

    class Advocate:
        email = "adv@autocommit.example"

    assert AuthActions(client).login(Advocate, password="a long enough password").destination
    yield app, client
    with app.app_context():
        db.engine.dispose()


def in_transaction(connection) -> bool:
    """Whether the database connection is inside a transaction now (on the server)."""
    driver = connection.connection.driver_connection
    if on_postgres():
        return driver.info.transaction_status.name != "IDLE"
    return driver.in_transaction


def pooled_autocommit(app) -> list[bool]:
    """Whether each connection idle in the pool is in autocommit."""
    with app.app_context():
        pool = db.engine.pool
    return [record.dbapi_connection.autocommit for record in list(pool._pool.queue)]


def test_a_page_views_reads_run_outside_a_transaction(world):
    app, client = world
    seen = []
    with app.app_context():
        engine = db.engine
    listener = lambda conn, *args: seen.append(in_transaction(conn))  # noqa: E731
    event.listen(engine, "after_cursor_execute", listener)
    try:
        assert client.get("/test-only/read").status_code == 200
    finally:
        event.remove(engine, "after_cursor_execute", listener)
    assert len(seen) >= 2  # the session's query and the page's
    # No transaction was opened (no BEGIN), so none is rolled back at the end (no ROLLBACK).
    assert not any(seen)
    if on_postgres():  # the connections back in the pool are transactional again
        assert pooled_autocommit(app) and not any(pooled_autocommit(app))


def test_a_stray_write_in_a_read_is_still_rolled_back(world):
    app, client = world
    assert client.get("/test-only/stray-write").status_code == 200
    with app.app_context():
        written = db.session.scalar(
            select(func.count())
            .select_from(Organization)
            .where(Organization.name == "Written by a GET")
        )
    assert written == 0
    if on_postgres():
        assert not any(pooled_autocommit(app))


def test_a_locking_read_in_a_read_holds_its_lock_until_the_request_ends(world):
    """SELECT … FOR UPDATE in autocommit would release its locks as it returns."""
    app, client = world
    response = client.get("/test-only/locking-read")
    assert response.get_data(as_text=True) == "True"
    if on_postgres():
        assert not any(pooled_autocommit(app))


def test_a_write_after_a_read_is_transactional(world):
    """A POST after page views, on the same pooled connections: its work is one transaction
    (rolled back whole when it fails), not statement by statement."""
    app, client = world
    for _ in range(3):
        client.get("/test-only/read")
    with app.app_context():
        db.session.add(Organization(name="Rolled back", active=True))
        db.session.flush()
        assert in_transaction(db.session.connection())
        db.session.rollback()
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(Organization)
                .where(Organization.name == "Rolled back")
            )
            == 0
        )
