"""Every write (and the one read path) of documents: receive, attach, supersede, download.

As for petitions, services take the acting user explicitly, check ``tracker.permissions``,
write the rows and the audit entry in the caller's transaction and flush; they never commit.
"""

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import permissions, pipeline
from tracker.audit import services as audit
from tracker.auth.models import User
from tracker.database import utcnow
from tracker.documents.models import (
    ACCEPTED_CONTENT_TYPES,
    ALWAYS_INTERNAL_TYPES,
    DESCRIPTION_MAX_LENGTH,
    DOCUMENT_TYPES,
    DOCUMENT_VISIBILITIES,
    FILENAME_MAX_LENGTH,
    Document,
)
from tracker.documents.storage import storage
from tracker.errors import Conflict, DomainError, NotFound, ValidationFailed
from tracker.extensions import db
from tracker.i18n import number_filter
from tracker.petitions.models import Petition
from tracker.petitions.services import lock_petition
from tracker.readlog import services as readlog

READ_SIZE = 64 * 1024
#: filetype reads at most this many bytes from the start of a file to judge it.
SNIFF_BYTES = 8192


class DocumentTooLarge(DomainError):
    status = 413


class UnsupportedDocument(DomainError):
    status = 415


def too_large_message() -> str:
    limit = current_app.config["MAX_DOCUMENT_BYTES"]
    return _(
        "The document is larger than %(size)s, the most one may attach.", size=format_size(limit)
    )


