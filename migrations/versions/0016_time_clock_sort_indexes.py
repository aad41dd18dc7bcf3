"""Queue: indexes for the clocks' orders under a stage, an organization or an assignee.

The queue sorts by days pending (received_at) or days in stage (stage_entered_at) as well as
by age (created_at). Filtered by one stage, an organization (every advocate's list) or an
assignee, a page in those orders had only (…, created_at, id) indexes to read: the database
read every match and sorted them (3 s for the cases under review on SQLite at a million
cases). These indexes give each filter its cases in each clock's order. No data changes.

Revision ID: 0016_time
Revises: 0015_i18n
Create Date: 2026-11-30 02:10:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_time"
down_revision = "0015_i18n"
branch_labels = None
depends_on = None

#: name → columns, in the order the models declare them.
INDEXES = {
    "ix_petition_stage_received": ["stage", "received_at", "id"],
    "ix_petition_stage_stage_entered": ["stage", "stage_entered_at", "id"],
    "ix_petition_org_received": ["organization_id", "received_at", "id"],
    "ix_petition_org_stage_entered": ["organization_id", "stage_entered_at", "id"],
    "ix_petition_assignee_received": ["assignee_id", "received_at", "id"],
    "ix_petition_assignee_stage_entered": ["assignee_id", "stage_entered_at", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "petition", columns)


def downgrade():
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="petition")
