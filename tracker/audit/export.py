"""Streamed exports of the audit log as CSV and JSON Lines."""

import json
from collections.abc import Iterable, Iterator

from tracker import listing
from tracker.audit.models import AuditEntry
from tracker.audit.services import format_timestamp

EXPORT_COLUMNS = (
    "id",
    "created_at",
    "category",
    "action",
    "actor",
    "case_number",
    "subject_user",
    "from_stage",
    "to_stage",
    "reason",
    "changes",
    "details",
    "ip_address",
    "user_agent",
    "prev_hash",
    "entry_hash",
)


def export_record(entry: AuditEntry) -> dict:
    """An entry as exported: people by e-mail, the case by its number, times in UTC."""
    return {
        "id": entry.id,
        "created_at": format_timestamp(entry.created_at),
        "category": entry.category,
        "action": entry.action,
        "actor": entry.actor.email if entry.actor else None,
        "case_number": entry.petition.case_number if entry.petition else None,
        "subject_user": entry.subject_user.email if entry.subject_user else None,
        "from_stage": entry.from_stage,
        "to_stage": entry.to_stage,
        "reason": entry.reason,
        "changes": entry.changes,
        "details": entry.details,
        "ip_address": entry.ip_address,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
    }


def stream_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    return listing.stream_csv(map(export_record, entries), EXPORT_COLUMNS)


def stream_jsonl(entries: Iterable[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(export_record(entry), ensure_ascii=False, sort_keys=True) + "\n"
