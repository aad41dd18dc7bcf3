"""Appending to, verifying and exporting the hash-chained audit log.

Every write of the app calls ``record`` (or ``record_many``) inside the same
transaction as the change it describes; nothing here commits. ``record_refusal`` hands
its event to the request pipeline, which writes it after the refused change is rolled
back, in a transaction of its own (``tracker.pipeline.write_apart``).
"""

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app, g, has_request_context
from sqlalchemy import insert, select, update

from tracker import clock, pipeline
from tracker.audit.models import (
    CASE_CATEGORY,
    KNOWN_ACTIONS,
    SECURITY_CATEGORY,
    AuditChainHead,
    AuditEntry,
    AuditVerification,
    SecurityEventWindow,
)
from tracker.extensions import db
from tracker.notifications import services as notifications

GENESIS_HASH = "0" * 64
CHAIN_HEAD_ID = 1
#: Columns covered by an entry's hash, besides its own hash.
HASHED_COLUMNS = (
    "id",
    "created_at",
    "category",
    "action",
    "actor_id",
    "petition_id",
    "subject_user_id",
    "from_stage",
    "to_stage",
    "reason",
    "changes",
    "details",
    "ip_address",
    "user_agent",
    "prev_hash",
)


def format_timestamp(moment: datetime) -> str:
    """The one UTC format hashed on every database (microseconds, trailing Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: json.dumps(…, sort_keys=True, separators=(",", ":"), ensure_ascii=False), built once:
#: a bulk decision hashes thousands of entries.
_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_content(entry: dict) -> bytes:
    """A stable serialization of an entry's hashed columns."""
    content = {name: entry.get(name) for name in HASHED_COLUMNS}
    content["created_at"] = format_timestamp(content["created_at"])
    return _CANONICAL_JSON.encode(content).encode()


def entry_hash(entry: dict) -> str:
    return hashlib.sha256(canonical_content(entry)).hexdigest()


