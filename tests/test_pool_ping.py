"""Pooled connections are pinged only after sitting idle (``tracker.database._ping_if_idle``):
one gone while idle is replaced before any request gets it; one used moments ago is handed
out as it is, sparing every request the ping's round trip. On both databases."""

import pytest
import sqlalchemy as sa

from tests.conftest import on_postgres
from tracker import database


@pytest.fixture
def engine(database_url, tmp_path):
    # SQLite: a file of its own (the suite's test transaction holds the shared one's lock).
    url = database_url if on_postgres() else f"sqlite:///{tmp_path / 'ping.sqlite3'}"
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def pooled_then_closed(engine):
    """Use the pool's one connection, give it back, then close it behind the pool's back (as
    a server restart or an idle timeout would); its pool record."""
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        record = connection.connection._connection_record
        driver_connection = connection.connection.dbapi_connection
    driver_connection.close()
    return record, driver_connection


def test_a_connection_gone_while_idle_is_replaced_before_use(engine):
    record, closed = pooled_then_closed(engine)
    record.info[database._CHECKED_IN_AT] -= database.PING_AFTER_IDLE_SECONDS
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT 2").scalar() == 2
        assert connection.connection.dbapi_connection is not closed


def test_a_connection_used_moments_ago_is_not_pinged(engine):
    pooled_then_closed(engine)
    with pytest.raises(sa.exc.DBAPIError), engine.connect() as connection:
        connection.exec_driver_sql("SELECT 2")


def test_an_idle_live_connection_is_kept_and_outside_a_transaction(engine):
    with engine.connect() as connection:
        first = connection.connection.dbapi_connection
        record = connection.connection._connection_record
    record.info[database._CHECKED_IN_AT] -= database.PING_AFTER_IDLE_SECONDS
    with engine.connect() as connection:
        driver_connection = connection.connection.dbapi_connection
        assert driver_connection is first
        if hasattr(driver_connection, "info"):  # psycopg: the ping left no transaction open
            assert driver_connection.info.transaction_status.name == "IDLE"
            assert driver_connection.autocommit is False
        else:
            assert not driver_connection.in_transaction
        assert connection.exec_driver_sql("SELECT 3").scalar() == 3


def test_an_autocommit_engines_connection_stays_in_autocommit(engine):
    """The test suite's own admin engine is one (CREATE and DROP DATABASE)."""
    autocommit = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with autocommit.connect() as connection:
        record = connection.connection._connection_record
    record.info[database._CHECKED_IN_AT] -= database.PING_AFTER_IDLE_SECONDS
    with autocommit.connect() as connection:
        driver_connection = connection.connection.dbapi_connection
        if on_postgres():
            assert driver_connection.autocommit is True
        else:
            assert driver_connection.isolation_level is None
        assert connection.exec_driver_sql("SELECT 4").scalar() == 4
    autocommit.dispose()
