"""Files for the document tests: real magic numbers, and a way to upload them."""

import io

#: The smallest files filetype recognizes, each padded so that it has a body.
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


def upload_fields(
    content=PDF,
    filename="judgment.pdf",
    document_type="judgment",
    visibility="shared",
    content_type="application/pdf",
    **extra,
) -> dict:
    """A multipart form for the API (``data=`` of the test client)."""
    return {
        "file": (io.BytesIO(content), filename, content_type),
        "document_type": document_type,
        "visibility": visibility,
        **extra,
    }


def api_upload(api, case_number: str, **fields):
    return api.post(
        f"/api/v1/petitions/{case_number}/documents",
        data=upload_fields(**fields),
        content_type="multipart/form-data",
    )


def make_document(
    petition,
    user,
    content=PDF,
    filename="judgment.pdf",
    visibility="shared",
    document_type="judgment",
):
    """A document attached through the service (in an app context) and committed."""
    from tracker.documents import services
    from tracker.extensions import db

    with services.received_file(io.BytesIO(content), filename) as received:
        document = services.attach_document(petition, user, received, document_type, visibility)
    db.session.commit()
    return document
