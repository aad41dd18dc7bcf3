"""Clemency acts and their cases (issue 14, part 1).

Two new tables, no data carried: ``act`` (a drafted or recorded act of clemency) and
``act_case`` (its cases). The grants an act records are ordinary ``grant`` decisions of
the petitions, whose audit entries name the act.

Revision ID: 0012_acts
Revises: 0011
Create Date: 2026-11-30 01:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_acts"
down_revision = "0011"
branch_labels = None
depends_on = None

RELIEFS = (
    "full_pardon",
    "commutation_time_served",
    "commutation_reduced",
    "remission",
    "respite",
    "unspecified",
)


def upgrade():
    op.create_table(
        "act",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("authority", sa.String(length=100), nullable=False),
        sa.Column("relief", sa.String(length=30), nullable=False),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_count", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('draft', 'recorded')", name=op.f("ck_act_state_valid")),
        sa.CheckConstraint(f"relief IN {RELIEFS!r}", name=op.f("ck_act_relief_valid")),
        sa.CheckConstraint(
            "(state = 'recorded') = (recorded_at IS NOT NULL) AND "
            "(recorded_at IS NULL) = (recorded_by_id IS NULL)",
            name=op.f("ck_act_recorded_iff_recorder"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_act_created_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user.id"], name=op.f("fk_act_recorded_by_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_act")),
    )
    op.create_index("ix_act_signed_on", "act", ["signed_on", "id"])
    op.create_table(
        "act_case",
        sa.Column("act_id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["act_id"], ["act.id"], name=op.f("fk_act_case_act_id_act")),
        sa.ForeignKeyConstraint(
            ["added_by_id"], ["user.id"], name=op.f("fk_act_case_added_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_act_case_petition_id_petition")
        ),
        sa.PrimaryKeyConstraint("act_id", "petition_id", name=op.f("pk_act_case")),
    )
    op.create_index("ix_act_case_petition_id", "act_case", ["petition_id", "act_id"])


def downgrade():
    op.drop_index("ix_act_case_petition_id", table_name="act_case")
    op.drop_table("act_case")
    op.drop_index("ix_act_signed_on", table_name="act")
    op.drop_table("act")
