"""Petition facts of the federal forms, petitioner identity, eligibility waiver.

Adds the optional facts of the pardon application and the commutation petition (all
nullable: existing petitions simply lack them), the waiver request and its approval, and
``petitioner_key``, computed here for every existing petition as
``tracker.petitions.petitioners.petitioner_key`` computes it (copied, so this migration keeps
meaning what it meant when written), then made NOT NULL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NEW_COLUMNS = (
    ("relief_sought", sa.String(length=30)),
    ("aliases", sa.JSON()),
    ("docket_number", sa.String(length=100)),
    ("sentencing_judge", sa.String(length=200)),
    ("statutes", sa.JSON()),
    ("conviction_date", sa.Date()),
    ("conviction_by", sa.String(length=10)),
    ("offense_category", sa.String(length=20)),
    ("nonviolent", sa.Boolean()),
    ("bop_facility", sa.String(length=200)),
    ("custody_start_date", sa.Date()),
    ("release_date", sa.Date()),
    ("supervision_end_date", sa.Date()),
    # Dollars as whole cents (tracker.petitions.models.Dollars).
    ("fine_amount", sa.BigInteger()),
    ("restitution_amount", sa.BigInteger()),
    ("financial_obligations_paid", sa.Boolean()),
    ("representative", sa.String(length=200)),
    ("contact_email", sa.String(length=254)),
    ("contact_phone", sa.String(length=40)),
    ("contact_address", sa.Text()),
    ("waiver_requested", sa.Boolean()),
    ("waiver_justification", sa.Text()),
    ("waiver_approved_at", sa.DateTime(timezone=True)),
    ("waiver_approved_by_id", sa.Integer()),
    ("waiver_approval_reason", sa.Text()),
    ("petitioner_key", sa.String(length=240)),
)
CHECKS = {
    "conviction_by_valid": "conviction_by IN ('plea', 'trial')",
    "offense_category_valid": "offense_category IN ('drug', 'firearms', 'fraud', "
    "'immigration', 'violent', 'sex_offense', 'other')",
    "relief_sought_valid": "relief_sought IN ('full_pardon', 'commutation_time_served', "
    "'commutation_reduced', 'remission', 'respite')",
    "fine_amount_positive": "fine_amount >= 0",
    "restitution_amount_positive": "restitution_amount >= 0",
    "waiver_approval_recorded": "(waiver_approved_at IS NULL) = (waiver_approved_by_id IS NULL) "
    "AND (waiver_approved_at IS NULL) = (waiver_approval_reason IS NULL)",
}


def _petitioner_key(register_number, name, born) -> str:
    if register_number:
        return f"R:{register_number}"
    name = " ".join((name or "").split()).casefold()
    return f"N:{born.isoformat() if born else ''}:{name}"[:240]


def upgrade():
    with op.batch_alter_table("petition") as batch:
        for name, type_ in NEW_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    petition = sa.table(
        "petition",
        sa.column("id", sa.Integer()),
        sa.column("register_number", sa.String()),
        sa.column("petitioner_name", sa.String()),
        sa.column("date_of_birth", sa.Date()),
        sa.column("petitioner_key", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            petition.c.id,
            petition.c.register_number,
            petition.c.petitioner_name,
            petition.c.date_of_birth,
        )
    ).all()
    for row in rows:
        connection.execute(
            petition.update()
            .where(petition.c.id == row.id)
            .values(petitioner_key=_petitioner_key(*row[1:]))
        )
    with op.batch_alter_table("petition") as batch:
        batch.alter_column("petitioner_key", existing_type=sa.String(length=240), nullable=False)
        batch.create_foreign_key(
            op.f("fk_petition_waiver_approved_by_id_user"),
            "user",
            ["waiver_approved_by_id"],
            ["id"],
        )
        for name, condition in CHECKS.items():
            batch.create_check_constraint(op.f(f"ck_petition_{name}"), condition)
        batch.create_index(op.f("ix_petition_petitioner_key_stage"), ["petitioner_key", "stage"])


def downgrade():
    with op.batch_alter_table("petition") as batch:
        batch.drop_index(op.f("ix_petition_petitioner_key_stage"))
        for name in CHECKS:
            batch.drop_constraint(op.f(f"ck_petition_{name}"), type_="check")
        batch.drop_constraint(op.f("fk_petition_waiver_approved_by_id_user"), type_="foreignkey")
        for name, _type in reversed(NEW_COLUMNS):
            batch.drop_column(name)
