"""Every write to referrals and information requests; the transition path calls the hooks.

As in ``tracker.petitions.services``: the acting user is explicit, the rules are asked of
``tracker.permissions``, every change appends its audit entry in the same transaction, and
nothing here commits. Dates are calendar dates in the display time zone (``tracker.clock``).
"""

from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from tracker import clock, permissions
from tracker.audit import services as audit
from tracker.auth.models import User
from tracker.database import among
from tracker.deadlines.models import AGENCIES, InformationRequest, Referral, Reminder
from tracker.errors import Conflict, ValidationFailed
from tracker.extensions import db
from tracker.i18n import number_filter
from tracker.petitions.fields import REASON_MAX_LENGTH
from tracker.petitions.models import Petition
from tracker.workflow import Stage

#: Longest summary of a referral, response to an information request, agency name.
SUMMARY_MAX_LENGTH = REASON_MAX_LENGTH
AGENCY_NAME_MAX_LENGTH = 200


class ReferralsOpen(Conflict):
    """A decision refused while referrals are open (409), naming them."""

    def __init__(self, case_number: str, referrals: list[Referral]):
        names = ", ".join(f"#{r.id} {r.agency_label}" for r in referrals)
        super().__init__(
            _(
                "Case %(case)s has open referrals (%(names)s): record their answers, or close "
                "them with a reason when deciding (close_referrals_reason).",
                case=case_number,
                names=names,
            )
        )
        self.referral_ids = [r.id for r in referrals]


def _text(value, field: str, errors: dict, *, required: bool, limit: int) -> str | None:
    text = (value or "").strip() if isinstance(value, str) or value is None else None
    if text is None:
        errors[field] = _("Must be text.")
        return None
    if required and not text:
        errors[field] = _("Required.")
    elif len(text) > limit:
        errors[field] = _("At most %(limit)s characters.", limit=number_filter(limit))
    return text or None


def _date(value, field: str, errors: dict) -> date | None:
    if value is None or value == "" or isinstance(value, date):
        return value or None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        errors[field] = _("A date, YYYY-MM-DD.")
        return None


def _referral_entry(action: str, actor: User, referral: Referral, petition, **extra):
    details = {
        "referral_id": referral.id,
        "agency": referral.agency,
        "agency_name": referral.agency_name,
        **extra,
    }
    return audit.record(action, actor=actor, petition=petition, details=details)


def _json_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


# --- referrals ----------------------------------------------------------------------------------


def keep_referral_due_on(petition_ids) -> None:
    """Set each case's ``referral_due_on`` to its open referrals' earliest due date (None when
    none is open), in the caller's transaction: every referral write ends here, so the
    queue's ``referral_overdue`` can read the case alone. Not a change to the case (no
    version, no audit entry): the referral's own entry records what changed."""
    petition_ids = sorted(set(petition_ids))
    if not petition_ids:
        return
    db.session.flush()
    earliest = (
        select(func.min(Referral.due_on))
        .where(Referral.petition_id == Petition.id, Referral.answered_on.is_(None))
        .scalar_subquery()
    )
    db.session.execute(
        update(Petition)
        .where(Petition.id.in_(petition_ids))
        .values(referral_due_on=earliest)
        .execution_options(synchronize_session=False)
    )
    for petition_id in petition_ids:  # a case already loaded reads the new value
        petition = db.session.identity_map.get(db.session.identity_key(Petition, petition_id))
        if petition is not None:
            db.session.expire(petition, ["referral_due_on"])


def default_due_on(agency: str, sent_on: date) -> date:
    return sent_on + timedelta(days=current_app.config["REFERRAL_DUE_DAYS"][agency])


