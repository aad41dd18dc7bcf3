"""Recording reads, and sealing each day of the read log with a digest in the audit chain.

``record_read`` is what every read path calls (the case page, the API's case and history,
document downloads, exports). The row is written by the request pipeline at the end of the
request, and only when it answered without an error (``tracker.pipeline.write_with_read``):
on PostgreSQL in the request's own transaction, which a read then commits with just that
row in it (the INSERT and a COMMIT that does not wait for the disk, in one round trip); on
SQLite in a short transaction of its own right after. A GET still writes nothing else.

Tamper evidence: rows are not hash-chained one by one (that would serialize every page
view on one lock, as audit appends are). Instead each finished UTC day is sealed by
``digest_days``: the SHA-256 of that day's rows, in id order, appended to the audit chain
as a ``read_log_digested`` entry. ``verify_digests`` recomputes them.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import func, select

from tracker import pipeline
from tracker.audit import services as audit
from tracker.audit.models import SECURITY_CATEGORY, AuditEntry
from tracker.database import utcnow
from tracker.extensions import db
from tracker.readlog.models import KINDS, ReadLogEntry

DIGEST_ACTION = "read_log_digested"
#: Columns covered by a day's digest, in this order for every row.
DIGESTED_COLUMNS = (
    "id",
    "created_at",
    "user_id",
    "interface",
    "kind",
    "petition_id",
    "document_id",
    "reader_assigned",
    "ip_address",
    "details",
)


def current_interface() -> str:
    """web, api (the /api/v1 blueprint) or cli (no request)."""
    if not has_request_context():
        return "cli"
    return "api" if request.blueprint == "api" else "web"


def _current_reader():
    if has_request_context():
        if current_user and current_user.is_authenticated:
            return current_user
        return g.get("api_user")
    return None


def _read_row(kind: str, petition, document, reader, details: dict | None) -> dict:
    if kind not in KINDS:
        raise ValueError(f"unknown read kind {kind!r}")
    reader_id = reader.id if reader is not None else None
    return {
        "created_at": utcnow(),
        "user_id": reader_id,
        "interface": current_interface(),
        "kind": kind,
        "petition_id": petition.id if petition is not None else None,
        "document_id": document.id if document is not None else None,
        "reader_assigned": (
            None
            if petition is None
            else reader_id is not None and petition.assignee_id == reader_id
        ),
        "ip_address": audit.current_client().ip_address,
        "details": details,
    }


def record_read(kind: str, petition=None, document=None, *, reader=None, details=None) -> None:
    """Log that the current user (or ``reader``) read ``petition`` / ``document`` now.

    The values (time, reader, address, whether the case is assigned to the reader) are
    taken now; the row is written at the end of the request, and only if it answers without
    an error. Outside a request (a command) it is written at once, in the caller's transaction.
    A document's case is taken from ``document.petition`` when ``petition`` is not given.
    For document downloads: ``record_read("document_download", petition, document=document)``.
    """
    if petition is None and document is not None:
        petition = getattr(document, "petition", None)
    record_reads(kind, [petition], document=document, reader=reader, details=details)


def record_reads(kind: str, petitions, *, document=None, reader=None, details=None) -> None:
    """Log one read per petition (a list shown at once, e.g. a bulk confirmation page)."""
    if not current_app.config["READ_LOG_ENABLED"]:
        return
    reader = reader if reader is not None else _current_reader()
    rows = [_read_row(kind, petition, document, reader, details) for petition in petitions]
    if rows:
        pipeline.write_with_read(ReadLogEntry.__table__, rows)


# --- daily digests ------------------------------------------------------------------------------


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _canonical_row(row: dict) -> bytes:
    content = {name: row[name] for name in DIGESTED_COLUMNS}
    content["created_at"] = audit.format_timestamp(content["created_at"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class DayDigest:
    day: date
    entries: int
    first_id: int | None
    last_id: int | None
    digest: str

    def details(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "entries": self.entries,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "digest": self.digest,
        }


def digest_of_day(day: date) -> DayDigest:
    """SHA-256 over the canonical content of the day's rows (UTC day), in id order."""
    start, end = _day_bounds(day)
    columns = [getattr(ReadLogEntry, name) for name in DIGESTED_COLUMNS]
    statement = (
        select(*columns)
        .where(ReadLogEntry.created_at >= start, ReadLogEntry.created_at < end)
        .order_by(ReadLogEntry.id)
        .execution_options(yield_per=2000, stream_results=True)
    )
    digest = hashlib.sha256()
    entries, first_id, last_id = 0, None, None
    with db.session.execute(statement) as rows:
        for row in rows:
            values = row._asdict()
            digest.update(_canonical_row(values) + b"\n")
            entries += 1
            first_id = values["id"] if first_id is None else first_id
            last_id = values["id"]
    return DayDigest(day, entries, first_id, last_id, digest.hexdigest())


