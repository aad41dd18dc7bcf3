"""Documents are append-only in the database (migration 0012): nothing is deleted, and the
only change a row may take is its supersede mark, made once."""

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from tests.conftest import on_postgres
from tests.document_helpers import PNG, make_document
from tracker.documents import services
from tracker.documents.models import Document
from tracker.extensions import db


@pytest.fixture
def documents(app_ctx, make_user, make_petition):
    """An old document and the one that superseded it (through the service), and a third."""
    reviewer = make_user("reviewer")
    petition = make_petition()
    old = make_document(petition, reviewer)
    with services.received_file(io.BytesIO(PNG), "new.png") as received:
        new = services.attach_document(
            petition, reviewer, received, "judgment", "shared", supersedes_id=old.id
        )
    db.session.commit()
    third = make_document(petition, reviewer, content=PNG, filename="third.png")
    return old, new, third


def row(document_id: int) -> dict:
    db.session.expire_all()
    return db.session.execute(select(Document.__table__).where(Document.id == document_id)).one()


def test_the_supersede_path_marks_the_old_document(documents):
    old, new, _ = documents
    assert (row(old.id).superseded_by_id, row(new.id).superseded_by_id) == (new.id, None)
    assert row(old.id).superseded_at is not None


def test_the_database_allows_the_supersede_mark_alone(documents):
    _, new, third = documents
    db.session.execute(
        text("UPDATE document SET superseded_by_id = :by, superseded_at = :at WHERE id = :id"),
        {"by": third.id, "at": datetime(2026, 11, 30, tzinfo=UTC), "id": new.id},
    )
    assert row(new.id).superseded_by_id == third.id


REFUSED = {
    "filename": "UPDATE document SET filename = 'other.pdf' WHERE id = :new",
    "visibility": "UPDATE document SET visibility = 'internal' WHERE id = :new",
    "sha256": "UPDATE document SET sha256 = 'x' WHERE id = :new",
    "unmark": "UPDATE document SET superseded_by_id = NULL, superseded_at = NULL WHERE id = :old",
    "mark again": "UPDATE document SET superseded_by_id = :third WHERE id = :old",
    "mark and rename": (
        "UPDATE document SET superseded_by_id = :third, superseded_at = uploaded_at, "
        "filename = 'renamed.pdf' WHERE id = :new"
    ),
    "delete": "DELETE FROM document WHERE id = :third",
}


@pytest.mark.parametrize("statement", REFUSED.values(), ids=REFUSED.keys())
def test_the_database_refuses_every_other_change(documents, statement):
    old, new, third = documents
    before = [tuple(row(d.id)) for d in documents]
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement), {"old": old.id, "new": new.id, "third": third.id})
    assert [tuple(row(d.id)) for d in documents] == before


@pytest.mark.skipif(not on_postgres(), reason="TRUNCATE exists on PostgreSQL only")
def test_the_database_refuses_truncating_documents(documents):
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("TRUNCATE document CASCADE"))
    assert len(db.session.scalars(select(Document.id)).all()) == 3