def open_referral(petition, actor: User, values: dict) -> Referral:
    """Refer the case to an agency: ``agency`` (one of AGENCIES), ``agency_name`` (required
    for ``other``), ``sent_on`` (default today), ``due_on`` (default the agency's period
    after it). Staff only; only while the case is open (under review or earlier)."""
    permissions.require(permissions.can_manage_referrals, actor, petition)
    if Stage(petition.stage).is_decided:
        raise Conflict(
            _(
                "Case %(case)s is decided; reopen it to refer it.",
                case=petition.case_number,
            )
        )
    errors: dict[str, str] = {}
    agency = values.get("agency")
    if agency not in AGENCIES:
        errors["agency"] = _("One of: %(values)s.", values=", ".join(AGENCIES))
    agency_name = _text(
        values.get("agency_name"),
        "agency_name",
        errors,
        required=agency == "other",
        limit=AGENCY_NAME_MAX_LENGTH,
    )
    if agency != "other":
        agency_name = None
    sent_on = _date(values.get("sent_on"), "sent_on", errors) or clock.today()
    due_on = _date(values.get("due_on"), "due_on", errors)
    if due_on is None and agency in AGENCIES:
        due_on = default_due_on(agency, sent_on)
    if due_on is not None and due_on < sent_on:
        errors["due_on"] = _("On or after the date sent.")
    summary = _text(
        values.get("summary"), "summary", errors, required=False, limit=SUMMARY_MAX_LENGTH
    )
    if errors:
        raise ValidationFailed(errors)
    referral = Referral(
        petition_id=petition.id,
        agency=agency,
        agency_name=agency_name,
        sent_on=sent_on,
        due_on=due_on,
        summary=summary,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    db.session.add(referral)
    db.session.flush()
    _referral_entry(
        "referral_opened",
        actor,
        referral,
        petition,
        sent_on=_json_date(sent_on),
        due_on=_json_date(due_on),
    )
    keep_referral_due_on([petition.id])
    return referral


def change_referral(referral: Referral, petition, actor: User, values: dict) -> Referral:
    """Answer a referral (``answered_on``, default today when ``answered`` is true, and its
    ``summary``) or extend it (a later ``due_on`` with a ``reason``). One audit entry per
    change: referral_answered, referral_extended. 409 once it is answered."""
    permissions.require(permissions.can_manage_referrals, actor, petition)
    db.session.refresh(referral, with_for_update=True)
    errors: dict[str, str] = {}
    unknown = set(values) - {"answered", "answered_on", "summary", "due_on", "reason"}
    for name in unknown:
        errors[name] = _("Unknown field.")
    answered_on = _date(values.get("answered_on"), "answered_on", errors)
    if values.get("answered") is True and answered_on is None:
        answered_on = clock.today()
    due_on = _date(values.get("due_on"), "due_on", errors)
    reason = _text(
        values.get("reason"), "reason", errors, required=due_on is not None, limit=REASON_MAX_LENGTH
    )
    summary = _text(
        values.get("summary"), "summary", errors, required=False, limit=SUMMARY_MAX_LENGTH
    )
    if answered_on is None and due_on is None and not errors:
        errors["answered_on"] = (
            "Give answered_on (or answered: true), or a new due_on with a reason."
        )
    if answered_on is not None and answered_on < referral.sent_on:
        errors["answered_on"] = _("On or after the date sent.")
    if due_on is not None and due_on < referral.sent_on:
        errors["due_on"] = _("On or after the date sent.")
    if errors:
        raise ValidationFailed(errors)
    if referral.answered_on is not None:
        raise Conflict(
            _(
                "Referral #%(number)s was answered on %(date)s.",
                number=referral.id,
                date=referral.answered_on,
            )
        )
    if due_on is not None and due_on != referral.due_on:
        old = referral.due_on
        referral.due_on = due_on
        _referral_entry(
            "referral_extended",
            actor,
            referral,
            petition,
            reason=reason,
            due_on=[_json_date(old), _json_date(due_on)],
        )
    if answered_on is not None:
        referral.answered_on = answered_on
        referral.summary = summary or referral.summary
        _referral_entry(
            "referral_answered", actor, referral, petition, answered_on=_json_date(answered_on)
        )
    keep_referral_due_on([referral.petition_id])
    return referral


def open_referrals_of(petition_ids: list[int]) -> dict[int, list[Referral]]:
    """{petition id: its open referrals, locked}, for the cases a decision is about to move."""
    referrals = db.session.scalars(
        select(Referral)
        .where(among(Referral.petition_id, petition_ids), Referral.answered_on.is_(None))
        .order_by(Referral.id)
        .with_for_update()
    )
    found: dict[int, list[Referral]] = {}
    for referral in referrals:
        found.setdefault(referral.petition_id, []).append(referral)
    return found


def close_referrals_at_decision(actor: User, open_referrals: dict, reason: str, action: str):
    """The decider closes the open referrals with a reason: answered today, the reason as
    their summary, a referral_closed entry each (before the decision's own entry)."""
    today = clock.today()
    entries = []
    for petition_id, referrals in open_referrals.items():
        for referral in referrals:
            referral.answered_on = today
            referral.summary = f"Closed when deciding ({action}): {reason}"
            entries.append(
                {
                    "action": "referral_closed",
                    "actor_id": actor.id,
                    "petition_id": petition_id,
                    "reason": reason,
                    "details": {
                        "referral_id": referral.id,
                        "agency": referral.agency,
                        "agency_name": referral.agency_name,
                        "decision": action,
                    },
                }
            )
    db.session.flush()
    keep_referral_due_on(open_referrals)
    audit.record_many(entries)


# --- information requests -----------------------------------------------------------------------


def default_information_due_on() -> date:
    return clock.in_days(current_app.config["INFORMATION_DUE_DAYS"])


def open_information_requests(
    actor: User, petition_ids, asked: str, due_on: date | None, now: datetime
) -> date:
    """``return_for_information``'s hook: one open request per case (what is asked, by whom,
    due ``due_on`` or INFORMATION_DUE_DAYS from today). Returns the due date."""
    due_on = due_on or default_information_due_on()
    db.session.add_all(
        InformationRequest(
            petition_id=petition_id, asked=asked, asked_by_id=actor.id, asked_at=now, due_on=due_on
        )
        for petition_id in petition_ids
    )
    return due_on


def answer_information_request(actor: User, petition_id: int, response: str, now: datetime):
    """``provide_information``'s hook: close the case's open request with the response."""
    db.session.execute(
        update(InformationRequest)
        .where(
            InformationRequest.petition_id == petition_id, InformationRequest.answered_at.is_(None)
        )
        .values(answered_at=now, answered_by_id=actor.id, response=response)
        .execution_options(synchronize_session=False)
    )


def change_information_due_on(petition, actor: User, due_on) -> InformationRequest:
    """Staff move the due date of the case's open information request (audited)."""
    permissions.require(permissions.can_manage_referrals, actor, petition)
    errors: dict[str, str] = {}
    due_on = _date(due_on, "due_on", errors)
    if due_on is None and not errors:
        errors["due_on"] = _("Required.")
    if errors:
        raise ValidationFailed(errors)
    request = petition.open_information_request
    if request is None:
        raise Conflict(
            _(
                "Case %(case)s has no open information request.",
                case=petition.case_number,
            )
        )
    old, request.due_on = request.due_on, due_on
    audit.record(
        "information_due_changed",
        actor=actor,
        petition=petition,
        details={"due_on": [_json_date(old), _json_date(due_on)]},
    )
    return request


# --- reminders ----------------------------------------------------------------------------------


def record_reminders(today: date | None = None, within_days: int | None = None) -> int:
    """Record today's reminders (``queries.due_items``), one per item, person and day;
    returns how many are new. Idempotent: the unique constraint (kind, item, person, day)
    holds, and rows already there are skipped, so a second run the same day adds none.

    Each new reminder also appends a ``reminder`` audit entry on its case (category case,
    staff-only on the timeline). The ``reminder`` row, with ``delivered_at`` null, is the
    hook for the notifications outbox.
    """
    from tracker.deadlines import queries  # queries reads the petitions, which import us

    today = today or clock.today()
    items = queries.due_items(today, within_days)
    if not items:
        return 0
    existing = set(
        db.session.execute(
            select(Reminder.kind, Reminder.item_id, Reminder.user_id).where(
                Reminder.remind_on == today
            )
        ).all()
    )
    now = clock.now()
    new = []
    for item in items:
        key = (item.kind, item.item_id, item.user_id)
        if key in existing:
            continue
        existing.add(key)
        new.append(item)
        db.session.add(
            Reminder(
                user_id=item.user_id,
                kind=item.kind,
                item_id=item.item_id,
                petition_id=item.petition.id,
                remind_on=today,
                due_on=item.due_on,
                message=item.message,
                created_at=now,
            )
        )
    db.session.flush()
    audit.record_many(
        {
            "action": "reminder",
            "petition_id": item.petition.id,
            "subject_user_id": item.user_id,
            "details": {
                "kind": item.kind,
                "item_id": item.item_id,
                "remind_on": today.isoformat(),
                "message": item.message,
            },
        }
        for item in new
    )
    return len(new)
