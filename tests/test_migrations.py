"""The migrations are the schema: up, down, up again, and no drift from the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.conftest import POSTGRES_URL, fresh_postgres_database
from tests.conftest import testing_app as new_app
from tracker.extensions import db

pytestmark = pytest.mark.committed

APP_TABLES = {"organization", "user", "petition", "note", "audit_entry", "audit_chain_head",
              "audit_verification", "case_number_counter"}  # fmt: skip


@pytest.fixture
def empty_app(tmp_path):
    if POSTGRES_URL:
        with fresh_postgres_database("tracker_migrations") as url:
            app = new_app(url)
            yield app
            with app.app_context():
                db.engine.dispose()
        return
    app = new_app(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    yield app
    with app.app_context():
        db.engine.dispose()


def schema_drift(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True,
                  "include_object": lambda obj, name, type_, *a: name != "ix_petition_name_trgm"},
        )  # fmt: skip
        return compare_metadata(context, db.metadata)


def tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def test_upgrade_downgrade_upgrade_without_drift(empty_app):
    with empty_app.app_context():
        upgrade()
    assert tables(empty_app) >= APP_TABLES
    assert schema_drift(empty_app) == []

    with empty_app.app_context():
        downgrade(revision="base")
    assert tables(empty_app) & APP_TABLES == set()

    with empty_app.app_context():
        upgrade()
    assert tables(empty_app) >= APP_TABLES
    assert schema_drift(empty_app) == []
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
