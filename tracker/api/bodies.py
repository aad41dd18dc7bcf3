"""The API's request bodies as pydantic models: each one checks a body and describes it.

The petition models are built from the field declarations of ``tracker.petitions.fields``
(the same ones the forms, CSV import and the model's columns read), the actions from the
workflow table; ``tracker.api.openapi`` takes its components from ``json_schemas()``. So
what the API accepts and what its document says it accepts are one definition.

Unknown members are refused (``extra="forbid"``); every refusal is a 422 whose ``errors``
name each field, in the words the forms and CSV import use.
"""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    create_model,
)
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import PydanticCustomError

from tracker.acts.models import AUTHORITY_MAX_LENGTH, TITLE_MAX_LENGTH
from tracker.api.serialization import json_object
from tracker.deadlines.models import AGENCIES
from tracker.errors import ValidationFailed
from tracker.petitions.fields import (
    AMOUNT_MESSAGE,
    BOOLEAN_MESSAGE,
    DATE_FORMAT,
    FIELDS,
    FIELDS_BY_NAME,
    LIST_SEPARATOR,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    REQUIRED,
    PetitionField,
    too_long,
)
from tracker.petitions.importing import READ_ONLY_FIELDS
from tracker.petitions.models import RECOMMENDATIONS
from tracker.petitions.outcomes import Outcome, parse_remission
from tracker.petitions.services import MAX_BULK_DECISIONS as MAX_ACT_CASES
from tracker.petitions.validation import parse_amount
from tracker.workflow import CASE_ACTIONS, DISPOSITIONS, KINDS_OF_RELIEF, PETITION_TRANSITIONS

ACTIONS = tuple(t.name for t in PETITION_TRANSITIONS)
#: A single case also takes the actions that keep its stage (approve_waiver).
CASE_ACTION_NAMES = ACTIONS + tuple(a.name for a in CASE_ACTIONS)
#: A decision chooses its cases by exactly one of these members.
SELECTORS = ("case_numbers", "filter", "versions")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Body(BaseModel):
    """A request body: unknown members refused, input values never echoed in errors."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


def refused_with(message: str) -> WrapValidator:
    """Whatever is wrong with the value, say it with this one message (the field's own)."""

    def validate(value, handler):
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("invalid_value", str(message)) from None

    return WrapValidator(validate)


def _iso_date(value) -> date:
    # JSON dates are exact: 2024-12-31, no spaces, no other ISO 8601 spelling.
    if isinstance(value, str) and ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("date_format", str(DATE_FORMAT))


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _amount(value):
    # Dollars as a JSON number (1500, 1500.5) or a string ("1500.00"), read exactly.
    try:
        return parse_amount(value)
    except ValueError:
        raise PydanticCustomError("amount", str(AMOUNT_MESSAGE)) from None


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "type": ["number", "string"],
            "pattern": r"^[0-9]+(\.[0-9]{1,2})?$",
            "minimum": 0,
            "description": 'Dollars, at most two decimals; answered as a string ("1500.00").',
        }
    ),
]


def _field_type(field: PetitionField):
    """The annotation of a petition field: its type, limits and messages from its declaration."""
    if field.choices is not None:
        annotation = Annotated[Literal[tuple(field.choices)], refused_with(field.invalid_message)]
    elif field.type == "list":
        # Its limits (items, their length, no separator) are checked with the petition's
        # rules, in the words every interface uses; the schema states them.
        annotation = Annotated[
            list[str],
            refused_with("A list of texts."),
            Field(
                json_schema_extra={
                    "maxItems": field.max_items,
                    "items": {
                        "type": "string",
                        "maxLength": field.max_length,
                        "pattern": f"^[^{LIST_SEPARATOR}]*$",
                    },
                }
            ),
        ]
    elif field.type == "boolean":
        annotation = Annotated[bool, Strict(), refused_with(BOOLEAN_MESSAGE)]
    elif field.type == "decimal":
        annotation = Amount
    elif field.type == "date":
        annotation = IsoDate
    else:
        annotation = Annotated[
            str,
            StringConstraints(min_length=1, max_length=field.max_length, pattern=field.pattern),
        ]
        if field.pattern is not None:
            annotation = Annotated[annotation, refused_with(field.invalid_message)]
    # Only a field a petition may lack takes null (to clear it).
    return annotation if field.required else annotation | None


