"""Documents attached to cases (issue 13, part 1).

One row per uploaded file; its bytes live in the document storage (a local directory or an
S3 bucket) under their SHA-256. Never deleted: a newer document may supersede one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TYPES = (
    "judgment",
    "presentence_report",
    "bop_progress_report",
    "letter_of_support",
    "release_plan",
    "medical_records",
    "character_reference",
    "other",
)


def upgrade():
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("document_type", sa.String(length=30), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(f"document_type IN {TYPES!r}", name=op.f("ck_document_type_valid")),
        sa.CheckConstraint(
            "visibility IN ('shared', 'internal')", name=op.f("ck_document_visibility_valid")
        ),
        sa.CheckConstraint(
            "content_type IN ('application/pdf', 'image/png', 'image/jpeg')",
            name=op.f("ck_document_content_type_valid"),
        ),
        sa.CheckConstraint(
            "document_type != 'presentence_report' OR visibility = 'internal'",
            name=op.f("ck_document_presentence_report_internal"),
        ),
        sa.CheckConstraint("size > 0", name=op.f("ck_document_size_positive")),
        sa.CheckConstraint(
            "(superseded_by_id IS NULL) = (superseded_at IS NULL)",
            name=op.f("ck_document_superseded_consistent"),
        ),
        sa.ForeignKeyConstraint(
            ["petition_id"], ["petition.id"], name=op.f("fk_document_petition_id_petition")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["user.id"], name=op.f("fk_document_uploaded_by_id_user")
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["document.id"],
            name=op.f("fk_document_superseded_by_id_document"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    op.create_index("ix_document_petition_uploaded", "document", ["petition_id", "id"])


def downgrade():
    op.drop_index("ix_document_petition_uploaded", table_name="document")
    op.drop_table("document")
