"""Rebuild a case from its audit history alone: the proof that the history is complete."""

from collections.abc import Iterable

from sqlalchemy import select

from tracker.audit.models import CASE_CATEGORY, AuditEntry
from tracker.audit.services import json_value
from tracker.extensions import db
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.workflow import TRANSITIONS_BY_NAME


def replay(entries: Iterable[AuditEntry]) -> dict:
    """The case's stage, assignee (e-mail), fields (JSON values) and whether a waiver was
    approved, after these entries."""
    state: dict = {"stage": None, "assignee": None, "waiver_approved": False}
    state |= dict.fromkeys(EDITABLE_FIELDS)
    for entry in entries:
        if entry.action in TRANSITIONS_BY_NAME:
            state["stage"] = entry.to_stage
        if entry.action == "approve_waiver":
            state["waiver_approved"] = True
        for field, (_old, new) in (entry.changes or {}).items():
            state[field] = new
    return state


def current_state(petition: Petition) -> dict:
    """The same shape as ``replay``, read from the petition's row."""
    state = {name: json_value(getattr(petition, name)) for name in EDITABLE_FIELDS}
    state["stage"] = petition.stage
    state["waiver_approved"] = petition.waiver_approved_at is not None
    state["assignee"] = petition.assignee.email if petition.assignee else None
    return state


def case_entries(petition: Petition) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.petition_id == petition.id, AuditEntry.category == CASE_CATEGORY)
            .order_by(AuditEntry.id)
        )
    )
