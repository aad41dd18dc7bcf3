"""The form that attaches a document to a case (on its page, or with a new petition)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SelectField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from tracker import permissions
from tracker.documents.models import DESCRIPTION_MAX_LENGTH, DOCUMENT_TYPES, DOCUMENT_VISIBILITIES
from tracker.documents.services import format_size
from tracker.forms import options

ACCEPTED_EXTENSIONS = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"


def file_description(limit: int) -> str:
    return _l("PDF, PNG or JPEG, at most %(size)s.", size=format_size(limit))


class DocumentForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])
    document_type = SelectField(
        _l("Type of document"),
        choices=options(DOCUMENT_TYPES.items()),
        validators=[InputRequired()],
    )
    visibility = RadioField(
        _l("Who sees it"),
        choices=options(DOCUMENT_VISIBILITIES.items()),
        default="shared",
        validators=[InputRequired()],
        description=_l("A presentence report is internal (staff only) whoever attaches it."),
    )
    description = TextAreaField(
        _l("Description (optional)"), validators=[Optional(), Length(max=DESCRIPTION_MAX_LENGTH)]
    )
    #: The id of the document this one replaces (set by the "Supersede" choice).
    #: An empty label, never shown (see VersionedForm.version).
    supersedes = HiddenField("")
    submit = SubmitField(_l("Attach"))


def document_form(user, limit: int, **kwargs) -> DocumentForm:
    """The attach form for the user: advocates do not choose the visibility (shared)."""
    form = DocumentForm(prefix="document", **kwargs)
    form.file.description = file_description(limit)
    form.file.render_kw = {"accept": ACCEPTED_EXTENSIONS}
    if not permissions.can_choose_document_visibility(user):
        form.visibility.choices = options([("shared", DOCUMENT_VISIBILITIES["shared"])])
    return form
