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


def test_upgrade_keeps_existing_rows(empty_app):
    """0003 adds NOT NULL columns to user: rows written under 0002 must survive the upgrade."""
    from sqlalchemy import text

    with empty_app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as connection:
            connection.execute(text(
                'INSERT INTO "user" (email, name, role, password_hash, active, '
                "must_change_password, created_at) VALUES "
                "('old@example.org', 'Old', 'reviewer', 'x', true, false, "
                "'2026-01-01 00:00:00')"
            ))  # fmt: skip
        upgrade()
        with db.engine.connect() as connection:
            row = connection.execute(text(
                'SELECT email, second_factor_failures, second_factor_blocked_until, totp_secret '
                'FROM "user"'
            )).one()  # fmt: skip
    assert tuple(row) == ("old@example.org", 0, None, None)
