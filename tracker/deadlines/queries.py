"""What is due: referrals and information requests due soon or overdue, old pending cases,
and the reminders recorded for a person. Reads only."""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import clock, permissions
from tracker.auth.models import User
from tracker.deadlines.models import InformationRequest, Referral, Reminder
from tracker.extensions import db
from tracker.petitions.models import Petition
from tracker.workflow import PENDING_STAGES, Role, Stage


@dataclass(frozen=True)
class DueItem:
    """Something due for someone: a referral, an information request or an old case."""

    kind: str  #: one of deadlines.models.REMINDER_KINDS
    item_id: int
    petition: Petition
    user_id: int
    due_on: date | None
    message: str


def _due_label(due_on: date, today: date) -> str:
    days = (due_on - today).days
    if days < 0:
        return ngettext(
            "overdue since %(date)s (%(num)d day)",
            "overdue since %(date)s (%(num)d days)",
            -days,
            date=due_on,
        )
    if days == 0:
        return _("due today")
    return ngettext(
        "due on %(date)s (in %(num)d day)", "due on %(date)s (in %(num)d days)", days, date=due_on
    )


def _supervisors() -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.SUPERVISOR.value, User.active).order_by(User.id)
        )
    )


def _concerning(statement, user: User | None, *, advocate_too: bool):
    """Only the cases whose reminders go to ``user`` (all when None): the ones they work,
    the unassigned ones for a supervisor, their own organization's for an advocate."""
    if user is None:
        return statement
    mine = Petition.assignee_id == user.id
    if user.is_advocate:
        return statement.where(Petition.advocate_id == user.id) if advocate_too else None
    if permissions.can_assign_petitions(user):
        mine = mine | Petition.assignee_id.is_(None)
    return statement.where(mine)


def due_items(
    today: date | None = None, within_days: int | None = None, user: User | None = None
) -> list[DueItem]:
    """Every reminder owed today, one per item and person:

    - an open referral due within ``within_days`` (REMINDER_DAYS_AHEAD) or overdue: its case's
      assignee, else the supervisors;
    - an open information request so due: the advocate who filed the case (their answer) and
      the case's assignee (to close it when overdue);
    - an undecided case received more than REMINDER_PENDING_DAYS ago: its assignee, or every
      supervisor when nobody works it.
    """
    today = today or clock.today()
    config = current_app.config
    within_days = config["REMINDER_DAYS_AHEAD"] if within_days is None else within_days
    horizon = today + timedelta(days=within_days)
    supervisors = None
    items: list[DueItem] = []

    def staff_for(petition: Petition) -> list[int]:
        nonlocal supervisors
        if petition.assignee_id is not None:
            return [petition.assignee_id]
        supervisors = supervisors if supervisors is not None else _supervisors()
        return [s.id for s in supervisors]

    referrals = _concerning(
        select(Referral)
        .join(Referral.petition)
        .options(joinedload(Referral.petition))
        .where(Referral.answered_on.is_(None), Referral.due_on <= horizon)
        .order_by(Referral.due_on, Referral.id),
        user,
        advocate_too=False,
    )
    for referral in db.session.scalars(referrals) if referrals is not None else ():
        petition = referral.petition
        message = _(
            "Referral to %(agency)s on %(case)s %(due)s.",
            agency=referral.agency_label,
            case=petition.case_number,
            due=_due_label(referral.due_on, today),
        )
        items += [
            DueItem("referral", referral.id, petition, user_id, referral.due_on, message)
            for user_id in staff_for(petition)
        ]

    requests = _concerning(
        select(InformationRequest)
        .join(InformationRequest.petition)
        .options(joinedload(InformationRequest.petition))
        .where(
            InformationRequest.answered_at.is_(None),
            InformationRequest.due_on <= horizon,
            Petition.stage == Stage.INFORMATION_REQUESTED.value,
        )
        .order_by(InformationRequest.due_on, InformationRequest.id),
        user,
        advocate_too=True,
    )
    for request in db.session.scalars(requests):
        petition = request.petition
        message = _(
            "Information requested on %(case)s %(due)s.",
            case=petition.case_number,
            due=_due_label(request.due_on, today),
        )
        for user_id in [petition.advocate_id, *staff_for(petition)]:
            items.append(
                DueItem(
                    "information_request", request.id, petition, user_id, request.due_on, message
                )
            )

    cutoff = clock.start_of(today - timedelta(days=config["REMINDER_PENDING_DAYS"]))
    old_cases = _concerning(
        select(Petition)
        .where(Petition.stage.in_([s.value for s in PENDING_STAGES]), Petition.received_at < cutoff)
        .order_by(Petition.received_at, Petition.id),
        user,
        advocate_too=False,
    )
    for petition in db.session.scalars(old_cases) if old_cases is not None else ():
        if petition.assignee_id is None:
            message = _(
                "Case %(case)s has been pending %(days)s days (unassigned).",
                case=petition.case_number,
                days=petition.days_pending,
            )
        else:
            message = _(
                "Case %(case)s has been pending %(days)s days (assigned to you).",
                case=petition.case_number,
                days=petition.days_pending,
            )
        items += [
            DueItem("pending_case", petition.id, petition, user_id, None, message)
            for user_id in staff_for(petition)
        ]
    return items


def due_items_for(user: User) -> list[DueItem]:
    """What is due for this person now (the same rule as the reminders command)."""
    return [item for item in due_items(user=user) if item.user_id == user.id]


def reminders_for(user: User, limit: int = 200) -> list[Reminder]:
    """The reminders recorded for this person, newest day first."""
    statement = (
        select(Reminder)
        .options(joinedload(Reminder.petition))
        .where(Reminder.user_id == user.id)
        .order_by(Reminder.remind_on.desc(), Reminder.id)
        .limit(limit)
    )
    reminders = list(db.session.scalars(statement))
    # Never show a case the person may no longer see (an advocate's organization changed).
    return [r for r in reminders if permissions.can_view_petition(user, r.petition)]
