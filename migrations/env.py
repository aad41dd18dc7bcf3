"""Alembic environment, run through Flask-Migrate (``flask --app tracker db …``)."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name and not current_app.testing:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
target_metadata = target_db.metadata

#: Objects only the migrations know about (PostgreSQL-only search indexes).
MIGRATION_ONLY_INDEXES = {"ix_petition_name_trgm", "ix_petition_search_trgm"}
#: SQLite's FTS5 search table over petition.search_text and its shadow tables.
MIGRATION_ONLY_TABLE_PREFIX = "petition_search"


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and name.startswith(MIGRATION_ONLY_TABLE_PREFIX):
        return False
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


def run_migrations_offline():
    context.configure(
        url=str(target_db.engine.url),
        target_metadata=target_metadata,
        literal_binds=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    connectable = target_db.engine
    with connectable.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, DROP, rename) while other tables point at
            # it; SQLite's documented procedure is foreign keys off, outside any transaction
            # (on the raw connection: ours would BEGIN first), and a check before commit.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            process_revision_directives=process_revision_directives,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"The migration broke foreign keys: {broken[:5]}")
        if sqlite:
            # Never hand this connection back to the pool with foreign keys off: a fresh
            # one gets them from tracker.database's connect hook.
            connection.invalidate()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