def json_value(value):
    """A field value as it is kept in ``changes``: dates as ISO strings, dollar amounts as
    text with two decimals (exact: 1500.00)."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


@dataclass(frozen=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


def current_client() -> ClientInfo:
    """Who is on the other end: set per request in ``g`` (see tracker.__init__), 'cli' otherwise."""
    if has_request_context() and "client" in g:
        return g.client
    return ClientInfo(ip_address=None, user_agent="cli")


def _lock_chain_head() -> tuple[int, str]:
    # FOR UPDATE holds the head row until commit on PostgreSQL; on SQLite every
    # transaction already holds the write lock (BEGIN IMMEDIATE).
    row = db.session.execute(
        select(AuditChainHead.last_entry_id, AuditChainHead.last_hash)
        .where(AuditChainHead.id == CHAIN_HEAD_ID)
        .with_for_update()
    ).one()
    return row.last_entry_id, row.last_hash


def record_many(entries: Iterable[dict]) -> list[dict]:
    """Append entries (dicts of AuditEntry columns) to the chain, in order; returns them."""
    entries = list(entries)
    if not entries:
        return []
    db.session.flush()  # the rows the entries point at must exist first
    last_id, last_hash = _lock_chain_head()
    client = current_client()
    now = clock.now()
    for entry in entries:
        if entry["action"] not in KNOWN_ACTIONS:
            raise ValueError(f"unknown audit action {entry['action']!r}")
        last_id += 1
        entry.setdefault("created_at", now)
        entry.setdefault("category", CASE_CATEGORY)
        entry.setdefault("ip_address", client.ip_address)
        entry.setdefault("user_agent", client.user_agent)
        for name in HASHED_COLUMNS:
            entry.setdefault(name, None)
        entry["id"] = last_id
        entry["prev_hash"] = last_hash
        entry["entry_hash"] = last_hash = entry_hash(entry)
    # The table, not the ORM class: a plain executemany (one pipeline on psycopg; forcing
    # multi-row INSERT … RETURNING batches measured slower there), without the ORM's per-row
    # bookkeeping of a bulk insert.
    db.session.execute(insert(AuditEntry.__table__), entries)
    notifications.enqueue(entries)  # the outbox row commits or rolls back with the entry
    db.session.execute(
        update(AuditChainHead)
        .where(AuditChainHead.id == CHAIN_HEAD_ID)
        .values(last_entry_id=last_id, last_hash=last_hash)
    )
    return entries


def record(
    action: str,
    *,
    actor=None,
    petition=None,
    category: str = CASE_CATEGORY,
    subject_user=None,
    from_stage: str | None = None,
    to_stage: str | None = None,
    reason: str | None = None,
    changes: dict | None = None,
    details: dict | None = None,
) -> dict:
    """Append one entry describing a change made in the current transaction."""
    db.session.flush()  # give a new petition or user its id
    entry = {
        "action": action,
        "category": category,
        "actor_id": actor.id if actor is not None else None,
        "petition_id": petition.id if petition is not None else None,
        "subject_user_id": subject_user.id if subject_user is not None else None,
        "from_stage": from_stage,
        "to_stage": to_stage,
        "reason": reason,
        "changes": changes,
        "details": details,
    }
    return record_many([entry])[0]


#: Events anyone can cause over and over (a wrong password, a probe of someone else's case):
#: identical ones from one client are collapsed, one entry and a count per window.
REPEATABLE_ACTIONS = frozenset({"login_failed", "access_refused"})
#: Windows closed per security event, so one request never appends an unbounded batch.
CLOSE_BATCH = 100


def record_security_event(action: str, **kwargs) -> dict | None:
    """Append a security event; a repeat of a repeatable one within its window is only counted.

    Returns the appended entry, or None when the event was counted in an open window.
    Finished windows are closed first (their count appended), whoever the client.
    """
    _lock_chain_head()  # serializes the window bookkeeping below with every append
    now = clock.now()
    close_finished_windows(now, limit=CLOSE_BATCH)
    if action not in REPEATABLE_ACTIONS:
        return record(action, category=SECURITY_CATEGORY, **kwargs)
    signature = _event_signature(action, kwargs)
    window = db.session.scalar(
        select(SecurityEventWindow).where(SecurityEventWindow.signature == signature)
    )
    if window is not None and window.opened_at <= now - current_app.config["AUDIT_REPEAT_WINDOW"]:
        _close_windows([window])  # over, but beyond this event's batch: its count goes first
        window = None
    if window is not None:
        window.repeats += 1
        window.last_seen_at = now
        return None
    entry = record(action, category=SECURITY_CATEGORY, **kwargs)
    window = SecurityEventWindow(
        signature=signature,
        action=action,
        first_entry_id=entry["id"],
        opened_at=now,
        last_seen_at=now,
        repeats=0,
    )
    db.session.add(window)
    return entry


def _event_signature(action: str, kwargs: dict) -> str:
    """What makes two events identical: action, users, case, client address and details.

    The user agent is left out: a scanner that varies it is still one client.
    """
    identity = [
        action,
        *(getattr(kwargs.get(name), "id", None) for name in ("actor", "subject_user", "petition")),
        current_client().ip_address,
        kwargs.get("details"),
        kwargs.get("changes"),
        kwargs.get("reason"),
    ]
    content = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


def close_finished_windows(now: datetime | None = None, *, limit: int | None = None) -> int:
    """Append one entry per finished window that saw repeats, and forget the windows.

    The entry copies the first event (action, users, case, address, user agent) and adds
    to its details ``repeated`` (how many identical events followed it), ``first_entry_id``
    and the times of the first and last. Returns how many windows were closed.
    """
    _lock_chain_head()  # two closers must not both append the same window's count
    now = now or clock.now()
    statement = (
        select(SecurityEventWindow)
        .where(SecurityEventWindow.opened_at <= now - current_app.config["AUDIT_REPEAT_WINDOW"])
        .order_by(SecurityEventWindow.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    windows = list(db.session.scalars(statement))
    _close_windows(windows)
    return len(windows)


def _close_windows(windows: list[SecurityEventWindow]) -> None:
    if not windows:
        return
    firsts = {
        entry.id: entry
        for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.id.in_([w.first_entry_id for w in windows]))
        )
    }
    summaries = []
    for window in windows:
        first = firsts.get(window.first_entry_id)
        if window.repeats and first is not None:
            summaries.append(_repeat_summary(window, first))
        db.session.delete(window)
    record_many(summaries)
    db.session.flush()


def _repeat_summary(window: SecurityEventWindow, first: AuditEntry) -> dict:
    details = dict(first.details or {})
    details.update(
        repeated=window.repeats,
        first_entry_id=first.id,
        first_at=format_timestamp(window.opened_at),
        last_at=format_timestamp(window.last_seen_at),
    )
    return {
        "action": first.action,
        "category": SECURITY_CATEGORY,
        "actor_id": first.actor_id,
        "petition_id": first.petition_id,
        "subject_user_id": first.subject_user_id,
        "reason": first.reason,
        "changes": first.changes,
        "details": details,
        "ip_address": first.ip_address,
        "user_agent": first.user_agent,
    }


def record_refusal(action: str, **kwargs) -> None:
    """Record a refusal (403, a case the user may not see) apart from the refused change.

    The event is written by the request pipeline after the request's own transaction has
    been rolled back, so it survives the rollback and is never shown as part of a change.
    """
    pipeline.write_apart(functools.partial(record_security_event, action, **kwargs))


# --- verification -----------------------------------------------------------------------------


@dataclass
class VerificationResult:
    intact: bool
    entries_checked: int
    first_bad_entry_id: int | None
    message: str


def _stream_entries(start_id: int, end_id: int):
    """A server-side cursor over the entries start_id..end_id, in id order (close it)."""
    columns = [getattr(AuditEntry, name) for name in HASHED_COLUMNS] + [AuditEntry.entry_hash]
    statement = (
        select(*columns)
        # Bounded by the head read first: entries appended meanwhile are not half-seen.
        .where(AuditEntry.id >= start_id, AuditEntry.id <= end_id)
        .order_by(AuditEntry.id)
        .execution_options(yield_per=2000, stream_results=True)
    )
    return db.session.execute(statement)


def _entry_problem(entry: dict, expected_id: int, expected_prev: str | None) -> str | None:
    """What is wrong with this entry at this place in the chain, or None."""
    if entry["id"] != expected_id:
        missing = str(expected_id)
        if entry["id"] > expected_id + 1:
            missing = f"{expected_id} to {entry['id'] - 1}"
        return f"Entry {entry['id']}: entries before it are missing (expected id {missing})."
    if expected_prev is not None and entry["prev_hash"] != expected_prev:
        return f"Entry {entry['id']}: its link does not match the hash of entry {expected_id - 1}."
    if entry_hash(entry) != entry["entry_hash"]:
        return f"Entry {entry['id']}: its content does not match its hash."
    return None


def verify_chain(recent: int | None = None) -> VerificationResult:
    """Walk the chain in id order and report the first entry whose content or link is wrong.

    With ``recent``, only the newest ``recent`` entries are checked (the first of
    them is trusted to link to its predecessor's stored hash). Streams rows, so
    memory stays constant however long the log. An entry missing at the end shows as
    a head that names a later entry than the last one found.
    """
    head_id, head_hash = db.session.execute(
        select(AuditChainHead.last_entry_id, AuditChainHead.last_hash).where(
            AuditChainHead.id == CHAIN_HEAD_ID
        )
    ).one()
    start_id = 1 if recent is None else max(1, head_id - recent + 1)
    expected_id = start_id
    expected_prev = GENESIS_HASH if start_id == 1 else None
    checked = 0
    with _stream_entries(start_id, head_id) as rows:
        for row in rows:
            entry = row._asdict()
            problem = _entry_problem(entry, expected_id, expected_prev)
            if problem:
                return VerificationResult(False, checked, entry["id"], problem)
            checked += 1
            expected_id += 1
            expected_prev = entry["entry_hash"]
    last_id = expected_id - 1
    if last_id != head_id or (checked and expected_prev != head_hash):
        message = (
            f"The chain ends at entry {last_id}, but its head names entry {head_id}: "
            "entries at the end are missing or altered."
        )
        return VerificationResult(False, checked, last_id + 1, message)
    scope = "the whole chain" if recent is None else f"the newest {checked} entries"
    return VerificationResult(True, checked, None, f"Intact: {scope} verified ({checked} entries).")


def save_verification(result: VerificationResult, *, scope: str, verified_by=None) -> None:
    """Keep a verification's result so supervisors see when and how it last ran."""
    db.session.add(
        AuditVerification(
            scope=scope,
            entries_checked=result.entries_checked,
            intact=result.intact,
            first_bad_entry_id=result.first_bad_entry_id,
            message=result.message,
            verified_by_id=verified_by.id if verified_by is not None else None,
        )
    )
