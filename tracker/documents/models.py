"""A document attached to a case: its description and where its bytes are (by SHA-256)."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db

#: The kinds of paper a clemency case is made of (issue 13), with their labels.
DOCUMENT_TYPES = {
    "judgment": _l("Judgment"),
    "presentence_report": _l("Presentence report"),
    "bop_progress_report": _l("BOP progress report"),
    "letter_of_support": _l("Letter of support"),
    "release_plan": _l("Release plan"),
    "medical_records": _l("Medical records"),
    "character_reference": _l("Character reference"),
    "other": _l("Other"),
}
DOCUMENT_VISIBILITIES = {
    "shared": _l("Shared (the advocate's organization and staff)"),
    "internal": _l("Internal (staff only)"),
}
#: Types that are internal whoever uploads them and whatever visibility they ask for.
ALWAYS_INTERNAL_TYPES = frozenset({"presentence_report"})
#: Accepted content, as judged from the bytes (never the name or the declared type).
ACCEPTED_CONTENT_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
}
FILENAME_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 1000


class Document(db.Model):
    """One uploaded file of a case. Never deleted: a newer one may supersede it.

    Append-only in the database (triggers, migration 0012): DELETE is refused, and so is
    every UPDATE but the supersede mark (superseded_by_id and superseded_at set on a
    document not yet superseded, nothing else changed).
    """

    __table_args__ = (
        CheckConstraint(f"document_type IN {tuple(DOCUMENT_TYPES)!r}", name="type_valid"),
        CheckConstraint(f"visibility IN {tuple(DOCUMENT_VISIBILITIES)!r}", name="visibility_valid"),
        CheckConstraint(
            f"content_type IN {tuple(ACCEPTED_CONTENT_TYPES)!r}", name="content_type_valid"
        ),
        CheckConstraint(
            "document_type != 'presentence_report' OR visibility = 'internal'",
            name="presentence_report_internal",
        ),
        CheckConstraint("size > 0", name="size_positive"),
        # Superseded exactly when a superseding document and a time are recorded.
        CheckConstraint(
            "(superseded_by_id IS NULL) = (superseded_at IS NULL)", name="superseded_consistent"
        ),
        Index("ix_document_petition_uploaded", "petition_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"))
    document_type: Mapped[str] = mapped_column(String(30))
    #: shared (the advocate's organization and staff) or internal (staff only).
    visibility: Mapped[str] = mapped_column(String(10))
    #: The name the uploader's file had; shown and offered on download, never used to store.
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX_LENGTH))
    description: Mapped[str | None] = mapped_column(Text)
    #: Bytes; the stored object is named by sha256 (hex), so equal files are stored once.
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    #: Judged from the bytes at upload (one of ACCEPTED_CONTENT_TYPES).
    content_type: Mapped[str] = mapped_column(String(50))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The newer document that replaces this one (the old one stays, marked superseded).
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    uploaded_by: Mapped[User] = relationship(foreign_keys=[uploaded_by_id])
    petition = relationship("Petition")

    def __repr__(self) -> str:
        return f"<Document {self.id} {self.document_type} of petition {self.petition_id}>"

    @property
    def type_label(self) -> str:
        return DOCUMENT_TYPES[self.document_type]

    @property
    def is_superseded(self) -> bool:
        return self.superseded_by_id is not None
