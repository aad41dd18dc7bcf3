"""Pages for documents: attach one to a case, download one.

Views parse the request, call one service, and render or redirect; the request pipeline
commits the work of those marked ``@writes``.
"""

import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker import permissions, pipeline
from tracker.body_limit import body_limit, document_body_limit
from tracker.documents import services
from tracker.documents.forms import document_form
from tracker.errors import ValidationFailed
from tracker.forms import apply_errors, parse_id
from tracker.petitions import services as petition_services

blueprint = Blueprint("documents", __name__)


def attachment_response(document, chunks) -> Response:
    """The bytes as a download: never shown inline, with the type judged at upload."""
    response = Response(chunks, mimetype=document.content_type, direct_passthrough=True)
    response.content_length = document.size
    name = document.filename
    try:
        name.encode("ascii")
        names = {"filename": name}
    except UnicodeEncodeError:
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple or "document", "filename*": f"UTF-8''{quote(name, safe='')}"}
    response.headers.set("Content-Disposition", "attachment", **names)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def save_upload(petition, user, form) -> object:
    """Receive the form's file and attach it (the service checks the rules)."""
    upload = form.file.data
    with services.received_file(upload.stream, upload.filename) as received:
        return services.attach_document(
            petition,
            user,
            received,
            form.document_type.data,
            form.visibility.data,
            form.description.data,
            parse_id(form.supersedes.data) if form.supersedes.data else None,
        )


def save_new_petition_document(petition, user, form) -> object:
    """Attach the document of the new-petition form (its fields are named ``document*``);
    field errors come back under those names."""
    upload = form.document.data
    try:
        with services.received_file(upload.stream, upload.filename) as received:
            return services.attach_document(
                petition,
                user,
                received,
                form.document_type.data,
                "shared",
                form.document_description.data,
            )
    except ValidationFailed as error:
        renamed = {"file": "document", "description": "document_description"}
        raise ValidationFailed(
            {renamed.get(name, name): message for name, message in error.errors.items()}
        ) from None


@blueprint.route("/petitions/<case_number>/documents", methods=["POST"])
@login_required
@body_limit(document_body_limit)
@pipeline.writes
def upload(case_number):
    """Attach a document to the case: staff at any time, advocates while it waits on them.
    A refused file (too large 413, not a PDF/PNG/JPEG 415, invalid fields 422) shows the
    case page again with the message under the field and the other fields kept."""
    from tracker.petitions.views import _render_case  # the case page, with this form kept

    petition = petition_services.get_visible_petition(current_user, case_number)
    permissions.require(permissions.can_attach_document, current_user, petition)
    form = document_form(current_user, current_app.config["MAX_DOCUMENT_BYTES"])
    if not form.validate_on_submit():
        return _render_case(petition, 422, document=form)
    try:
        document = save_upload(petition, current_user, form)
    except ValidationFailed as error:
        pipeline.abandon()
        apply_errors(form, error)
        return _render_case(petition, 422, document=form)
    except (services.DocumentTooLarge, services.UnsupportedDocument) as error:
        pipeline.abandon()
        form.file.errors = [*form.file.errors, error.message]
        return _render_case(petition, error.status, document=form)
    flash(
        _(
            "%(type)s “%(filename)s” attached.",
            type=document.type_label,
            filename=document.filename,
        ),
        "success",
    )
    return redirect(url_for("petitions.show", case_number=case_number, _anchor="documents"))


@blueprint.route("/documents/<int:document_id>/content")
@login_required
def content(document_id):
    """Download a document the user may see (404 otherwise, as for cases)."""
    document = services.get_visible_document(current_user, document_id)
    return attachment_response(
        document, services.download_document(current_user, document, via="web")
    )
