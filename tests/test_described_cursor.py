"""PostgreSQL: cursors describe a result's columns when asked (``tracker.database``'s
``DescribedCursor``), with what psycopg's own description says, of the result they were
asked about."""

import pytest

from tests.conftest import on_postgres
from tracker.extensions import db

pytestmark = pytest.mark.skipif(not on_postgres(), reason="psycopg's cursors are PostgreSQL's")


def test_the_description_is_psycopgs_of_its_own_result(app_ctx):
    import psycopg

    cursor = db.session.connection().connection.dbapi_connection.cursor()
    cursor.execute("SELECT 1 AS one, 'x'::text AS letter")
    first = cursor.description
    assert type(cursor).__name__ == "DescribedCursor"
    assert len(first) == 2
    cursor.execute("SELECT now() AS moment")  # the cursor's next result
    assert [column.name for column in first] == ["one", "letter"]
    assert [column.type_code for column in first] == [23, 25]  # int4, text
    assert all(isinstance(column, psycopg.Column) for column in first)
    assert [column.name for column in cursor.description] == ["moment"]
    cursor.execute("SET LOCAL statement_timeout = 0")
    assert cursor.description is None  # no rows, as psycopg says
    cursor.close()


def test_sqlalchemy_reads_rows_by_name_through_it(app_ctx):
    row = db.session.execute(db.text("SELECT 2 AS two, 'y' AS why")).one()
    assert row._mapping == {"two": 2, "why": "y"}
