"""Dashboards and statistics: the summary kept with each change (three ``…_tally`` tables).

``stage_tally`` counts the cases per (kind, stage); ``open_day_tally`` the open cases per
(stage, day they entered it); ``month_tally`` per (measure, kind, month,
days): the cases by month of receipt and of decision (the decision's split by whole days from
receipt), and the audit entries the fiscal-year statistics count (see
``tracker.dashboards.models``). Months are those of ``DISPLAY_TIMEZONE``.

The backfill counts the existing petitions and audit entries here, in one pass each (written
out rather than imported, so later changes to the app leave this revision as it ran);
``flask dashboards verify`` checks the result against the app's own recount. And an index
for the advocate's dashboard: ``ix_petition_org_decided`` (an organization's decisions of the
fiscal year, from the index alone).

Revision ID: 0019_dash
Revises: 0018_overdue
Create Date: 2026-11-30 05:40:00

"""

import math
from collections import Counter
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

# revision identifiers, used by Alembic.
revision = "0019_dash"
down_revision = "0018_overdue"
branch_labels = None
depends_on = None

OPEN = ("received", "under_review", "information_requested")
DECIDED = ("granted", "denied", "closed")

petition = sa.table(
    "petition",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("stage", sa.String),
    sa.column("received_at", sa.DateTime),
    sa.column("decided_at", sa.DateTime),
    sa.column("stage_entered_at", sa.DateTime),
)
audit_entry = sa.table(
    "audit_entry",
    sa.column("petition_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("from_stage", sa.String),
    sa.column("to_stage", sa.String),
    sa.column("created_at", sa.DateTime),
    sa.column("changes", sa.JSON),
    sa.column("details", sa.JSON),
)


def _history_measure(action, from_stage, to_stage, disposition):
    if action == "submit":
        return "submitted"
    if to_stage in OPEN:
        return "reopened" if from_stage in DECIDED else None
    if from_stage in DECIDED:
        return None
    if to_stage == "closed":
        return "closed_without_action" if disposition == "closed_without_action" else "closed_other"
    return to_stage


def _counts(connection) -> Counter:
    zone = ZoneInfo(
        current_app.config["DISPLAY_TIMEZONE"] if has_app_context() else "America/New_York"
    )

    def utc(moment):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def month(moment):
        return utc(moment).astimezone(zone).date().replace(day=1)

    counted = Counter()
    cases = sa.select(
        petition.c.kind,
        petition.c.stage,
        petition.c.received_at,
        petition.c.decided_at,
        petition.c.stage_entered_at,
    )
    for kind, stage, received_at, decided_at, entered_at in connection.execute(
        cases.execution_options(yield_per=20_000)
    ):
        counted[("stage", kind, stage)] += 1
        if stage in OPEN:
            counted[("day", stage, utc(entered_at).astimezone(zone).date())] += 1
        counted[("month", "received", kind, month(received_at), 0)] += 1
        if decided_at is not None:
            days = math.floor((utc(decided_at) - utc(received_at)).total_seconds() / 86_400)
            counted[("month", "decided", kind, month(decided_at), days)] += 1
    entries = (
        sa.select(
            petition.c.kind,
            audit_entry.c.action,
            audit_entry.c.from_stage,
            audit_entry.c.to_stage,
            audit_entry.c.created_at,
            sa.case((audit_entry.c.to_stage == "closed", audit_entry.c.changes), else_=None),
            sa.case(
                (audit_entry.c.action.in_(("grant", "deny")), audit_entry.c.details), else_=None
            ),
        )
        .join(petition, petition.c.id == audit_entry.c.petition_id)
        .where(audit_entry.c.to_stage.is_not(None))
    )
    rows = connection.execute(entries.execution_options(yield_per=20_000))
    for kind, action, from_stage, to_stage, created_at, changes, details in rows:
        disposition = ((changes or {}).get("disposition") or [None, None])[1]
        measure = _history_measure(action, from_stage, to_stage, disposition)
        if measure:
            counted[("month", measure, kind, month(created_at), 0)] += 1
        if action in ("grant", "deny") and (details or {}).get("against_recommendation"):
            counted[("month", f"{action}_against", kind, month(created_at), 0)] += 1
    return counted


def upgrade():
    stage_tally = op.create_table(
        "stage_tally",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "stage", name=op.f("pk_stage_tally")),
    )
    month_tally = op.create_table(
        "month_tally",
        sa.Column("measure", sa.String(length=30), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("measure", "month", "kind", "days", name=op.f("pk_month_tally")),
    )
    open_day_tally = op.create_table(
        "open_day_tally",
        sa.Column("stage", sa.String(length=30), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stage", "day", name=op.f("pk_open_day_tally")),
    )
    op.create_index(
        "ix_petition_org_decided", "petition", ["organization_id", "decided_at", "kind", "stage"]
    )
    counted = _counts(op.get_bind())
    stage_rows = [
        {"kind": k[1], "stage": k[2], "cases": n} for k, n in counted.items() if k[0] == "stage"
    ]
    month_rows = [
        {"measure": k[1], "kind": k[2], "month": k[3], "days": k[4], "cases": n}
        for k, n in counted.items()
        if k[0] == "month"
    ]
    day_rows = [
        {"stage": k[1], "day": k[2], "cases": n} for k, n in counted.items() if k[0] == "day"
    ]
    if stage_rows:
        op.bulk_insert(stage_tally, stage_rows)
    if day_rows:
        op.bulk_insert(open_day_tally, day_rows)
    for start in range(0, len(month_rows), 5_000):
        op.bulk_insert(month_tally, month_rows[start : start + 5_000])
    if op.get_bind().dialect.name == "postgresql":
        # Statistics now, not at autovacuum's next round: the reads need the primary key.
        op.execute("ANALYZE stage_tally, month_tally, open_day_tally")


def downgrade():
    op.drop_index("ix_petition_org_decided", table_name="petition")
    op.drop_table("open_day_tally")
    op.drop_table("month_tally")
    op.drop_table("stage_tally")
