"""Accounts: login throttling per (e-mail, address), repeated security events, no lockout.

Wrong passwords are counted per e-mail and client address in login_throttle (no more
per-account lockout: the user's failed_login_count and first_failed_login_at go);
locked_until becomes second_factor_blocked_until, the wait after wrong codes. Repeated
identical security events are counted in security_event_window.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_throttle")),
        sa.UniqueConstraint("email", "ip_address", name=op.f("uq_login_throttle_email")),
    )
    op.create_index(
        op.f("ix_login_throttle_last_failure_at"), "login_throttle", ["last_failure_at"]
    )
    op.create_table(
        "security_event_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("first_entry_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_event_window")),
        sa.UniqueConstraint("signature", name=op.f("uq_security_event_window_signature")),
    )
    op.create_index(
        op.f("ix_security_event_window_opened_at"), "security_event_window", ["opened_at"]
    )
    # Plain ALTER TABLE (SQLite >= 3.35 drops and renames columns in place): a batch copy of
    # "user" would have to drop a table that every other table references.
    op.drop_column("user", "failed_login_count")
    op.drop_column("user", "first_failed_login_at")
    op.alter_column("user", "locked_until", new_column_name="second_factor_blocked_until")


def downgrade():
    op.alter_column("user", "second_factor_blocked_until", new_column_name="locked_until")
    op.add_column(
        "user", sa.Column("first_failed_login_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "user",
        sa.Column("failed_login_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.drop_index(op.f("ix_security_event_window_opened_at"), table_name="security_event_window")
    op.drop_table("security_event_window")
    op.drop_index(op.f("ix_login_throttle_last_failure_at"), table_name="login_throttle")
    op.drop_table("login_throttle")
