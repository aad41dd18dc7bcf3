"""One form per petition action. Forms check input; the services enforce the rules."""

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectField,
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

from tracker import permissions
from tracker.documents.models import DESCRIPTION_MAX_LENGTH, DOCUMENT_TYPES
from tracker.forms import options
from tracker.i18n import LANGUAGES, current_language, lazy
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
    Role,
    Stage,
    transitions_for,
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


@dataclass(frozen=True)
class QueueFilter:
    """One of the queue's filters as its form shows it: a text input, or a select of
    ``choices`` ((value, label) pairs; the people's are added per view)."""

    name: str
    label: str
    description: str | None = None
    choices: tuple[tuple[str, str], ...] | None = None
    multiple: bool = False
    #: The text input's further attributes.
    attributes: tuple[tuple[str, object], ...] = ()
    #: Chosen when the query string names none.
    default: str | None = None
    #: Who is offered it (a rule of tracker.permissions); everyone when None.
    rule: Callable | None = None


#: The queue's filters in the order the page shows them. Their values are checked by
#: ``tracker.petitions.filters``, not here.
QUEUE_FILTERS = (
    QueueFilter(
        "q",
        _l("Search"),
        _l("Case number, register number or any part of the name"),
        attributes=(("maxlength", MAX_SEARCH_LENGTH),),
    ),
    QueueFilter(
        "stage",
        _l("Stage"),
        _l("Any stage when none is chosen"),
        choices=tuple(STAGE_CHOICES.items()),
        multiple=True,
    ),
    QueueFilter("kind", _l("Kind"), choices=(("", _l("Any kind")), *KINDS.items())),
    QueueFilter(
        "assignee",
        _l("Assignee"),
        choices=(("", _l("Anyone")), *ASSIGNEE_KEYWORDS.items()),
        rule=permissions.can_view_assignee,
    ),
    QueueFilter(
        "organization",
        _l("Organization"),
        choices=(("", _l("Any organization")),),
        rule=permissions.can_view_all_petitions,
    ),
    QueueFilter("older_than_days", _l("Older than (days)"), attributes=(("inputmode", "numeric"),)),
    QueueFilter(
        "referral_overdue",
        _l("Referrals"),
        choices=(("", _l("Any")), ("true", _l("Overdue referral"))),
        rule=permissions.can_view_referrals,
    ),
    QueueFilter("sort", _l("Order"), choices=tuple(SORTS.items()), default="oldest"),
)


@functools.lru_cache(maxsize=len(LANGUAGES))
def _queue_filters_in(language: str) -> tuple[QueueFilter, ...]:
    """QUEUE_FILTERS with their texts in ``language`` (the request's): fixed texts, so
    translated once per process and language rather than some thirty lookups a view."""
    return tuple(
        replace(
            spec,
            label=str(spec.label),
            description=str(spec.description) if spec.description else None,
            choices=tuple((value, str(text)) for value, text in spec.choices)
            if spec.choices is not None
            else None,
        )
        for spec in QUEUE_FILTERS
    )


@dataclass
class ShownFilter:
    """A filter as one view shows it: what was sent for it, kept as typed, and its message."""

    spec: QueueFilter
    choices: tuple[tuple[str, str], ...] | None
    #: The text input's value, as typed.
    value: str
    #: The select's chosen values.
    selected: frozenset[str]
    errors: list[str]


class QueueFilterForm:
    """The queue's filter form (a GET form: no CSRF token), the filters the viewer is offered
    filled from what was sent (``raw``: a query string, or the bulk form's same names), so a
    refused filter shows again as typed with its message under it.

    Written by the page's template, not by WTForms: rendering eight fields through WTForms'
    widgets and a macro, their lazy labels looked up each time, cost more on every queue view
    than the page's query. ``people`` are the choices added to a select by name (the assignee
    filter's staff, the organization filter's organizations)."""

    def __init__(self, raw, viewer, people: dict[str, list[tuple[str, str]]]):
        self.fields = []
        self.by_name = {}
        #: Messages of filters the form does not show (a fact filter of a link).
        self.form_errors = []
        for spec in _queue_filters_in(current_language()):
            if spec.rule is not None and not spec.rule(viewer):
                continue
            sent = raw.getlist(spec.name) if hasattr(raw, "getlist") else []
            choices = spec.choices
            if spec.name in people:
                choices = choices + tuple(people[spec.name])
            if spec.multiple:
                selected = frozenset(sent)
            else:
                selected = frozenset(sent[:1] or ([spec.default] if spec.default else []))
            shown = ShownFilter(spec, choices, sent[0] if sent else "", selected, [])
            self.fields.append(shown)
            self.by_name[spec.name] = shown

    def apply_errors(self, error) -> None:
        """Show the filters' errors (a ValidationFailed of ``tracker.petitions.filters``)
        under their fields."""
        for name, message in error.errors.items():
            shown = self.by_name.get(name)
            if shown is not None:
                shown.errors.append(message)
            else:
                self.form_errors.append(message)

    @property
    def errors(self) -> bool:
        return bool(self.form_errors) or any(shown.errors for shown in self.fields)


@dataclass(frozen=True)
class BulkChoices:
    """The queue's bulk-decision form's choices, as (value, label) pairs in one language."""

    #: The transitions the role may take on some case.
    actions: tuple[tuple[str, str], ...]
    #: How ``close`` may record the cases closed.
    dispositions: tuple[tuple[str, str], ...]
    #: What ``grant`` may give.
    reliefs: tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=4 * len(LANGUAGES))
def _bulk_choices_in(language: str, role: Role) -> BulkChoices:
    return BulkChoices(
        actions=tuple((t.name, str(t.label)) for t in transitions_for(role)),
        dispositions=tuple((name, str(DISPOSITIONS[name])) for name in CLOSE_DISPOSITIONS),
        reliefs=tuple((name, str(RELIEFS[name][0])) for name in KINDS_OF_RELIEF),
    )


def bulk_choices(user) -> BulkChoices:
    """The bulk form's choices for the user's role in the request's language: fixed texts,
    translated once per process, language and role rather than a dozen lookups a view."""
    return _bulk_choices_in(current_language(), user.role_enum)
