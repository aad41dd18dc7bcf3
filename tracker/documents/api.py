"""The documents of the JSON API, on its blueprint (/api/v1): attach, list, download.

Thin views over ``tracker.documents.services``, refused as every API view is (problem+json).
"""

from flask import g, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import UnsupportedMediaType

from tracker import permissions, pipeline
from tracker.api.serialization import timestamp
from tracker.api.views import _petition, blueprint
from tracker.body_limit import body_limit, document_body_limit
from tracker.documents import services
from tracker.documents.views import attachment_response
from tracker.errors import ValidationFailed
from tracker.forms import parse_id

#: The fields of a multipart upload besides ``file``.
UPLOAD_FIELDS = ("document_type", "visibility", "description", "supersedes")


def document_json(document) -> dict:
    return {
        "id": document.id,
        "document_type": document.document_type,
        "visibility": document.visibility,
        "filename": document.filename,
        "size": document.size,
        "sha256": document.sha256,
        "content_type": document.content_type,
        "uploaded_by": document.uploaded_by.email,
        "uploaded_at": timestamp(document.uploaded_at),
        "description": document.description,
        "superseded_by": document.superseded_by_id,
        "superseded_at": timestamp(document.superseded_at),
        "content_url": url_for("api.document_content", document_id=document.id),
    }


def _upload_form():
    """The multipart form, refused before it is read when it cannot be a document upload."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(
            "Send the document as multipart/form-data: the file as the field 'file', with "
            "'document_type', 'visibility' and, optionally, 'description'."
        )
    limit = request.max_content_length
    if request.content_length is not None and limit is not None and request.content_length > limit:
        raise services.DocumentTooLarge(services.too_large_message())
    unknown = {name: "Unknown field." for name in request.form if name not in UPLOAD_FIELDS}
    unknown |= {name: "Unknown field." for name in request.files if name != "file"}
    if unknown:
        raise ValidationFailed(unknown)
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed({"file": "Attach the document as the form field 'file'."})
    errors = {
        name: "Required." for name in ("document_type", "visibility") if not request.form.get(name)
    }
    supersedes = request.form.get("supersedes")
    if supersedes and parse_id(supersedes) is None:
        errors["supersedes"] = _("A document id.")
    if errors:
        raise ValidationFailed(errors)
    return upload, parse_id(supersedes) if supersedes else None


@blueprint.post("/petitions/<case_number>/documents")
@body_limit(document_body_limit)
@pipeline.writes
def upload_document(case_number):
    """Attach a document (multipart: file, document_type, visibility, optional description
    and supersedes): 201 with the document; 413 too large, 415 not a PDF/PNG/JPEG."""
    petition = _petition(case_number)
    permissions.require(permissions.can_attach_document, g.api_user, petition)
    upload, supersedes = _upload_form()
    with services.received_file(upload.stream, upload.filename) as received:
        document = services.attach_document(
            petition,
            g.api_user,
            received,
            request.form["document_type"],
            request.form["visibility"],
            request.form.get("description"),
            supersedes,
        )
    response = document_json(document)
    return response, 201, {"Location": response["content_url"]}


@blueprint.get("/petitions/<case_number>/documents")
def list_documents(case_number):
    """The case's documents the caller may see, oldest first (superseded ones marked)."""
    petition = _petition(case_number)
    documents = services.visible_documents(petition, g.api_user)
    return {"items": [document_json(document) for document in documents]}


@blueprint.get("/documents/<int:document_id>/content")
def document_content(document_id):
    """The document's bytes, as an attachment with the type judged at upload."""
    document = services.get_visible_document(g.api_user, document_id)
    chunks = services.download_document(g.api_user, document, via="api")
    return attachment_response(document, chunks)
