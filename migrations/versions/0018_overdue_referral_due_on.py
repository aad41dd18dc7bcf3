"""Petitions keep the due date of their earliest open referral, indexed for the queue.

The queue's ``referral_overdue`` filter searched the referral table for the overdue ones and
read each of their cases by id: 160–320 ms a page at a million cases, where the other
filters read an index in queue order. ``petition.referral_due_on`` (null when no referral is
open) is kept by every referral write; partial indexes over the cases that have one, in each
queue order, answer the filter, the stage and the assignee from the index. Backfilled here
from the open referrals.

Revision ID: 0018_overdue
Revises: 0017_search
Create Date: 2026-11-30 05:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_overdue"
down_revision = "0017_search"
branch_labels = None
depends_on = None

WHERE = "referral_due_on IS NOT NULL"
FILTERED = ["referral_due_on", "stage", "assignee_id"]
#: name → columns, in the order the models declare them.
INDEXES = {
    "ix_petition_referral_created": ["created_at", "id", *FILTERED],
    "ix_petition_referral_received": ["received_at", "id", *FILTERED],
    "ix_petition_referral_stage_entered": ["stage_entered_at", "id", *FILTERED],
}


def upgrade():
    op.add_column("petition", sa.Column("referral_due_on", sa.Date(), nullable=True))
    op.execute("""
        UPDATE petition SET referral_due_on = (
            SELECT min(referral.due_on) FROM referral
            WHERE referral.petition_id = petition.id AND referral.answered_on IS NULL)
        WHERE id IN (SELECT petition_id FROM referral WHERE answered_on IS NULL)""")
    for name, columns in INDEXES.items():
        op.create_index(
            name,
            "petition",
            columns,
            postgresql_where=sa.text(WHERE),
            sqlite_where=sa.text(WHERE),
        )
    if op.get_bind().dialect.name == "postgresql":
        # The planner needs the new column's statistics to see how few cases the indexes hold.
        op.execute("ANALYZE petition")


def downgrade():
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="petition")
    with op.batch_alter_table("petition") as batch_op:
        batch_op.drop_column("referral_due_on")