def _petition_model(name: str, description: str, *, create: bool) -> type[Body]:
    members = {}
    for field in FIELDS:
        required = create and field.required
        members[field.name] = (
            _field_type(field),
            Field(
                ... if required else None,
                description=field.label + (f". {field.help}" if field.help else ""),
            ),
        )
    return create_model(name, __base__=Body, __doc__=description, **members)


PetitionCreate = _petition_model(
    "PetitionCreate",
    "The writable fields. Read-only ones (case_number, stage, organization, advocate, "
    "assignee, version, time stamps) are refused with 422.",
    create=True,
)
PetitionPatch = _petition_model("PetitionPatch", "Only the fields to change.", create=False)

Action = Annotated[
    Literal[ACTIONS],
    refused_with("One of: " + ", ".join(ACTIONS) + "."),
    Field(description="A workflow action."),
]
Reason = Annotated[
    Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
    Field(description="Required to return, grant, deny or reopen; the advocate sees it."),
]


ResponseText = Annotated[
    Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
    Field(description="provide_information: the advocate's answer (required there)."),
]
DueOn = Annotated[
    IsoDate | None,
    Field(description="return_for_information: when the answer is due (default 30 days)."),
]
CloseReferralsReason = Annotated[
    Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
    Field(
        description="A decision while referrals are open closes them with this reason "
        "(without it: 409 naming them). Internal."
    ),
]


def _amount(value):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("amount", "An amount in dollars, e.g. 1500.00.")
    try:
        return parse_remission(str(value))
    except ValueError as error:
        raise PydanticCustomError("amount", str(error)) from None


DISPOSITION_HELP = (
    "close: closed_without_action, ineligible, deceased or moot (required); "
    "withdraw: withdrawn (implied)."
)
RELIEF_HELP = (
    "grant: what was granted; must fit the kind (a pardon is full_pardon). "
    "Omitted: recorded as unspecified."
)
OutcomeText = Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None


class OutcomeMembers(Body):
    """What a close or a grant records (refused with 422 on an action that takes none)."""

    disposition: Annotated[
        Literal[tuple(DISPOSITIONS)] | None,
        refused_with("One of: " + ", ".join(DISPOSITIONS) + "."),
        Field(description=DISPOSITION_HELP),
    ] = None
    relief: Annotated[
        Literal[KINDS_OF_RELIEF] | None,
        refused_with("One of: " + ", ".join(KINDS_OF_RELIEF) + "."),
        Field(description=RELIEF_HELP),
    ] = None
    commuted_sentence: Annotated[
        OutcomeText, Field(description="grant with commutation_reduced: the new sentence.")
    ] = None
    new_release_date: Annotated[
        IsoDate | None, Field(description="grant with commutation_reduced: the release date.")
    ] = None
    remission_amount: Annotated[
        Any,
        BeforeValidator(_amount),
        Field(
            description='grant with remission: dollars remitted, e.g. "1500.00".',
            json_schema_extra={"type": ["string", "number", "null"]},
        ),
    ] = None
    terms: Annotated[
        OutcomeText,
        Field(description="grant: conditions, e.g. the term of supervised release."),
    ] = None

    def outcome(self) -> Outcome:
        return Outcome(
            disposition=self.disposition,
            relief=self.relief,
            commuted_sentence=self.commuted_sentence,
            new_release_date=self.new_release_date,
            remission_amount=self.remission_amount,
            terms=self.terms,
        )


class TransitionRequest(OutcomeMembers):
    action: Annotated[
        Literal[CASE_ACTION_NAMES],
        refused_with("One of: " + ", ".join(CASE_ACTION_NAMES) + "."),
        Field(description="A workflow action, or approve_waiver (keeps the stage)."),
    ]
    reason: Reason = None
    response: ResponseText = None
    corrections: Annotated[
        PetitionPatch | None,
        Field(description="provide_information: field corrections, checked as an edit."),
    ] = None
    due_on: DueOn = None
    close_referrals_reason: CloseReferralsReason = None

    def extra(self) -> dict:
        """The members besides action and reason, as ``apply_transition`` takes them."""
        return {
            "response": self.response,
            "corrections": self.corrections.model_dump(exclude_unset=True)
            if self.corrections is not None
            else None,
            "due_on": self.due_on,
            "close_referrals_reason": self.close_referrals_reason,
        }


