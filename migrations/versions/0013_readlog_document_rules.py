"""The read log names real documents; documents are append-only but for their supersede mark.

- read_log_entry.document_id gains its foreign key to document (it had none). A read of a
  document that does not exist cannot be repaired (the read log refuses UPDATE), so the
  upgrade stops and names such rows rather than drop or rewrite evidence.
- document rows are append-only in the database, as the audit log and the read log are:
  DELETE (and TRUNCATE on PostgreSQL) is refused, and so is every UPDATE except the one the
  supersede path makes — a document not yet superseded gets its superseded_by_id and
  superseded_at, nothing else changes. On SQLite the read log's table is rebuilt to add the
  key (batch mode; env.py turns foreign keys off meanwhile and checks them before commit),
  so its append-only triggers are dropped and made again.

Revision ID: 0013_readlog
Revises: 0012_acts
Create Date: 2026-11-30 01:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_readlog"
down_revision = "0012_acts"
branch_labels = None
depends_on = None

READ_LOG_REFUSAL = "read_log_entry is append-only"
DOCUMENT_REFUSAL = "document is append-only (only a supersede mark may be added)"
FOREIGN_KEY = "fk_read_log_entry_document_id_document"
#: The columns a supersede mark must leave as they are (every column of 0006's table but
#: the two it sets).
UNCHANGED = (
    "id",
    "petition_id",
    "document_type",
    "visibility",
    "filename",
    "description",
    "size",
    "sha256",
    "content_type",
    "uploaded_by_id",
    "uploaded_at",
)
#: The one change allowed: a document not yet superseded is marked superseded.
SUPERSEDE_MARK = (
    "OLD.superseded_by_id IS NULL AND NEW.superseded_by_id IS NOT NULL AND "
    + " AND ".join(f"NEW.{column} IS NOT DISTINCT FROM OLD.{column}" for column in UNCHANGED)
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_read_log_triggers(create: bool):
    for operation in ("UPDATE", "DELETE"):
        if create:
            op.execute(f"""
                CREATE TRIGGER read_log_entry_no_{operation.lower()} BEFORE {operation}
                ON read_log_entry
                BEGIN SELECT RAISE(ABORT, '{READ_LOG_REFUSAL}: {operation} refused'); END""")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS read_log_entry_no_{operation.lower()}")


def _refuse_dangling_reads():
    dangling = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT r.id, r.document_id FROM read_log_entry r "
                "WHERE r.document_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM document d WHERE d.id = r.document_id) ORDER BY r.id LIMIT 10"
            )
        )
        .all()
    )
    if dangling:
        listed = ", ".join(f"entry {entry} → document {document}" for entry, document in dangling)
        raise RuntimeError(
            "read_log_entry rows name documents that do not exist, so the foreign key "
            f"cannot be added (the read log is append-only; nothing was changed): {listed}"
        )


def _document_triggers_postgresql():
    op.execute(f"""
        CREATE FUNCTION document_refuse_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND {SUPERSEDE_MARK} THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{DOCUMENT_REFUSAL}: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("""
        CREATE TRIGGER document_append_only BEFORE UPDATE OR DELETE ON document
        FOR EACH ROW EXECUTE FUNCTION document_refuse_change()""")
    op.execute("""
        CREATE TRIGGER document_no_truncate BEFORE TRUNCATE ON document
        FOR EACH STATEMENT EXECUTE FUNCTION document_refuse_change()""")


def _document_triggers_sqlite():
    # SQLite spells IS NOT DISTINCT FROM as IS.
    mark = SUPERSEDE_MARK.replace("IS NOT DISTINCT FROM", "IS")
    op.execute(f"""
        CREATE TRIGGER document_no_update BEFORE UPDATE ON document WHEN NOT ({mark})
        BEGIN SELECT RAISE(ABORT, '{DOCUMENT_REFUSAL}: UPDATE refused'); END""")
    op.execute(f"""
        CREATE TRIGGER document_no_delete BEFORE DELETE ON document
        BEGIN SELECT RAISE(ABORT, '{DOCUMENT_REFUSAL}: DELETE refused'); END""")


def upgrade():
    _refuse_dangling_reads()
    if _sqlite():
        _sqlite_read_log_triggers(create=False)
        with op.batch_alter_table("read_log_entry") as batch_op:
            batch_op.create_foreign_key(FOREIGN_KEY, "document", ["document_id"], ["id"])
        _sqlite_read_log_triggers(create=True)
        _document_triggers_sqlite()
    else:
        op.create_foreign_key(FOREIGN_KEY, "read_log_entry", "document", ["document_id"], ["id"])
        _document_triggers_postgresql()


def downgrade():
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS document_no_update")
        op.execute("DROP TRIGGER IF EXISTS document_no_delete")
        _sqlite_read_log_triggers(create=False)
        with op.batch_alter_table("read_log_entry") as batch_op:
            batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        _sqlite_read_log_triggers(create=True)
    else:
        op.execute("DROP TRIGGER IF EXISTS document_no_truncate ON document")
        op.execute("DROP TRIGGER IF EXISTS document_append_only ON document")
        op.execute("DROP FUNCTION IF EXISTS document_refuse_change()")
        op.drop_constraint(FOREIGN_KEY, "read_log_entry", type_="foreignkey")
