"""Statistics and dashboards (issue 14): indexes their aggregates read.

- ``ix_petition_stage_kind``: cases per stage and kind, counted from the index alone;
- ``ix_petition_decided``: decisions per month and the days from receipt to decision, from
  the index alone (decided_at, kind, received_at);
- partial indexes over the open cases only (received, under review, information requested:
  a few percent of all once the office has run for years): ``ix_petition_open_received``
  (the oldest open cases), ``ix_petition_open_assignee`` (each reviewer's open cases and
  oldest), ``ix_petition_open_org`` (an organization's open cases),
  ``ix_petition_open_stage_entered`` (days in each open stage). Their condition is word for
  word the one the dashboards' queries write, so both databases use them.

Indexes only: no data changes.

Revision ID: 0014_stats
Revises: 0013_readlog
Create Date: 2026-11-30 01:40:00

"""

import sqlalchemy as sa
from alembic import op

OPEN_STAGES_SQL = "stage IN ('received', 'under_review', 'information_requested')"
OPEN_ONLY = {"postgresql_where": sa.text(OPEN_STAGES_SQL), "sqlite_where": sa.text(OPEN_STAGES_SQL)}
OPEN_INDEXES = {
    "ix_petition_open_received": ["received_at", "id"],
    "ix_petition_open_assignee": ["assignee_id", "received_at", "id"],
    "ix_petition_open_org": ["organization_id", "received_at", "id"],
    "ix_petition_open_stage_entered": ["stage", "stage_entered_at"],
}

# revision identifiers, used by Alembic.
revision = "0014_stats"
down_revision = "0013_readlog"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_petition_stage_kind", "petition", ["stage", "kind"])
    op.create_index("ix_petition_decided", "petition", ["decided_at", "kind", "received_at"])
    for name, columns in OPEN_INDEXES.items():
        op.create_index(name, "petition", columns, **OPEN_ONLY)


def downgrade():
    for name in reversed(OPEN_INDEXES):
        op.drop_index(name, table_name="petition")
    op.drop_index("ix_petition_decided", table_name="petition")
    op.drop_index("ix_petition_stage_kind", table_name="petition")
