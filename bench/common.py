"""Shared set-up for the benchmarks: an app on a fresh database built by the migrations."""

import argparse
import contextlib
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from tracker import create_app
from tracker.extensions import db


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (a scratch database is created on it and dropped); "
        "default: a temporary SQLite file",
    )
    return parser


@contextlib.contextmanager
def scratch_app(server_url: str | None):
    """An app on a new, migrated database that is thrown away afterwards."""
    if server_url:
        url = sa.make_url(server_url)
        name = f"tracker_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        database_url = url.set(database=name).render_as_string(hide_password=False)
        cleanup = lambda: _drop(admin, name)  # noqa: E731
        directory = None
    else:
        directory = tempfile.TemporaryDirectory()
        database_url = f"sqlite:///{Path(directory.name) / 'bench.sqlite3'}"
        cleanup = directory.cleanup
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    try:
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        cleanup()


@contextlib.contextmanager
def kept_app(database_url: str):
    """An app on a database that outlives the run (``--keep``, ``--keep-database``): a SQLite
    file or a PostgreSQL database, created if missing and migrated to the head (a no-op once
    they ran), so that a benchmark seeds a million rows once and later runs (after a new
    migration too) reuse them. Drop it yourself when done (``DROP DATABASE``, or delete the
    file)."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "postgresql":
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)
            ).scalar()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
        admin.dispose()
    elif url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


def _drop(admin, name):
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextlib.contextmanager
def timed(label: str, results: dict):
    start = time.perf_counter()
    yield
    results[label] = time.perf_counter() - start
    print(f"{label}: {results[label]:.2f} s", flush=True)
