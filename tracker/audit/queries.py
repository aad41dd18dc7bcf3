"""Reading the audit log: filters and keyset pagination that stay fast at millions of rows."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from tracker.audit.models import AuditEntry
from tracker.auth.models import User
from tracker.extensions import db
from tracker.petitions.models import Petition


@dataclass
class AuditFilters:
    actor: str | None = None  #: e-mail of the acting user
    case_number: str | None = None
    action: str | None = None
    date_from: date | None = None  #: inclusive, in the display time zone
    date_to: date | None = None  #: inclusive, in the display time zone


def _local_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone)


def filtered_entries(filters: AuditFilters) -> Select | None:
    """The entries matching every filter, newest first; None when a filter matches nothing."""
    statement = select(AuditEntry)
    if filters.actor:
        actor_id = db.session.scalar(select(User.id).where(User.email == filters.actor.lower()))
        if actor_id is None:
            return None
        statement = statement.where(AuditEntry.actor_id == actor_id)
    if filters.case_number:
        petition_id = db.session.scalar(
            select(Petition.id).where(Petition.case_number == filters.case_number.strip().upper())
        )
        if petition_id is None:
            return None
        statement = statement.where(AuditEntry.petition_id == petition_id)
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.date_from:
        statement = statement.where(AuditEntry.created_at >= _local_midnight(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        end = _local_midnight(filters.date_to + timedelta(days=1))
        statement = statement.where(AuditEntry.created_at < end)
    return statement.order_by(AuditEntry.id.desc())


def page_of_entries(filters: AuditFilters, before_id: int | None, per_page: int):
    """One page, newest first, starting below ``before_id``; returns (entries, next_before_id)."""
    statement = filtered_entries(filters)
    if statement is None:
        return [], None
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    statement = statement.options(
        joinedload(AuditEntry.actor),
        joinedload(AuditEntry.subject_user),
        joinedload(AuditEntry.petition),
    ).limit(per_page + 1)
    entries = list(db.session.scalars(statement))
    next_before = entries[per_page - 1].id if len(entries) > per_page else None
    return entries[:per_page], next_before


EXPORT_BATCH_SIZE = 1000


def iter_filtered_entries(filters: AuditFilters, batch_size: int = EXPORT_BATCH_SIZE):
    """Every matching entry, newest first, read in keyset batches (constant memory)."""
    before_id = None
    while True:
        statement = filtered_entries(filters)
        if statement is None:
            return
        if before_id is not None:
            statement = statement.where(AuditEntry.id < before_id)
        statement = statement.options(
            joinedload(AuditEntry.actor),
            joinedload(AuditEntry.subject_user),
            joinedload(AuditEntry.petition),
        ).limit(batch_size)
        batch = list(db.session.scalars(statement))
        yield from batch
        if len(batch) < batch_size:
            return
        before_id = batch[-1].id
        db.session.expunge_all()  # keep memory flat across batches
