"""Referrals to other agencies, information requests to the advocate, and reminders."""

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker import clock
from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db

#: Agencies a case is referred to, with their labels (the due periods are in config).
AGENCIES = {
    "fbi": _l("FBI background investigation"),
    "us_attorney": _l("U.S. Attorney (sentencing district)"),
    "bop": _l("Bureau of Prisons progress report"),
    "sentencing_judge": _l("Sentencing judge"),
    "victim_notification": _l("Victim notification"),
    "other": _l("Other agency"),
}
#: What a reminder is about.
REMINDER_KINDS = ("referral", "information_request", "pending_case")


class Referral(db.Model):
    """A request to another agency about a case; open until answered (staff only)."""

    __table_args__ = (
        CheckConstraint(f"agency IN {tuple(AGENCIES)!r}", name="agency_valid"),
        CheckConstraint("agency != 'other' OR agency_name IS NOT NULL", name="other_has_name"),
        CheckConstraint("due_on >= sent_on", name="due_after_sent"),
        Index("ix_referral_open_due", "answered_on", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), index=True)
    agency: Mapped[str] = mapped_column(String(30))
    #: The agency's name when ``agency`` is ``other``.
    agency_name: Mapped[str | None] = mapped_column(String(200))
    sent_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    answered_on: Mapped[date | None] = mapped_column(Date)
    #: The agency's answer in short, or why the referral was closed (internal).
    summary: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[User] = relationship()
    petition = relationship("Petition", viewonly=True)

    def __repr__(self) -> str:
        return f"<Referral {self.id} {self.agency} on petition {self.petition_id}>"

    @property
    def agency_label(self) -> str:
        return self.agency_name if self.agency == "other" else AGENCIES[self.agency]

    @property
    def is_open(self) -> bool:
        return self.answered_on is None

    @property
    def overdue(self) -> bool:
        return self.answered_on is None and self.due_on < clock.today()


class InformationRequest(db.Model):
    """What staff asked the advocate with ``return_for_information``, and the answer."""

    __table_args__ = (
        CheckConstraint("(answered_at IS NULL) = (response IS NULL)", name="answered_iff_response"),
        Index("ix_information_request_open_due", "answered_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), index=True)
    #: What is asked: the reason given with return_for_information.
    asked: Mapped[str] = mapped_column(Text)
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date] = mapped_column(Date)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    response: Mapped[str | None] = mapped_column(Text)

    asked_by: Mapped[User] = relationship(foreign_keys=[asked_by_id])
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    petition = relationship("Petition", viewonly=True)

    def __repr__(self) -> str:
        return f"<InformationRequest {self.id} on petition {self.petition_id}>"

    @property
    def overdue(self) -> bool:
        return self.answered_at is None and self.due_on < clock.today()


class Reminder(db.Model):
    """One reminder of one item for one person on one day (``flask reminders``).

    The unique constraint makes the command idempotent. This row is the hook for the
    notifications outbox: a deliverer picks rows whose ``delivered_at`` is null.
    """

    __table_args__ = (
        CheckConstraint(f"kind IN {REMINDER_KINDS!r}", name="kind_valid"),
        UniqueConstraint("kind", "item_id", "user_id", "remind_on", name="uq_reminder_item_day"),
        Index("ix_reminder_user_day", "user_id", "remind_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(30))
    #: The referral's, information request's or petition's id (by ``kind``).
    item_id: Mapped[int]
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"))
    remind_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set by whoever delivers it (the notifications outbox); null until then.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
    petition = relationship("Petition")

    def __repr__(self) -> str:
        return f"<Reminder {self.kind} {self.item_id} for user {self.user_id} on {self.remind_on}>"