AgencyName = Annotated[str, StringConstraints(max_length=200)]


class ReferralCreate(Body):
    """A referral of the case to an agency (staff only)."""

    agency: Annotated[
        Literal[tuple(AGENCIES)], refused_with("One of: " + ", ".join(AGENCIES) + ".")
    ]
    agency_name: Annotated[
        AgencyName | None, Field(description="The agency's name; required for 'other'.")
    ] = None
    sent_on: Annotated[IsoDate | None, Field(description="Default: today.")] = None
    due_on: Annotated[
        IsoDate | None,
        Field(description="Default: the agency's period after sent_on (FBI 120, others 30 days)."),
    ] = None
    summary: Annotated[
        Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
        Field(description="Internal."),
    ] = None


class ReferralPatch(Body):
    """Answer a referral (answered_on, or answered: true for today; summary), or extend it
    (a later due_on with a reason)."""

    answered: bool | None = None
    answered_on: IsoDate | None = None
    summary: Annotated[
        Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
        Field(description="The agency's answer in short (internal)."),
    ] = None
    due_on: IsoDate | None = None
    reason: Annotated[
        Annotated[str, StringConstraints(max_length=REASON_MAX_LENGTH)] | None,
        Field(description="Why the due date moves (required with due_on)."),
    ] = None


class DecisionRequest(OutcomeMembers):
    """One action, reason, disposition or relief for many cases, chosen by exactly one of:
    case_numbers; filter (the filters of GET /petitions); versions (case number → the
    version you read: a case changed since is refused with 412)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [name]} for name in SELECTORS]}
    )

    action: Action
    reason: Reason = None
    case_numbers: Annotated[
        list[str], Field(min_length=1), refused_with("A list of case numbers.")
    ] = None
    filter: Annotated[
        dict[str, Any], refused_with("An object of filters, as for GET /petitions.")
    ] = None
    versions: Annotated[
        dict[str, Annotated[int, Strict(), Field(ge=1, lt=2**31)]],
        Field(min_length=1),
        refused_with("An object of case number: version (ETag)."),
    ] = None
    due_on: DueOn = None
    close_referrals_reason: CloseReferralsReason = None

    def extra(self) -> dict:
        return {"due_on": self.due_on, "close_referrals_reason": self.close_referrals_reason}

    def selector(self) -> str:
        """Which of SELECTORS the body chose the cases by; 422 unless exactly one."""
        chosen = [name for name in SELECTORS if name in self.model_fields_set]
        if len(chosen) != 1:
            raise ValidationFailed(
                {"case_numbers": "Give exactly one of case_numbers, filter or versions."}
            )
        return chosen[0]


class RecommendationRequest(Body):
    """A staff recommendation on a case under review, with its internal memo."""

    recommendation: Annotated[
        Literal[tuple(RECOMMENDATIONS)],
        refused_with("One of: " + ", ".join(RECOMMENDATIONS) + "."),
    ]
    memo: Annotated[str, StringConstraints(min_length=1, max_length=NOTE_MAX_LENGTH)]


# --- clemency acts (issue 14) -------------------------------------------------------------------

#: An act's case selector: exactly one of these members.
ACT_SELECTORS = ("filter", "register_numbers")


class ActCreate(Body):
    """A draft act of clemency (supervisors). The relief is granted alike to every case, so
    not one that needs per-case details (commutation_reduced, remission): 422."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=TITLE_MAX_LENGTH)]
    signed_on: Annotated[
        IsoDate, Field(description="The day the act was signed (not later than today).")
    ]
    authority: Annotated[
        str,
        StringConstraints(min_length=1, max_length=AUTHORITY_MAX_LENGTH),
        Field(description='Who signed it, e.g. "President".'),
    ]
    relief: Annotated[
        Literal[KINDS_OF_RELIEF],
        refused_with("One of: " + ", ".join(KINDS_OF_RELIEF) + "."),
        Field(description="What every case is granted; checked against each case's kind."),
    ]
    terms: Annotated[
        OutcomeText, Field(description="Conditions written on every grant (its terms).")
    ] = None
    note: Annotated[
        Annotated[str, StringConstraints(max_length=NOTE_MAX_LENGTH)] | None,
        Field(description="Public: shown with the act on the public statistics."),
    ] = None


