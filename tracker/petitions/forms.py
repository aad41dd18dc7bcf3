"""One form per petition action. Forms check input; the services enforce the rules."""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import HiddenInput

from tracker.documents.models import DESCRIPTION_MAX_LENGTH, DOCUMENT_TYPES
from tracker.forms import options
from tracker.i18n import lazy
from tracker.petitions.fields import (
    AMOUNT_MESSAGE,
    CONFINED_STATUSES,
    CUSTODY_STATUSES,
    DEFAULT_CUSTODY,
    DEFAULT_KIND,
    EDITABLE_FIELDS,
    FIELDS,
    FIELDS_BY_NAME,
    FIELDS_BY_SECTION,
    KIND_ONLY_FIELDS,
    KIND_REQUIRED_FIELDS,
    KINDS,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    SECTIONS,
    PetitionField,
    too_long,
)
from tracker.petitions.filters import ASSIGNEE_KEYWORDS, MAX_SEARCH_LENGTH, SORTS, STAGE_CHOICES
from tracker.petitions.models import NOTE_VISIBILITIES, RECOMMENDATIONS
from tracker.petitions.outcomes import Outcome, parse_remission
from tracker.petitions.validation import normalize, parse_amount, petition_errors
from tracker.workflow import (
    CLOSE_DISPOSITIONS,
    DISPOSITIONS,
    KINDS_OF_RELIEF,
    RELIEFS,
    TRANSITIONS_BY_NAME,
    Stage,
)


def limited(max_length: int) -> Length:
    """WTForms' Length with the message every interface gives (and the maxlength attribute)."""
    return Length(max=max_length, message=too_long(max_length))


def field_validators(name: str) -> list:
    """The validators of a petition field, from its declaration in tracker.petitions.fields."""
    field = FIELDS_BY_NAME[name]
    presence = DataRequired() if field.required else Optional()
    return [presence, limited(field.max_length)]


class LinesField(TextAreaField):
    """A list of texts, one per line (CSV cells separate them with ';' instead)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "TextAreaField"  # rendered as one (see _macros.html)

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = [line.strip() for line in valuelist[0].splitlines() if line.strip()]

    def _value(self):
        return "\n".join(self.data) if isinstance(self.data, list) else (self.data or "")


def _yes_no(value):
    if value in (None, "", "None"):
        return None
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}[value]  # KeyError: not a choice (refused)


class YesNoField(SelectField):
    """An optional yes/no fact: not stated, yes or no."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, coerce=_yes_no, validate_choice=False, **kwargs)
        self.choices = options([("", _l("Not stated")), ("true", _l("Yes")), ("false", _l("No"))])
        self.type = "SelectField"

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except KeyError:
            self.data = None
            raise ValueError(_("Choose yes, no or not stated.")) from None


