"""Dispositions, reliefs and recommendations (issue 11, items 3 to 5).

A fifth, final stage ``closed``; every decided or closed case has a ``disposition``, a
granted one its ``relief`` (with the details a relief needs); recommendations on a case.
Existing rows are carried forward: a granted case's disposition is ``granted`` and its
relief ``unspecified`` (nobody recorded one), a denied case's disposition ``denied``.

SQLite cannot add or change a table's CHECK constraints with ALTER TABLE, and a batch
copy of "petition" would have to drop a table that notes and audit entries reference;
the constraints change no stored data, so there the table's schema text is rewritten in
place (the documented ``writable_schema`` procedure), after the rows were carried forward.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:20:00

"""

import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD_CHECKS = {
    "stage_valid": (
        "stage IN ('received', 'under_review', 'information_requested', 'granted', 'denied')"
    ),
    "decided_iff_decision_recorded": (
        "(stage IN ('granted', 'denied') AND decided_at IS NOT NULL AND decided_by_id IS NOT "
        "NULL AND decision_reason IS NOT NULL) OR (stage NOT IN ('granted', 'denied') AND "
        "decided_at IS NULL AND decided_by_id IS NULL AND decision_reason IS NULL)"
    ),
}
NEW_CHECKS = {
    "stage_valid": (
        "stage IN ('received', 'under_review', 'information_requested', 'granted', 'denied', "
        "'closed')"
    ),
    "decided_iff_decision_recorded": (
        "(stage IN ('granted', 'denied', 'closed') AND decided_at IS NOT NULL AND "
        "decided_by_id IS NOT NULL AND disposition IS NOT NULL AND (decision_reason IS NOT "
        "NULL OR disposition = 'withdrawn')) OR (stage NOT IN ('granted', 'denied', "
        "'closed') AND decided_at IS NULL AND decided_by_id IS NULL AND decision_reason IS "
        "NULL AND disposition IS NULL)"
    ),
    "disposition_valid": (
        "disposition IN ('granted', 'denied', 'withdrawn', 'closed_without_action', "
        "'ineligible', 'deceased', 'moot')"
    ),
    "disposition_matches_stage": (
        "disposition IS NULL OR (stage = 'granted' AND disposition = 'granted') OR "
        "(stage = 'denied' AND disposition = 'denied') OR (stage = 'closed' AND disposition "
        "IN ('withdrawn', 'closed_without_action', 'ineligible', 'deceased', 'moot'))"
    ),
    "granted_iff_relief": "(stage = 'granted') = (relief IS NOT NULL)",
    "relief_valid": (
        "relief IN ('full_pardon', 'commutation_time_served', 'commutation_reduced', "
        "'remission', 'respite', 'unspecified')"
    ),
    "relief_fits_kind": (
        "relief IS NULL OR relief = 'unspecified' OR (kind = 'pardon') = (relief = 'full_pardon')"
    ),
    "relief_details_only_with_relief": (
        "relief IS NOT NULL OR (commuted_sentence IS NULL AND new_release_date IS NULL AND "
        "remission_amount IS NULL AND relief_terms IS NULL)"
    ),
    "remission_has_amount": "relief != 'remission' OR (remission_amount IS NOT NULL AND remission_amount > 0)",
    "reduced_commutation_says_how": (
        "relief != 'commutation_reduced' OR commuted_sentence IS NOT NULL OR "
        "new_release_date IS NOT NULL"
    ),
}


def new_columns():
    return (
        sa.Column("disposition", sa.String(length=30), nullable=True),
        sa.Column("relief", sa.String(length=30), nullable=True),
        sa.Column("commuted_sentence", sa.Text(), nullable=True),
        sa.Column("new_release_date", sa.Date(), nullable=True),
        sa.Column("remission_amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("relief_terms", sa.Text(), nullable=True),
    )


def _sqlite_set_checks(checks: dict[str, str], old: dict[str, str]) -> None:
    """Replace the petition table's CHECK constraints named in ``old`` ∪ ``checks`` by
    ``checks`` in SQLite's stored schema text."""
    connection = op.get_bind()
    sql = connection.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'petition'")
    ).scalar_one()
    for name in set(old) | set(checks):
        pattern = (
            rf",\s*CONSTRAINT ck_petition_{name} CHECK \((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)"
        )
        sql = re.sub(pattern, "", sql)
    additions = "".join(
        f",\n\tCONSTRAINT ck_petition_{name} CHECK ({text})" for name, text in checks.items()
    )
    sql = sql.rstrip().removesuffix(")").rstrip() + additions + "\n)"
    version = connection.execute(sa.text("PRAGMA schema_version")).scalar_one()
    connection.execute(sa.text("PRAGMA writable_schema = ON"))
    connection.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'petition'"),
        {"sql": sql},
    )
    connection.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    connection.execute(sa.text("PRAGMA writable_schema = OFF"))


def _set_checks(checks: dict[str, str], old: dict[str, str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_set_checks(checks, old)
        return
    for name in set(old) | set(checks):
        op.execute(f"ALTER TABLE petition DROP CONSTRAINT IF EXISTS ck_petition_{name}")
    for name, text in checks.items():
        op.create_check_constraint(op.f(f"ck_petition_{name}"), "petition", sa.text(text))


def upgrade():
    for column in new_columns():
        op.add_column("petition", column)
    op.execute("UPDATE petition SET disposition = stage WHERE stage IN ('granted', 'denied')")
    op.execute("UPDATE petition SET relief = 'unspecified' WHERE stage = 'granted'")
    _set_checks(NEW_CHECKS, OLD_CHECKS)
    op.create_table(
        "recommendation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("recommendation", sa.String(length=20), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "recommendation IN ('favorable', 'unfavorable', 'no_position')",
            name=op.f("ck_recommendation_recommendation_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user.id"], name=op.f("fk_recommendation_author_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_recommendation_petition_id_petition")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation")),
    )
    op.create_index(
        "ix_recommendation_petition_id", "recommendation", ["petition_id", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_recommendation_petition_id", table_name="recommendation")
    op.drop_table("recommendation")
    # A closed case has no place in the older schema: it goes back to where it can be
    # reopened from, under review, without a decision.
    op.execute(
        "UPDATE petition SET stage = 'under_review', decided_at = NULL, decided_by_id = NULL, "
        "decision_reason = NULL, disposition = NULL WHERE stage = 'closed'"
    )
    _set_checks(OLD_CHECKS, NEW_CHECKS)
    for column in reversed(new_columns()):
        op.drop_column("petition", column.name)
