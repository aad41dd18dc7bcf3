"""Queue: indexes for an organization's cases and a reviewer's cases in order of age.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 23:55:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_petition_org_created", "petition", ["organization_id", "created_at", "id"])
    op.create_index("ix_petition_assignee_created", "petition", ["assignee_id", "created_at", "id"])


def downgrade():
    op.drop_index("ix_petition_assignee_created", table_name="petition")
    op.drop_index("ix_petition_org_created", table_name="petition")
