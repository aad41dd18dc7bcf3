"""A clemency act and its cases.

An act is drafted by a supervisor, gathers cases (by the queue's filters or by register
numbers), and is recorded once: recording grants every included case through the one
decision path (``tracker.petitions.services``) and freezes the act. A recorded act is never
edited; a correction is a new act plus reopened cases.
"""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ColumnElement, Date, ForeignKey, Index, String, Text, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.workflow import RELIEFS

#: An act's states: drafted (cases may be added), then recorded (frozen for ever).
DRAFT, RECORDED = "draft", "recorded"
ACT_STATES = {DRAFT: "Draft", RECORDED: "Recorded"}
TITLE_MAX_LENGTH = 200
AUTHORITY_MAX_LENGTH = 100


class Act(db.Model):
    """One act of clemency: signed on a date by an authority, granting one relief."""

    __table_args__ = (
        CheckConstraint(f"state IN {tuple(ACT_STATES)!r}", name="state_valid"),
        CheckConstraint(f"relief IN {tuple(RELIEFS)!r}", name="relief_valid"),
        # Recorded exactly when its recorder and time are.
        CheckConstraint(
            "(state = 'recorded') = (recorded_at IS NOT NULL) AND "
            "(recorded_at IS NULL) = (recorded_by_id IS NULL)",
            name="recorded_iff_recorder",
        ),
        Index("ix_act_signed_on", "signed_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX_LENGTH))
    signed_on: Mapped[date] = mapped_column(Date)
    #: Who signed it, e.g. "President".
    authority: Mapped[str] = mapped_column(String(AUTHORITY_MAX_LENGTH))
    #: What every case of the act is granted (tracker.workflow.RELIEFS).
    relief: Mapped[str] = mapped_column(String(30))
    #: Conditions written on every grant (the petition's ``relief_terms``).
    terms: Mapped[str | None] = mapped_column(Text)
    #: Public: shown with the act's counts on the public statistics.
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=DRAFT)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The moment of the grants: every case the act granted has this ``decided_at``.
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    #: How many cases the recording granted (null while a draft).
    granted_count: Mapped[int | None]

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    def __repr__(self) -> str:
        return f"<Act {self.id} {self.signed_on} {self.state}>"

    @property
    def is_recorded(self) -> bool:
        return self.state == RECORDED

    @property
    def relief_label(self) -> str:
        return RELIEFS[self.relief][0]

    @property
    def state_label(self) -> str:
        return ACT_STATES[self.state]


class ActCase(db.Model):
    """A case of an act: added while the act is a draft; after recording, the cases it
    granted (the excluded ones are dropped at recording, and the act's entry names them)."""

    __table_args__ = (Index("ix_act_case_petition_id", "petition_id", "act_id"),)

    act_id: Mapped[int] = mapped_column(ForeignKey("act.id"), primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petition.id"), primary_key=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: How it was added: "filter" or "register_numbers".
    source: Mapped[str] = mapped_column(String(20))

    petition = relationship("Petition", viewonly=True)

    def __repr__(self) -> str:
        return f"<ActCase act {self.act_id} petition {self.petition_id}>"


def holds_grant_of_act(petition_id, decided_at) -> ColumnElement[bool]:
    """The condition that the case (its id, its decision time) holds the grant of a recorded
    act it belongs to: it was decided at the very moment the act was recorded (a case
    reopened and granted again on its own is no longer the act's). Joins Act to ActCase."""
    return and_(
        ActCase.act_id == Act.id,
        ActCase.petition_id == petition_id,
        Act.state == RECORDED,
        Act.recorded_at == decided_at,
    )