class AmountField(StringField):
    """Dollars, exact (Decimal)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.type = "StringField"

    def process_formdata(self, valuelist):
        self.raw = valuelist[0].strip() if valuelist else ""
        self.data = None
        if self.raw:
            try:
                self.data = parse_amount(self.raw)
            except ValueError:
                raise ValueError(AMOUNT_MESSAGE) from None

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return f"{self.data:.2f}" if self.data is not None else ""


#: The fields issue 11 added, built from their declarations (see ``_declared_field``); the
#: first eleven are written out below with their own wording.
FORM_WIDE_FIELDS = frozenset({"contact_address", "waiver_justification", "aliases", "statutes"})


def _one_per_line(description) -> str:
    return " ".join(part for part in (str(description), _("One per line.")) if part)


def _declared_field(field: PetitionField):
    """A form field for an optional petition field, from its declaration."""
    description = field.help or ""
    if field.type == "list":
        return LinesField(field.label, description=lazy(_one_per_line, description))
    if field.type == "boolean":
        return YesNoField(field.label, description=description)
    if field.type == "decimal":
        return AmountField(field.label, description=description or _l("Dollars, e.g. 1500.00."))
    if field.type == "date":
        return DateField(field.label, validators=[Optional()], description=description)
    if field.choices is not None:
        return SelectField(
            field.label,
            choices=options([("", _l("Not stated")), *field.choices.items()]),
            validators=[Optional()],
            description=description,
        )
    text_class = TextAreaField if field.name in FORM_WIDE_FIELDS else StringField
    return text_class(field.label, validators=field_validators(field.name), description=description)


class VersionedForm(FlaskForm):
    #: The petition version the user saw; a stale one gets the 409 conflict page. Versions
    #: start at 1: anything lower names no version of the case and is refused (422).
    #: An empty label, never shown (the field is hidden): without one WTForms translates the
    #: field's name, loading its own catalogue from disk on every request that builds a form.
    version = IntegerField(
        "",
        widget=HiddenInput(),
        validators=[
            InputRequired(),
            NumberRange(
                min=1, message=_l("This form names no version of the case; open it again.")
            ),
        ],
    )


class PetitionForm(VersionedForm):
    kind = SelectField(
        _l("Kind of clemency"),
        choices=options(KINDS.items()),
        validators=[InputRequired()],
        default=DEFAULT_KIND,
    )
    petitioner_name = StringField(
        _l("Petitioner's full name"), validators=field_validators("petitioner_name")
    )
    register_number = StringField(
        _l("Federal register number"),
        validators=field_validators("register_number"),
        description=_l(
            "Five digits, a dash, three digits (e.g. 12345-678). "
            "Required for a commutation; optional for a pardon."
        ),
    )
    date_of_birth = DateField(_l("Date of birth"), validators=[InputRequired()])
    offenses = TextAreaField(
        _l("Offense(s) of conviction"), validators=field_validators("offenses")
    )
    sentencing_court = StringField(
        _l("Sentencing court (federal district)"),
        validators=field_validators("sentencing_court"),
        description=_l("For example: District of Maryland; Eastern District of Texas."),
    )
    sentence = StringField(
        _l("Sentence imposed"),
        validators=field_validators("sentence"),
        description=_l("For example: 240 months' imprisonment, 5 years' supervised release."),
    )
    sentence_date = DateField(_l("Date of sentence"), validators=[InputRequired()])
    custody_status = SelectField(
        _l("Custody status"),
        choices=options(CUSTODY_STATUSES.items()),
        validators=[InputRequired()],
        default=DEFAULT_CUSTODY,
        description=_l("A pardon is for someone no longer confined."),
    )
    projected_release_date = DateField(
        _l("Projected release date"),
        validators=[Optional()],
        description=_l("Commutations only, when known."),
    )
    grounds = TextAreaField(_l("Grounds for clemency"), validators=field_validators("grounds"))
    submit = SubmitField(_l("Save"))
    #: The form's sections (title, help, fields) in order, as the template lays them out.
    sections = [
        (key, title, help_text, [field.name for field in FIELDS_BY_SECTION[key]])
        for key, (title, help_text) in SECTIONS.items()
    ]
    wide_fields = FORM_WIDE_FIELDS | {"offenses", "grounds"}

    def kind_hints(self, name: str) -> dict:
        """The data-kind-* attributes of a field's block, which tracker/static/forms.js reads
        to show, hide and mark the fields as the chosen kind asks (the server enforces them)."""
        hints = {}
        if name in KIND_ONLY_FIELDS:
            hints["data-kind-only"] = KIND_ONLY_FIELDS[name]
        if name in KIND_REQUIRED_FIELDS:
            hints["data-kind-required"] = KIND_REQUIRED_FIELDS[name]
        if name == "custody_status":
            hints["data-pardon-excludes"] = " ".join(sorted(CONFINED_STATUSES))
        return hints

    def petition_values(self) -> dict:
        return normalize({name: getattr(self, name).data for name in EDITABLE_FIELDS})

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # The cross-field rules (dates in order, register number by kind) live in
        # one place for the web, the API and CSV import.
        for name, message in petition_errors(self.petition_values()).items():
            field = getattr(self, name)
            if not field.errors:
                field.errors = [*field.errors, message]
                valid = False
        return valid


for _field in FIELDS[11:]:
    setattr(PetitionForm, _field.name, _declared_field(_field))


class NewPetitionForm(PetitionForm):
    """Submitting: there is no case yet, so no version to name. A document may be attached
    in the same step (shared with staff; a presentence report is internal)."""

    version = None
    document = FileField(_l("Attach a document (optional)"))
    document_type = SelectField(
        _l("Type of document"),
        choices=options(DOCUMENT_TYPES.items()),
        default="other",
        validators=[Optional()],
    )
    document_description = TextAreaField(
        _l("Description of the document (optional)"),
        validators=[Optional(), limited(DESCRIPTION_MAX_LENGTH)],
    )


class OutcomeFields:
    """What a close or a grant records: the disposition, the relief and its details.

    Shown according to the chosen action and relief by tracker/static/transition_fields.js
    (all shown without script). Only the members the chosen action takes are handed to the
    service, so a value left in a field the action hides is not refused.
    """

    disposition = SelectField(
        _l("Disposition"),
        validate_choice=False,
        choices=options(
            [("", _l("Choose how the case is closed"))]
            + [(name, DISPOSITIONS[name]) for name in CLOSE_DISPOSITIONS]
        ),
        description=_l("For Close."),
    )
    relief = SelectField(
        _l("Relief granted"),
        validate_choice=False,
        choices=options(
            [("", _l("Choose the relief granted"))]
            + [(name, RELIEFS[name][0]) for name in KINDS_OF_RELIEF]
        ),
        description=_l("For Grant: a pardon is a full pardon; a commutation one of the others."),
    )
    commuted_sentence = TextAreaField(
        _l("Commuted sentence"),
        validators=[Optional(), limited(REASON_MAX_LENGTH)],
        description=_l("For a reduced commutation, e.g. '120 months'."),
    )
    new_release_date = DateField(
        _l("New release date"),
        validators=[Optional()],
        description=_l("For a reduced commutation."),
    )
    remission_amount = StringField(
        _l("Amount remitted (dollars)"), description=_l("For a remission of a fine or restitution.")
    )
    terms = TextAreaField(
        _l("Terms"),
        validators=[Optional(), limited(REASON_MAX_LENGTH)],
        description=_l("Conditions of the grant, e.g. 'the term of supervised release remains'."),
    )

    def validate_relief(self, field):
        # The web form requires the relief (the API records an omitted one as unspecified).
        if self.action.data == "grant" and not field.data:
            raise ValidationError(_("Choose the relief granted."))

    def validate_remission_amount(self, field):
        try:
            parse_remission(field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def outcome(self) -> Outcome:
        transition = TRANSITIONS_BY_NAME.get(self.action.data)
        if transition is None or not transition.dispositions:
            return Outcome()
        if transition.target != Stage.GRANTED:
            return Outcome(disposition=self.disposition.data or None)
        return Outcome(
            relief=self.relief.data or None,
            commuted_sentence=self.commuted_sentence.data,
            new_release_date=self.new_release_date.data,
            remission_amount=parse_remission(self.remission_amount.data),
            terms=self.terms.data,
        )


class TransitionForm(OutcomeFields, VersionedForm):
    # Not limited to the offered choices: a forbidden action must reach the
    # service and be refused there with 403/409, whatever was posted.
    action = SelectField(_l("Action"), validate_choice=False, validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason"),
        validators=[limited(REASON_MAX_LENGTH)],
        description=_l("Required to return, grant, deny, close or reopen. The advocate sees it."),
    )
    #: return_for_information: when the advocate's answer is due (default 30 days).
    due_on = DateField(_l("Information due on"), validators=[Optional()])
    #: A decision while referrals are open closes them with this reason (else refused, 409).
    close_referrals_reason = TextAreaField(
        _l("Close open referrals with this reason"),
        validators=[limited(REASON_MAX_LENGTH)],
        description=_l("Only when deciding while a referral is still open (internal)."),
    )
    #: provide_information: the advocate's answer.
    response = TextAreaField(_l("Your answer"), validators=[limited(REASON_MAX_LENGTH)])
    submit = SubmitField(_l("Apply"))

    def extra(self) -> dict:
        """What the chosen action takes besides its reason (see TransitionExtra)."""
        extra = {"due_on": self.due_on.data}
        if self.action.data == "provide_information":
            extra["response"] = self.response.data or None
        if (self.close_referrals_reason.data or "").strip():
            extra["close_referrals_reason"] = self.close_referrals_reason.data
        return extra


class ProvideInformationForm(PetitionForm):
    """The advocate's answer to an information request, with corrections to the fields."""

    response = TextAreaField(
        _l("Your answer"), validators=[DataRequired(), limited(REASON_MAX_LENGTH)]
    )
    submit = SubmitField(_l("Send the answer"))


