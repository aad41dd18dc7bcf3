"""Languages: the user's chosen language (issue 16, part 1).

``user.language`` is ``en``, ``es`` or null ("browser default": the browser's
Accept-Language decides). Existing users keep the browser default.

Revision ID: 0015_i18n
Revises: 0014_stats
Create Date: 2026-11-30 01:40:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_i18n"
down_revision = "0014_stats"
branch_labels = None
depends_on = None


CHECK = "language IS NULL OR language IN ('en', 'es')"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK in place; a batch copy of "user" would have to
        # drop a table that every other table references (as 0005 explains).
        op.execute(
            'ALTER TABLE "user" ADD COLUMN language VARCHAR(8) '
            f"CONSTRAINT ck_user_language_valid CHECK ({CHECK})"
        )
        return
    op.add_column("user", sa.Column("language", sa.String(length=8), nullable=True))
    op.create_check_constraint(op.f("ck_user_language_valid"), "user", CHECK)


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_user_language_valid"), "user", type_="check")
    op.drop_column("user", "language")
