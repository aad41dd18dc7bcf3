"""The read log: one append-only row per read of a case, a document or an export."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db

#: Where the read came from.
INTERFACES = ("web", "api", "cli")
#: What was read. Case reads (counted by the unusual-access report) are those naming a case.
KINDS = (
    "case_page",  # the web case page
    "case_api",  # GET /api/v1/petitions/<case_number>
    "history_api",  # GET /api/v1/petitions/<case_number>/history
    "document_download",  # a document's content (tracker.documents calls record_read)
    "bulk_confirmation",  # a case listed on the bulk decision's confirmation page
    "audit_export",  # an export of the audit log
    "access_log_export",  # an export of this log
    "case_export",  # any other CSV of cases
)


class ReadLogEntry(db.Model):
    """One read: who, when, which case or document, the client's address and interface.

    Rows are only ever inserted (database triggers refuse UPDATE and DELETE). They are not
    in the audit hash chain: each finished UTC day is sealed by a digest appended to the
    audit chain (``read_log_digested``), see ``tracker.readlog.services.digest_days``.
    """

    __table_args__ = (
        CheckConstraint(f"interface IN {INTERFACES!r}", name="interface_valid"),
        CheckConstraint(f"kind IN {KINDS!r}", name="kind_valid"),
        Index("ix_read_log_entry_petition_id", "petition_id", "id"),
        Index("ix_read_log_entry_user_id", "user_id", "id"),
        Index("ix_read_log_entry_created_at", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The reader; None only for a command run without a user.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    interface: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(30))
    petition_id: Mapped[int | None] = mapped_column(ForeignKey("petition.id"))
    #: The document downloaded.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"))
    #: Whether the case was assigned to the reader at the time of the read (None: no case).
    reader_assigned: Mapped[bool | None]
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: What an export covered (filters, how many rows), for reads that are not of one case.
    details: Mapped[dict | None] = mapped_column(JSON)

    user: Mapped[User | None] = relationship()
    petition = relationship("Petition")

    def __repr__(self) -> str:
        return f"<ReadLogEntry {self.id} {self.kind}>"
