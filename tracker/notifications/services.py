"""The outbox: enqueued with the audit entry, read in the app, delivered by e-mail.

``enqueue`` is called by ``tracker.audit.services.record_many`` in the transaction that
appends the entries, so a rolled-back change notifies no one. It is set-based: however
many entries (a bulk decision of thousands of cases), at most one INSERT … SELECT per
audience (advocate, assignee, the person an entry names). Nothing here commits; e-mail is
sent by the deliverer (``tracker.notifications.delivery``), which owns its transactions.
"""

from flask import g
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import aliased

from tracker.audit.models import AuditEntry
from tracker.auth.models import User
from tracker.database import utcnow
from tracker.errors import NotFound
from tracker.extensions import db
from tracker.notifications.kinds import (
    ADVOCATE,
    ADVOCATE_SIDE,
    ASSIGNEE,
    KINDS,
    STAFF_SIDE,
    SUBJECT,
    kinds_for,
)
from tracker.notifications.models import EmailOptOut, Notification
from tracker.petitions.models import Petition

# --- enqueueing, in the change's transaction --------------------------------------------------


def _actor_side(actor_id: int | None) -> str | None:
    if actor_id is None:
        return None
    # The actor is nearly always in the session already (the current user): no query.
    actor = db.session.get(User, actor_id)
    return STAFF_SIDE if actor.is_staff else ADVOCATE_SIDE


def _audiences(entry: dict) -> list[str]:
    """Who hears this audit entry (before excluding the actor and deactivated users)."""
    kind = KINDS.get(entry["action"])
    if kind is None or entry.get("petition_id") is None:
        return []
    if kind.shared_only and (entry.get("details") or {}).get("visibility") != "shared":
        return []
    sides = set(kind.audiences.values()) - {None}
    side = _actor_side(entry.get("actor_id")) if sides else None
    return [audience for audience, by in kind.audiences.items() if by is None or by == side]


def _id_ranges(ids: list[int]) -> list[tuple[int, int]]:
    """Consecutive ids as ranges: a bulk decision's entries are one range, one condition."""
    ranges: list[list[int]] = []
    for entry_id in sorted(ids):
        if ranges and entry_id == ranges[-1][1] + 1:
            ranges[-1][1] = entry_id
        else:
            ranges.append([entry_id, entry_id])
    return [(low, high) for low, high in ranges]


#: Where each audience's recipient is found: on the petition, or on the entry itself.
RECIPIENTS = {
    ADVOCATE: Petition.advocate_id,
    ASSIGNEE: Petition.assignee_id,
    SUBJECT: AuditEntry.subject_user_id,
}


def _insert_for(audience: str, entry_ids: list[int]):
    recipient_id = RECIPIENTS[audience]
    recipient = aliased(User)
    rows = (
        select(
            recipient_id,
            AuditEntry.petition_id,
            AuditEntry.id,
            AuditEntry.action,
            AuditEntry.created_at,
            literal("pending"),
            literal(0),
            AuditEntry.created_at,
        )
        .join(Petition, Petition.id == AuditEntry.petition_id)
        .join(recipient, recipient.id == recipient_id)
        .where(
            or_(*(AuditEntry.id.between(low, high) for low, high in _id_ranges(entry_ids))),
            recipient.active,
            # Nobody is told of their own action.
            or_(AuditEntry.actor_id.is_(None), AuditEntry.actor_id != recipient_id),
        )
    )
    columns = [
        "user_id",
        "petition_id",
        "audit_entry_id",
        "kind",
        "created_at",
        "email_status",
        "email_attempts",
        "next_attempt_at",
    ]
    return insert(Notification).from_select(columns, rows)


def enqueue(entries: list[dict]) -> None:
    """Write the notifications of just-appended audit entries (same transaction).

    Entries of actions nobody hears cost nothing; the others cost one INSERT … SELECT per
    audience, whatever their number.
    """
    by_audience: dict[str, list[int]] = {audience: [] for audience in RECIPIENTS}
    for entry in entries:
        for audience in _audiences(entry):
            by_audience[audience].append(entry["id"])
    for audience, entry_ids in by_audience.items():
        if entry_ids:
            db.session.execute(_insert_for(audience, entry_ids))


# --- in the app -------------------------------------------------------------------------------


def unread_count(user) -> int:
    """The bell's number: one indexed COUNT, at most once per request."""
    cache = g.setdefault("unread_notifications", {})
    if user.id not in cache:
        cache[user.id] = db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
    return cache[user.id]


def user_notifications(user, *, limit: int, before_id: int | None = None, unread_only=False):
    """The user's notifications, newest first, with their cases (one query)."""
    statement = (
        select(Notification, Petition.case_number)
        .join(Petition, Petition.id == Notification.petition_id)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(Notification.id < before_id)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    return list(db.session.execute(statement))


def message_text(kind: str, case_number: str) -> str:
    """What the app and the e-mail say happened: the case number and the kind, nothing else."""
    return str(KINDS[kind].sentence) % {"case": case_number} + "."


def mark_read(user, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (another's is a 404), or all of them.

    Not audited: it changes no case, only what the user's own bell counts.
    """
    statement = update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        owned = db.session.scalar(
            select(Notification.id).where(
                Notification.id == notification_id, Notification.user_id == user.id
            )
        )
        if owned is None:
            raise NotFound(_("No such notification."))
        statement = statement.where(Notification.id == notification_id)
    result = db.session.execute(statement.values(read_at=utcnow()))
    return result.rowcount


def email_preferences(user) -> dict[str, bool]:
    """{kind: e-mail on?} for the kinds this user can receive; on unless they turned it off."""
    off = set(db.session.scalars(select(EmailOptOut.kind).where(EmailOptOut.user_id == user.id)))
    return {kind.action: kind.action not in off for kind in kinds_for(user)}


def set_email_preferences(user, wanted: dict[str, bool]) -> dict[str, list[str]]:
    """Turn e-mail on or off per kind; audited (a security event) when anything changed."""
    from tracker.audit import services as audit  # the audit module enqueues through us

    current = email_preferences(user)
    turned_off = [k for k, on in current.items() if on and not wanted.get(k, True)]
    turned_on = [k for k, on in current.items() if not on and wanted.get(k, True)]
    if turned_on:
        db.session.execute(
            delete(EmailOptOut).where(
                EmailOptOut.user_id == user.id, EmailOptOut.kind.in_(turned_on)
            )
        )
    for kind in turned_off:
        db.session.add(EmailOptOut(user_id=user.id, kind=kind))
    changes = {"email_on": turned_on, "email_off": turned_off}
    if turned_on or turned_off:
        audit.record(
            "notification_preferences_changed",
            category="security",
            actor=user,
            subject_user=user,
            details=changes,
        )
    return changes


def failed_deliveries(limit: int = 200):
    """E-mails given up on, newest first, for supervisors: whom, which case, why."""
    statement = (
        select(Notification, Petition.case_number, User.email)
        .join(Petition, Petition.id == Notification.petition_id)
        .join(User, User.id == Notification.user_id)
        .where(Notification.email_status == "failed")
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(statement))


def retry_failed(notification_id: int) -> None:
    """Put a failed e-mail back in the queue, due now, with its attempts counted afresh."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.email_status == "failed")
        .values(email_status="pending", email_attempts=0, next_attempt_at=utcnow())
    )
    if result.rowcount != 1:
        raise NotFound(_("No such failed e-mail."))


def preference_changes(form_data, user) -> dict[str, bool]:
    """{kind: on?} from the account page's checkboxes (an unticked box is absent)."""
    return {kind.action: kind.action in form_data for kind in kinds_for(user)}