def format_size(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class ReceivedFile:
    """An upload copied to a temporary file, with what was learned reading it once."""

    path: Path
    filename: str
    size: int
    sha256: str
    #: Judged from the bytes (filetype's magic numbers), never the name or declared type.
    content_type: str


def clean_filename(name: str | None) -> str:
    """The uploader's file name, kept for display and download only: its last path part,
    without control characters, at most FILENAME_MAX_LENGTH characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[-FILENAME_MAX_LENGTH:] or "document"


@contextmanager
def received_file(stream, filename: str | None):
    """Copy an uploaded stream to a temporary file, hashing and counting as it goes, and
    judge its content from its first bytes. Never holds the whole file in memory.

    Raises DocumentTooLarge (413) past MAX_DOCUMENT_BYTES (reading stops there),
    UnsupportedDocument (415) for anything but PDF, PNG or JPEG, ValidationFailed for an
    empty file. The temporary file is removed when the block ends.
    """
    limit = current_app.config["MAX_DOCUMENT_BYTES"]
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle, name = tempfile.mkstemp(prefix="tracker-upload-")
    path = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            while piece := stream.read(READ_SIZE):
                size += len(piece)
                if size > limit:
                    raise DocumentTooLarge(too_large_message())
                if len(head) < SNIFF_BYTES:
                    head += piece[: SNIFF_BYTES - len(head)]
                digest.update(piece)
                out.write(piece)
        if size == 0:
            raise ValidationFailed({"file": "The file is empty."})
        yield ReceivedFile(path, clean_filename(filename), size, digest.hexdigest(), sniff(head))
    finally:
        path.unlink(missing_ok=True)


def sniff(head: bytes) -> str:
    """The content type of a file judged by its first bytes; UnsupportedDocument unless
    it is one we accept."""
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED_CONTENT_TYPES:
        found = f"This file is {kind.mime}" if kind else "This file is not a PDF, PNG or JPEG"
        raise UnsupportedDocument(
            f"{found} (judged from its content, whatever its name). Attach a PDF, PNG or JPEG file."
        )
    return kind.mime


def _document_errors(user: User, document_type, visibility, description) -> dict[str, str]:
    errors = {}
    if document_type not in DOCUMENT_TYPES:
        errors["document_type"] = _("Choose one of: %(values)s.", values=", ".join(DOCUMENT_TYPES))
    if visibility not in DOCUMENT_VISIBILITIES:
        errors["visibility"] = _("Choose shared or internal.")
    elif (
        visibility == "internal"
        and document_type not in ALWAYS_INTERNAL_TYPES
        and not permissions.can_choose_document_visibility(user)
    ):
        errors["visibility"] = str(permissions.can_choose_document_visibility.message)
    if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = _(
            "At most %(count)s characters.",
            count=number_filter(DESCRIPTION_MAX_LENGTH),
        )
    return errors


def _superseded(petition: Petition, user: User, supersedes_id: int | None) -> Document | None:
    if supersedes_id is None:
        return None
    old = db.session.get(Document, supersedes_id, with_for_update=True)
    visible = old is not None and permissions.can_view_document(user, old)
    if not visible or old.petition_id != petition.id:
        message = f"Case {petition.case_number} has no document {supersedes_id}."
        raise ValidationFailed({"supersedes": message})
    if old.is_superseded:
        raise Conflict(
            _(
                "Document %(number)s was already superseded by document %(newer)s.",
                number=old.id,
                newer=old.superseded_by_id,
            )
        )
    return old


def attach_document(
    petition: Petition,
    user: User,
    received: ReceivedFile,
    document_type: str,
    visibility: str,
    description: str | None = None,
    supersedes_id: int | None = None,
) -> Document:
    """Attach a received file to the case (action ``document_uploaded``, whose details carry
    the ``visibility``); with ``supersedes_id``, the new document supersedes that one, which
    stays, marked superseded (action ``document_superseded``). A presentence report is
    internal whoever attaches it. Staff attach at any time, advocates while the case waits
    on them (``permissions.can_attach_document``)."""
    permissions.require(permissions.can_attach_document, user, petition)
    lock_petition(petition)
    permissions.require(permissions.can_attach_document, user, petition)  # the stage may move
    description = (description or "").strip() or None
    errors = _document_errors(user, document_type, visibility, description)
    if errors:
        raise ValidationFailed(errors)
    if document_type in ALWAYS_INTERNAL_TYPES:
        visibility = "internal"
    old = _superseded(petition, user, supersedes_id)
    # The bytes first: a committed row always has its object (a rolled-back one may leave an
    # unreferenced object behind, which is harmless).
    storage().save(received.sha256, received.path, received.content_type)
    document = Document(
        petition_id=petition.id,
        document_type=document_type,
        visibility=visibility,
        filename=received.filename,
        description=description,
        size=received.size,
        sha256=received.sha256,
        content_type=received.content_type,
        uploaded_by_id=user.id,
        uploaded_at=utcnow(),
    )
    db.session.add(document)
    db.session.flush()
    details = {
        "document_id": document.id,
        "document_type": document_type,
        "visibility": visibility,
        "filename": document.filename,
        "size": document.size,
        "sha256": document.sha256,
        "content_type": document.content_type,
    }
    if old is not None:
        details["supersedes"] = old.id
    audit.record("document_uploaded", actor=user, petition=petition, details=details)
    if old is not None:
        old.superseded_by_id = document.id
        old.superseded_at = document.uploaded_at
        audit.record(
            "document_superseded",
            actor=user,
            petition=petition,
            details={
                "document_id": old.id,
                "superseded_by": document.id,
                "visibility": old.visibility,
                "filename": old.filename,
            },
        )
    return document


def visible_documents(petition: Petition, user: User) -> list[Document]:
    """The case's documents the user may see, oldest first (superseded ones included)."""
    statement = select(Document).where(Document.petition_id == petition.id)
    if not user.is_staff:
        # The same rule as permissions.can_view_document, as a query.
        statement = statement.where(Document.visibility == "shared")
    # Who uploaded each, as the lists show them (the page their name, the API their
    # e-mail), in the same statement.
    uploader = joinedload(Document.uploaded_by).load_only(User.id, User.name, User.email)
    statement = statement.options(uploader)
    return list(db.session.scalars(statement.order_by(Document.id)))


def get_visible_document(user: User, document_id: int) -> Document:
    """The document if the user may see it; NotFound otherwise — for another organization's
    case, an internal document asked by an advocate, and a document that does not exist
    alike (audited like a case the user may not see)."""
    document = db.session.get(Document, document_id)
    if document is not None and permissions.can_view_document(user, document):
        return document
    refusal = None
    if not permissions.can_view_all_petitions(user):
        refusal = {
            "status": 404,
            "document_id": document_id,
            "case_number": document.petition.case_number if document else None,
            "existed": document is not None,
            "reason": "no such document" if document is None else "not visible to the user",
        }
    raise NotFound(_("No document %(number)s.", number=document_id), refusal=refusal)


def download_document(user: User, document: Document, *, via: str) -> Iterator[bytes]:
    """The one path by which a document's bytes leave the tracker: checks the user may see
    it, records ``document_downloaded`` (apart from the request, which writes nothing else)
    and the read in the access log, and returns the bytes a piece at a time."""
    permissions.require(permissions.can_view_document, user, document)
    chunks = storage().chunks(document.sha256)
    first = next(chunks, b"")  # a missing object fails here, before anything is answered
    details = {"document_id": document.id, "visibility": document.visibility, "via": via}
    actor_id, petition_id = user.id, document.petition_id

    def record():
        audit.record(
            "document_downloaded",
            actor=db.session.get(User, actor_id),
            petition=db.session.get(Petition, petition_id),
            details=details,
        )

    pipeline.write_apart(record)
    readlog.record_read("document_download", document=document, reader=user)

    def stream():
        yield first
        yield from chunks

    return stream()
