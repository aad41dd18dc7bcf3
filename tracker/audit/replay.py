"""Rebuild a case from its audit history alone: the proof that the history is complete."""

from collections.abc import Iterable

from sqlalchemy import select

from tracker.audit.models import CASE_CATEGORY, AuditEntry
from tracker.audit.services import json_value
from tracker.extensions import db
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.petitions.outcomes import OUTCOME_COLUMNS
from tracker.workflow import TRANSITIONS_BY_NAME


def replay(entries: Iterable[AuditEntry]) -> dict:
    """The case's stage, assignee (e-mail), fields (JSON values), whether a waiver was
    approved, disposition and relief, and its recommendations (in order) after these entries."""
    state: dict = (
        {"stage": None, "assignee": None, "waiver_approved": False, "recommendations": []}
        | dict.fromkeys(EDITABLE_FIELDS)
        | dict.fromkeys(OUTCOME_COLUMNS)
    )
    for entry in entries:
        if entry.action in TRANSITIONS_BY_NAME:
            state["stage"] = entry.to_stage
        if entry.action == "approve_waiver":
            state["waiver_approved"] = True
        if entry.action == "recommend":
            state["recommendations"] = [*state["recommendations"], entry.details["recommendation"]]
        for field, (_old, new) in (entry.changes or {}).items():
            state[field] = new
    return state


def current_state(petition: Petition) -> dict:
    """The same shape as ``replay``, read from the petition's row."""
    state = {name: json_value(getattr(petition, name)) for name in EDITABLE_FIELDS}
    state |= {name: json_value(getattr(petition, name)) for name in OUTCOME_COLUMNS}
    state["stage"] = petition.stage
    state["waiver_approved"] = petition.waiver_approved_at is not None
    state["assignee"] = petition.assignee.email if petition.assignee else None
    state["recommendations"] = [r.recommendation for r in petition.recommendations]
    return state


def case_entries(petition: Petition) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.petition_id == petition.id, AuditEntry.category == CASE_CATEGORY)
            .order_by(AuditEntry.id)
        )
    )
