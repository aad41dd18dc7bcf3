"""Streamed exports of the audit log as CSV and JSON Lines."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

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


def _csv_cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting with = + - @ is shown as text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def stream_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for count, entry in enumerate(entries, 1):
        record = export_record(entry)
        writer.writerow([_csv_cell(record[name]) for name in EXPORT_COLUMNS])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def stream_jsonl(entries: Iterable[AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(export_record(entry), ensure_ascii=False, sort_keys=True) + "\n"
