"""The outbox: one row per person told of one audited change, and their e-mail choices."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db

#: pending: to be sent (at next_attempt_at); sent; failed: gave up after the last retry;
#: skipped: not sent because the recipient turned e-mail off for this kind (or left).
EMAIL_STATUSES = ("pending", "sent", "failed", "skipped")


class Notification(db.Model):
    """One recipient told of one audit entry: in-app always, by e-mail unless they opted out.

    Inserted by ``tracker.notifications.services.enqueue`` in the transaction that appends the
    audit entry, so a rolled-back change notifies no one. The deliverer moves ``email_status``.
    """

    __table_args__ = (
        CheckConstraint(f"email_status IN {EMAIL_STATUSES!r}", name="email_status_valid"),
        # The bell: a user's unread count, and their list, newest first.
        Index("ix_notification_user_read", "user_id", "read_at", "id"),
        # The deliverer's queue: due pending messages, oldest first.
        Index("ix_notification_email_due", "email_status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"))
    #: The audit entry that caused it. A plain reference, not a foreign key: the audit log
    #: is append-only already, and its tamper-detection tests must be able to remove an
    #: entry and see verification notice it.
    audit_entry_id: Mapped[int]
    #: The audit action that caused it (grant, assign, note_shared, …): its kind.
    kind: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the user marked it read in the app (None: unread).
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_status: Mapped[str] = mapped_column(String(10), default="pending")
    #: Delivery attempts made so far (sent or not).
    email_attempts: Mapped[int] = mapped_column(default=0)
    #: When the deliverer may try (again): the backoff of a failed attempt.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The SMTP error of the last failed attempt (no message content).
    last_error: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()
    petition = relationship("Petition")

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} to user {self.user_id} {self.email_status}>"


class EmailOptOut(db.Model):
    """A kind of notification a user does not want by e-mail (e-mail is on by default)."""

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)

    def __repr__(self) -> str:
        return f"<EmailOptOut user {self.user_id} {self.kind}>"