def _digest_entries():
    return select(AuditEntry).where(AuditEntry.action == DIGEST_ACTION).order_by(AuditEntry.id)


def last_digested_day() -> date | None:
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.action == DIGEST_ACTION)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    return date.fromisoformat(entry.details["day"]) if entry is not None else None


def digest_days(now: datetime | None = None) -> list[DayDigest]:
    """Seal every finished UTC day not sealed yet, oldest first; returns the digests appended.

    A day is finished once READ_LOG_DIGEST_GRACE has passed after its end (a read's
    short transaction begun before midnight has committed by then). Days without reads
    are sealed too (an empty digest), so removing a whole day's rows is detected. Appends
    are serialized on the audit chain's head, so two runs never seal a day twice.
    """
    audit._lock_chain_head()
    now = now or utcnow()
    last = last_digested_day()
    if last is None:
        first_read = db.session.scalar(select(func.min(ReadLogEntry.created_at)))
        if first_read is None:
            return []
        day = first_read.astimezone(UTC).date()
    else:
        day = last + timedelta(days=1)
    grace = current_app.config["READ_LOG_DIGEST_GRACE"]
    sealed = []
    while _day_bounds(day)[1] + grace <= now:
        digest = digest_of_day(day)
        audit.record(DIGEST_ACTION, category=SECURITY_CATEGORY, details=digest.details())
        sealed.append(digest)
        day += timedelta(days=1)
    return sealed


@dataclass
class DigestCheck:
    intact: bool
    days_checked: int
    message: str


def verify_digests() -> DigestCheck:
    """Recompute every sealed day and compare it with its digest entry in the audit chain.

    Also checks that sealed days follow each other without a gap, that no read is dated
    before the first sealed day, and that each digest entry still matches its own audit
    hash (the chain itself is checked by ``flask audit verify``).
    """
    checked, previous = 0, None
    first_day = None
    for entry in db.session.scalars(_digest_entries()):
        stored = entry.details
        day = date.fromisoformat(stored["day"])
        first_day = first_day or day
        row = {name: getattr(entry, name) for name in audit.HASHED_COLUMNS}
        if audit.entry_hash(row) != entry.entry_hash:
            return DigestCheck(False, checked, f"{day}: its digest entry {entry.id} was altered.")
        if previous is not None and day != previous + timedelta(days=1):
            return DigestCheck(False, checked, f"{day}: the day after {previous} was never sealed.")
        actual = digest_of_day(day)
        if actual.details() != stored:
            return DigestCheck(
                False,
                checked,
                f"{day}: the read log does not match its digest (entry {entry.id}): "
                f"{stored['entries']} reads sealed, {actual.entries} found.",
            )
        checked += 1
        previous = day
    if first_day is not None:
        earlier = db.session.scalar(
            select(func.count())
            .select_from(ReadLogEntry)
            .where(ReadLogEntry.created_at < _day_bounds(first_day)[0])
        )
        if earlier:
            return DigestCheck(
                False,
                checked,
                f"{earlier} reads are dated before {first_day}, the first sealed day.",
            )
    message = f"Intact: {checked} sealed days match their digests."
    if previous is not None:
        message += f" Last sealed day: {previous}."
    return DigestCheck(True, checked, message)
