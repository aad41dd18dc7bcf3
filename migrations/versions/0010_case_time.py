"""Time on a case: clocks, referrals, information requests, reminders (issue 12).

The petition gains received_at and stage_entered_at, backfilled from its audit history
(received: its 'submit' entry, else created_at; entered its stage: its latest entry that
moved the stage, else received); the stage information_requested (stage columns widen to
30 characters, in the audit entries too); and the tables referral, information_request
and reminder. On SQLite the petition and audit_entry tables are rebuilt (batch mode; env.py
turns foreign keys off meanwhile and checks them before commit), and the audit log's
append-only triggers re-created.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

OLD_STAGES = "stage IN ('received', 'under_review', 'granted', 'denied')"
NEW_STAGES = "stage IN ('received', 'under_review', 'information_requested', 'granted', 'denied')"
REFUSAL = "audit_entry is append-only"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_audit_triggers(create: bool):
    for operation in ("UPDATE", "DELETE"):
        if create:
            op.execute(f"""
                CREATE TRIGGER audit_entry_no_{operation.lower()} BEFORE {operation} ON audit_entry
                BEGIN SELECT RAISE(ABORT, '{REFUSAL}: {operation} refused'); END""")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS audit_entry_no_{operation.lower()}")


def _stage_columns(length: int):
    """audit_entry's from_stage/to_stage as VARCHAR(length). Rebuilding the table on SQLite
    copies its rows (DROP TABLE fires no trigger), so the triggers are dropped and made again."""
    if _sqlite():
        _sqlite_audit_triggers(create=False)
    with op.batch_alter_table("audit_entry") as batch_op:
        for name in ("from_stage", "to_stage"):
            batch_op.alter_column(name, type_=sa.String(length), existing_nullable=True)
    if _sqlite():
        _sqlite_audit_triggers(create=True)


BACKFILL_RECEIVED = """
UPDATE petition SET received_at = COALESCE(
    (SELECT MIN(a.created_at) FROM audit_entry a
     WHERE a.petition_id = petition.id AND a.action = 'submit'),
    created_at)
"""
BACKFILL_STAGE_ENTERED = """
UPDATE petition SET stage_entered_at = COALESCE(
    (SELECT MAX(a.created_at) FROM audit_entry a
     WHERE a.petition_id = petition.id AND a.category = 'case' AND a.to_stage IS NOT NULL
       AND a.to_stage = petition.stage),
    received_at)
"""


def upgrade():
    with op.batch_alter_table("petition") as batch_op:
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("stage_entered_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(BACKFILL_RECEIVED)
    op.execute(BACKFILL_STAGE_ENTERED)
    with op.batch_alter_table("petition") as batch_op:
        batch_op.alter_column(
            "received_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.alter_column(
            "stage_entered_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.alter_column("stage", type_=sa.String(30), existing_nullable=False)
        batch_op.drop_constraint(op.f("ck_petition_stage_valid"), type_="check")
        batch_op.create_check_constraint("stage_valid", NEW_STAGES)
        batch_op.create_index("ix_petition_received", ["received_at", "id"])
        batch_op.create_index("ix_petition_stage_entered", ["stage_entered_at", "id"])
    _stage_columns(30)

    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=30), nullable=False),
        sa.Column("agency_name", sa.String(length=200), nullable=True),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "agency IN ('fbi', 'us_attorney', 'bop', 'sentencing_judge', "
            "'victim_notification', 'other')",
            name=op.f("ck_referral_agency_valid"),
        ),
        sa.CheckConstraint(
            "agency != 'other' OR agency_name IS NOT NULL", name=op.f("ck_referral_other_has_name")
        ),
        sa.CheckConstraint("due_on >= sent_on", name=op.f("ck_referral_due_after_sent")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_referral_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_referral_petition_id_petition")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
    )
    op.create_index("ix_referral_open_due", "referral", ["answered_on", "due_on"])
    op.create_index(op.f("ix_referral_petition_id"), "referral", ["petition_id"])

    op.create_table(
        "information_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("asked", sa.Text(), nullable=False),
        sa.Column("asked_by_id", sa.Integer(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by_id", sa.Integer(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(answered_at IS NULL) = (response IS NULL)",
            name=op.f("ck_information_request_answered_iff_response"),
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"], ["user.id"], name=op.f("fk_information_request_answered_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["asked_by_id"], ["user.id"], name=op.f("fk_information_request_asked_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petition.id"],
            name=op.f("fk_information_request_petition_id_petition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_request")),
    )
    op.create_index(
        "ix_information_request_open_due", "information_request", ["answered_at", "due_on"]
    )
    op.create_index(
        op.f("ix_information_request_petition_id"), "information_request", ["petition_id"]
    )

    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("remind_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('referral', 'information_request', 'pending_case')",
            name=op.f("ck_reminder_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_reminder_petition_id_petition")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_reminder_user_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder")),
        sa.UniqueConstraint("kind", "item_id", "user_id", "remind_on", name="uq_reminder_item_day"),
    )
    op.create_index("ix_reminder_user_day", "reminder", ["user_id", "remind_on"])


def downgrade():
    op.drop_table("reminder")
    op.drop_table("information_request")
    op.drop_table("referral")
    # Cases waiting on an information request go back to received, as before this revision.
    op.execute("UPDATE petition SET stage = 'received' WHERE stage = 'information_requested'")
    _stage_columns(20)
    with op.batch_alter_table("petition") as batch_op:
        batch_op.drop_index("ix_petition_stage_entered")
        batch_op.drop_index("ix_petition_received")
        batch_op.drop_constraint(op.f("ck_petition_stage_valid"), type_="check")
        batch_op.create_check_constraint("stage_valid", OLD_STAGES)
        batch_op.alter_column("stage", type_=sa.String(20), existing_nullable=False)
        batch_op.drop_column("stage_entered_at")
        batch_op.drop_column("received_at")
