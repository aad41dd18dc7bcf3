"""The audit log: one append-only, hash-chained table over the whole system."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.database import UTCDateTime, utcnow
from tracker.extensions import db
from tracker.workflow import CASE_ACTIONS as STAGE_KEEPING_ACTIONS
from tracker.workflow import TRANSITIONS

#: Entries about a case's content or stage (shown on its timeline), as opposed to security events.
CASE_CATEGORY = "case"
SECURITY_CATEGORY = "security"

#: Every action an entry may name; record() refuses any other, so the log's filter lists all.
#: The workflow's transitions and stage-keeping actions come from its table
#: (tracker.workflow), the rest are the case's other writes.
CASE_ACTIONS = (
    *(t.name for t in TRANSITIONS),
    *(a.name for a in STAGE_KEEPING_ACTIONS),
    "edit",
    "take",
    "assign",
    "note_internal",
    "note_shared",
    "recommend",
    "document_uploaded",
    "document_superseded",
    "document_downloaded",
    # Referrals to other agencies, information-request due dates, reminders (issue 12).
    "referral_opened",
    "referral_answered",
    "referral_extended",
    "referral_closed",
    "information_due_changed",
    "reminder",
)
#: Clemency acts (issue 14): entries about an act, not one case (``petition_id`` null); the
#: grants an act records are ``grant`` entries of each case, naming the act in their details.
ACT_ACTIONS = ("act_drafted", "act_cases_added", "act_recorded")
CASE_ACTIONS += ACT_ACTIONS
SECURITY_ACTIONS = (
    # account_locked: written before throttling replaced the lockout; kept for old entries.
    "login",
    "login_failed",
    "logout",
    "account_locked",
    "two_factor_enrolled",
    "two_factor_passed",
    "two_factor_failed",
    "two_factor_reset",
    "access_refused",
    "login_throttled",
    "user_created",
    "role_changed",
    "user_deactivated",
    "user_reactivated",
    "password_changed",
    "password_reset",
    "organization_created",
    "organization_deactivated",
    "organization_reactivated",
    "api_token_created",
    "api_token_revoked",
    "audit_exported",
    "read_log_digested",
    "notification_preferences_changed",
    "language_changed",
)
KNOWN_ACTIONS = CASE_ACTIONS + SECURITY_ACTIONS
#: What a case's history calls the entries that are not workflow transitions (those have
#: their labels in tracker.workflow).
ACTION_LABELS = {
    "edit": _l("Edit"),
    "take": _l("Take"),
    "assign": _l("Assign"),
    "note_internal": _l("Note internal"),
    "note_shared": _l("Note shared"),
    "recommend": _l("Recommend"),
    "document_uploaded": _l("Document uploaded"),
    "document_superseded": _l("Document superseded"),
    "document_downloaded": _l("Document downloaded"),
    "reminder": _l("Reminder"),
    "referral_opened": _l("Referral opened"),
    "referral_answered": _l("Referral answered"),
    "referral_extended": _l("Referral extended"),
    "referral_closed": _l("Referral closed"),
    "information_due_changed": _l("Information due date changed"),
}


class AuditEntry(db.Model):
    """Who did what, when, to which case, and why.

    Rows are only ever inserted (database triggers refuse UPDATE and DELETE).
    ``id`` is handed out by the chain, without gaps; ``entry_hash`` covers every
    other column plus ``prev_hash``, the hash of the entry before it.
    """

    __table_args__ = (
        Index("ix_audit_entry_petition_id", "petition_id", "id"),
        Index("ix_audit_entry_actor_id", "actor_id", "id"),
        Index("ix_audit_entry_action", "action", "id"),
        Index("ix_audit_entry_created_at", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: case (a change of a petition) or security (logins, refusals, user management…).
    category: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(50))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    petition_id: Mapped[int | None] = mapped_column(ForeignKey("petition.id"))
    #: The user a security event is about (created, deactivated, reset…), when not the actor.
    subject_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    from_stage: Mapped[str | None] = mapped_column(String(30))
    to_stage: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    #: Field-level changes, {"field": [old, new]}; dates as ISO strings.
    changes: Mapped[dict | None] = mapped_column(JSON)
    #: Anything else worth keeping (note text and visibility, attempted e-mail, …).
    details: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject_user: Mapped[User | None] = relationship(foreign_keys=[subject_user_id])
    petition = relationship("Petition")

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action}>"


class AuditChainHead(db.Model):
    """A single row naming the newest entry; locking it serializes appends to the chain."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_entry_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditChainHead {self.last_entry_id}>"


class AuditVerification(db.Model):
    """The result of one walk of the chain (by the CLI or a supervisor's button)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: full (from the first entry) or recent (the newest N entries, linked to the one before).
    scope: Mapped[str] = mapped_column(String(10))
    entries_checked: Mapped[int]
    intact: Mapped[bool]
    first_bad_entry_id: Mapped[int | None]
    message: Mapped[str] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    verified_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<AuditVerification {self.id} intact={self.intact}>"


class SecurityEventWindow(db.Model):
    """Repeats of one security event from one client, counted here instead of appended.

    The first event of a window is appended to the log as usual; identical events from
    the same client within AUDIT_REPEAT_WINDOW only raise ``repeats``. Once the window is
    over (noticed at the next security event, or by ``flask audit close-windows``), one
    entry carrying the count is appended and the row deleted. This table is mutable on
    purpose, so that the log itself stays append-only and hash-chained.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of what makes two events identical (action, users, case, address, details).
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(50))
    #: The entry that opened the window (the first event, appended as usual).
    first_entry_id: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Identical events after the first, not appended one by one.
    repeats: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"<SecurityEventWindow {self.action} +{self.repeats}>"
