"""Read log: who read which case or document, append-only like the audit log.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:20:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INTERFACES = ("web", "api", "cli")
KINDS = (
    "case_page",
    "case_api",
    "history_api",
    "document_download",
    "bulk_confirmation",
    "audit_export",
    "access_log_export",
    "case_export",
)
REFUSAL = "read_log_entry is append-only"


def upgrade():
    op.create_table(
        "read_log_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("interface", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("reader_assigned", sa.Boolean(), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            f"interface IN {INTERFACES!r}", name=op.f("ck_read_log_entry_interface_valid")
        ),
        sa.CheckConstraint(f"kind IN {KINDS!r}", name=op.f("ck_read_log_entry_kind_valid")),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_read_log_entry_petition_id_petition")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_read_log_entry_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_read_log_entry")),
    )
    op.create_index("ix_read_log_entry_petition_id", "read_log_entry", ["petition_id", "id"])
    op.create_index("ix_read_log_entry_user_id", "read_log_entry", ["user_id", "id"])
    op.create_index("ix_read_log_entry_created_at", "read_log_entry", ["created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION read_log_entry_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{REFUSAL}: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("""
            CREATE TRIGGER read_log_entry_no_update_delete BEFORE UPDATE OR DELETE ON read_log_entry
            FOR EACH ROW EXECUTE FUNCTION read_log_entry_refuse_change()""")
        op.execute("""
            CREATE TRIGGER read_log_entry_no_truncate BEFORE TRUNCATE ON read_log_entry
            FOR EACH STATEMENT EXECUTE FUNCTION read_log_entry_refuse_change()""")
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER read_log_entry_no_{operation.lower()} BEFORE {operation} ON read_log_entry
                BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} refused'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS read_log_entry_no_truncate ON read_log_entry")
        op.execute("DROP TRIGGER IF EXISTS read_log_entry_no_update_delete ON read_log_entry")
        op.execute("DROP FUNCTION IF EXISTS read_log_entry_refuse_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS read_log_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS read_log_entry_no_delete")
    op.drop_index("ix_read_log_entry_created_at", table_name="read_log_entry")
    op.drop_index("ix_read_log_entry_user_id", table_name="read_log_entry")
    op.drop_index("ix_read_log_entry_petition_id", table_name="read_log_entry")
    op.drop_table("read_log_entry")