class RecommendationForm(FlaskForm):
    recommendation = RadioField(
        _l("Recommendation"), choices=options(RECOMMENDATIONS.items()), validators=[InputRequired()]
    )
    memo = TextAreaField(
        _l("Memo (internal)"), validators=[DataRequired(), limited(NOTE_MAX_LENGTH)]
    )
    submit = SubmitField(_l("Record recommendation"))


class AssignForm(VersionedForm):
    assignee = SelectField(_l("Assign to"), validate_choice=False, choices=[])
    submit = SubmitField(_l("Assign"))


class TakeForm(VersionedForm):
    submit = SubmitField(_l("Take this case"))


class NoteForm(FlaskForm):
    body = TextAreaField(_l("Note"), validators=[DataRequired(), limited(NOTE_MAX_LENGTH)])
    visibility = RadioField(
        _l("Who sees it"),
        choices=options(NOTE_VISIBILITIES.items()),
        default="internal",
        validators=[InputRequired()],
    )
    submit = SubmitField(_l("Add note"))


class QueueFilterForm(FlaskForm):
    """The queue's filters as the page shows them, filled from the query string (a GET form,
    so no CSRF token). The values are checked by ``tracker.petitions.filters``, not here."""

    class Meta:
        csrf = False

    q = StringField(
        _l("Search"),
        render_kw={"maxlength": MAX_SEARCH_LENGTH},
        description=_l("Case number, register number or any part of the name"),
    )
    stage = SelectMultipleField(
        _l("Stage"),
        choices=options(STAGE_CHOICES.items()),
        description=_l("Any stage when none is chosen"),
    )
    kind = SelectField(_l("Kind"), choices=options([("", _l("Any kind"))] + list(KINDS.items())))
    assignee = SelectField(
        _l("Assignee"),
        choices=options([("", _l("Anyone"))] + list(ASSIGNEE_KEYWORDS.items())),
        validate_choice=False,
    )
    organization = SelectField(
        _l("Organization"), choices=options([("", _l("Any organization"))]), validate_choice=False
    )
    sort = SelectField(_l("Order"), choices=options(SORTS.items()), default="oldest")
    older_than_days = StringField(_l("Older than (days)"), render_kw={"inputmode": "numeric"})
    referral_overdue = SelectField(
        _l("Referrals"), choices=options([("", _l("Any")), ("true", _l("Overdue referral"))])
    )