class ActCasesRequest(Body):
    """Cases for a draft act, by exactly one of: filter (the filters of GET /petitions, and the
    petition's facts: custody_status, offense_category, nonviolent, and date ranges) or
    register_numbers (each must name a case: 422 naming each bad one by its position)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": [name]} for name in ACT_SELECTORS]}
    )

    filter: Annotated[
        dict[str, Any], refused_with("An object of filters, as for GET /petitions.")
    ] = None
    register_numbers: Annotated[
        list[Annotated[str, StringConstraints(max_length=50)]],
        Field(min_length=1, max_length=MAX_ACT_CASES),
        refused_with(f"A list of 1 to {MAX_ACT_CASES} register numbers."),
    ] = None

    def selector(self) -> str:
        chosen = [name for name in ACT_SELECTORS if name in self.model_fields_set]
        if len(chosen) != 1:
            raise ValidationFailed({"filter": "Give exactly one of filter or register_numbers."})
        return chosen[0]


class ActRecordRequest(Body):
    """Optional: the number of cases the preview said it would grant. When the preview gives
    another number now, nothing is recorded (409)."""

    expected_included: Annotated[
        Annotated[int, Strict(), Field(ge=0, lt=2**31)] | None,
        Field(description="The preview's 'included' you confirmed."),
    ] = None


#: Every request body, as named in the OpenAPI document.
MODELS = (
    PetitionCreate,
    PetitionPatch,
    TransitionRequest,
    DecisionRequest,
    ReferralCreate,
    ReferralPatch,
    RecommendationRequest,
    ActCreate,
    ActCasesRequest,
    ActRecordRequest,
)


# --- reading a body -------------------------------------------------------------------------------

ModelT = TypeVar("ModelT", bound=Body)


def _message(field: str, error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"'{field}' is read-only." if field in READ_ONLY_FIELDS else "Unknown field."
    if kind == "missing" or error.get("input", "") is None or kind == "string_too_short":
        # As a form or CSV import says it ("Choose a custody status." for a missing choice).
        return FIELDS_BY_NAME[field].missing_message if field in FIELDS_BY_NAME else REQUIRED
    if kind == "string_too_long":
        return too_long(error["ctx"]["max_length"])
    if kind == "string_type":
        return "Must be a string."
    return error["msg"]  # our own messages (refused_with, dates), or pydantic's


def read(model: type[ModelT]) -> ModelT:
    """The request's JSON body checked by the model; 422 naming each refused field."""
    body = json_object()
    try:
        return model.model_validate(body)
    except ValidationError as error:
        errors = {}
        for item in error.errors(include_url=False):
            field = str(item["loc"][0]) if item["loc"] else "body"
            errors.setdefault(field, _message(field, item))
        raise ValidationFailed(errors) from None


def petition_values(model: type[Body]) -> dict:
    """The petition fields a create or PATCH body sets (typed: dates are dates)."""
    return read(model).model_dump(exclude_unset=True)


# --- describing them ------------------------------------------------------------------------------


class OpenApiSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, in the style of this API's document: a nullable value is
    ``"type": [..., "null"]`` (as the docs page shows it), no generated titles, and no
    ``default: null`` on members that are simply optional."""

    def nullable_schema(self, schema) -> dict:
        inner = self.generate_inner(schema["schema"])
        if not isinstance(inner.get("type"), str):
            return super().nullable_schema(schema)
        nullable = inner | {"type": [inner["type"], "null"]}
        if "enum" in inner:
            nullable["enum"] = [*inner["enum"], None]
        return nullable

    def default_schema(self, schema) -> dict:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def model_schema(self, schema) -> dict:
        json_schema = super().model_schema(schema)
        json_schema.pop("title", None)
        if "description" in json_schema:  # a docstring's line breaks are not the text's
            json_schema["description"] = " ".join(json_schema["description"].split())
        return json_schema


def json_schemas() -> dict[str, dict]:
    """The request bodies' schemas, by model name, with references between components."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in MODELS],
        ref_template="#/components/schemas/{model}",
        schema_generator=OpenApiSchema,
    )
    return definitions["$defs"]
