"""Every rule of a petition's data, written once.

Each field of a petition is declared here with its label, whether every petition has it,
its longest allowed text, its coded values or its pattern, and the message that refuses a
bad value. Everything else reads these declarations instead of repeating them: the model's
column lengths (``models``), the form validators (``forms``), the rules every interface
applies (``validation``, used by the forms, the JSON API and CSV import), the API's request
bodies and their OpenAPI document (``tracker.api.bodies``), and the README's table of limits
(a test compares them).

The case number's pattern and the longest reason and note live here too, for the same reason.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from tracker.i18n import lazy, number_filter
from tracker.workflow import KINDS_OF_RELIEF, RELIEFS

KINDS = {"pardon": _l("Pardon"), "commutation": _l("Commutation of sentence")}
CUSTODY_STATUSES = {
    "in_prison": _l("In prison"),
    "home_confinement": _l("Home confinement"),
    "supervised_release": _l("Supervised release"),
    "released": _l("Released"),
}

#: What the kind changes (the rules are in ``validation``; the form shows them as hints): the
#: custody statuses of someone still confined, which a pardon cannot have; fields only one
#: kind takes; fields one kind requires.
CONFINED_STATUSES = frozenset({"in_prison", "home_confinement"})
KIND_ONLY_FIELDS = {"projected_release_date": "commutation"}
KIND_REQUIRED_FIELDS = {"register_number": "commutation", "release_date": "pardon"}
#: The new-petition form's first values: the most common case, and not a contradiction.
DEFAULT_KIND, DEFAULT_CUSTODY = "commutation", "in_prison"

#: How the petition came about (the forms' "conviction by plea or trial").
CONVICTION_BY = {"plea": _l("Guilty plea"), "trial": _l("Trial")}
OFFENSE_CATEGORIES = {
    "drug": _l("Drug"),
    "firearms": _l("Firearms"),
    "fraud": _l("Fraud"),
    "immigration": _l("Immigration"),
    "violent": _l("Violent"),
    "sex_offense": _l("Sex offense"),
    "other": _l("Other"),
}
#: What the petitioner asks for: the reliefs a grant may name (``tracker.workflow.RELIEFS``,
#: the one list of reliefs, their labels and the kinds each fits).
RELIEFS_SOUGHT = {name: RELIEFS[name][0] for name in KINDS_OF_RELIEF}
#: The sections of the petition form, in order, with their help text.
SECTIONS = {
    "petition": (_l("Petition"), _l("What is asked for, and why.")),
    "petitioner": (
        _l("Petitioner"),
        _l("Who the petitioner is, as the Bureau of Prisons knows them."),
    ),
    "conviction": (_l("Conviction"), _l("The conviction and sentence the petition concerns.")),
    "custody": (_l("Custody"), _l("Where the petitioner is and when confinement began and ended.")),
    "financial": (_l("Fines and restitution"), _l("Amounts in dollars, e.g. 1500.00.")),
    "contact": (
        _l("Representative and contact"),
        _l("Personal data: shown only to the pardon office's staff and your organization."),
    ),
    "waiver": (
        _l("Eligibility waiver"),
        _l(
            "Only when the petition does not meet an eligibility rule: say why it should be "
            "considered anyway."
        ),
    ),
}
#: A list field's items are separated by this in a CSV cell.
LIST_SEPARATOR = ";"
#: Amounts in dollars: at most this, with at most two decimal places.
MAX_AMOUNT_DIGITS = 12

REQUIRED = _l("This field is required.")
DATE_FORMAT = _l("Use a date like 2024-12-31.")
#: What an import accepts for a date (see validation.parse_spreadsheet_date).
SPREADSHEET_DATE_FORMAT = _l(
    "Use a date like 2024-12-31 (year-month-day), 12/31/2024 (month/day/year) "
    "or a spreadsheet date cell."
)
NUL_CHARACTER = _l("Contains a NUL character.")


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def too_long(max_length: int):
    """'At most 5,000 characters.', grouped for the language it is shown in."""
    return lazy(_at_most_characters, max_length)


def _at_most_characters(max_length: int) -> str:
    return gettext("At most %(count)s characters.", count=number_filter(max_length))


@dataclass(frozen=True)
class PetitionField:
    """One field of a petition, as every interface checks it."""

    name: str
    #: Short label, used in history diffs and documents.
    label: str
    #: "text", "date", "choice", "list" (of texts), "boolean" or "decimal" (dollars).
    type: str = "text"
    #: Every petition has a value (else it may be empty: null in JSON, an empty CSV cell).
    required: bool = True
    #: Longest text accepted, in characters (None: the field is not free text).
    max_length: int | None = None
    #: The coded values of a choice and their labels.
    choices: Mapping[str, str] | None = None
    #: The whole value must match (a ``re`` pattern, also valid in JSON Schema).
    pattern: str | None = None
    #: The message for a value that is not one of ``choices`` or does not match ``pattern``.
    invalid_message: str | None = None
    #: The form section it belongs to (a key of SECTIONS) and the help under it.
    section: str = "petition"
    help: str | None = None
    #: A list's longest length (its items' longest text is ``max_length``).
    max_items: int | None = None
    #: Personal data (contact details): shown to staff and the petition's organization only.
    personal: bool = False

    @property
    def missing_message(self) -> str:
        # An empty choice is refused as any other value outside the list.
        return self.invalid_message if self.choices else REQUIRED

    def matches(self, text: str) -> bool:
        """Whether the text is the whole of a value of ``pattern`` (always, without one)."""
        return self.pattern is None or _compiled(self.pattern).fullmatch(text) is not None


FIELDS = (
    PetitionField(
        "kind",
        _l("Kind"),
        type="choice",
        choices=KINDS,
        invalid_message=_l("Choose pardon or commutation."),
    ),
    PetitionField(
        "petitioner_name", _l("Petitioner's full name"), max_length=200, section="petitioner"
    ),
    #: Federal Bureau of Prisons register number; a commutation needs one (see validation).
    PetitionField(
        "register_number",
        _l("Federal register number"),
        required=False,
        max_length=9,
        pattern=r"^[0-9]{5}-[0-9]{3}$",
        invalid_message=_l("Use five digits, a dash, three digits (e.g. 12345-678)."),
        section="petitioner",
    ),
    PetitionField("date_of_birth", _l("Date of birth"), type="date", section="petitioner"),
    #: Long enough for the federal forms' answers; every edit copies old and new values into
    #: the append-only audit log, so no field is unbounded.
    PetitionField(
        "offenses", _l("Offense(s) of conviction"), max_length=5_000, section="conviction"
    ),
    PetitionField("sentencing_court", _l("Sentencing court"), max_length=200, section="conviction"),
    PetitionField("sentence", _l("Sentence imposed"), max_length=500, section="conviction"),
    PetitionField("sentence_date", _l("Date of sentence"), type="date", section="conviction"),
    PetitionField(
        "custody_status",
        _l("Custody status"),
        type="choice",
        choices=CUSTODY_STATUSES,
        invalid_message=_l("Choose a custody status."),
        section="custody",
    ),
    PetitionField(
        "projected_release_date",
        _l("Projected release date"),
        type="date",
        required=False,
        section="custody",
    ),
    PetitionField("grounds", _l("Grounds for clemency"), max_length=20_000),
    # --- the federal forms' facts (issue 11): all optional on submission -----------------
    PetitionField(
        "relief_sought",
        _l("Relief sought"),
        type="choice",
        required=False,
        choices=RELIEFS_SOUGHT,
        invalid_message=_l("Choose one of: %(values)s.", values=", ".join(RELIEFS_SOUGHT)),
        help=_l("A commutation for someone no longer serving is considered only as a remission."),
    ),
    PetitionField(
        "aliases",
        _l("Other names used"),
        type="list",
        required=False,
        max_length=200,
        max_items=20,
        section="petitioner",
        help=_l("Every other name the petitioner has used."),
    ),
    PetitionField(
        "docket_number",
        _l("Docket number"),
        required=False,
        max_length=100,
        section="conviction",
        help=_l("The criminal case number in the sentencing court, e.g. 1:04-cr-00123."),
    ),
    PetitionField(
        "sentencing_judge",
        _l("Sentencing judge"),
        required=False,
        max_length=200,
        section="conviction",
    ),
    PetitionField(
        "statutes",
        _l("Statutes of conviction"),
        type="list",
        required=False,
        max_length=200,
        max_items=50,
        section="conviction",
        help=_l("Citations, e.g. 21 U.S.C. § 846."),
    ),
    PetitionField(
        "conviction_date",
        _l("Date of conviction"),
        type="date",
        required=False,
        section="conviction",
    ),
    PetitionField(
        "conviction_by",
        _l("Convicted by"),
        type="choice",
        required=False,
        choices=CONVICTION_BY,
        invalid_message=_l("Choose plea or trial."),
        section="conviction",
    ),
    PetitionField(
        "offense_category",
        _l("Offense category"),
        type="choice",
        required=False,
        choices=OFFENSE_CATEGORIES,
        invalid_message=_l("Choose one of: %(values)s.", values=", ".join(OFFENSE_CATEGORIES)),
        section="conviction",
    ),
    PetitionField(
        "nonviolent",
        _l("Nonviolent offense"),
        type="boolean",
        required=False,
        section="conviction",
    ),
    PetitionField(
        "bop_facility",
        _l("Bureau of Prisons facility"),
        required=False,
        max_length=200,
        section="custody",
        help=_l("Where the petitioner is held (or was last held), e.g. FCI Cumberland."),
    ),
    PetitionField(
        "custody_start_date",
        _l("Custody began"),
        type="date",
        required=False,
        section="custody",
    ),
    PetitionField(
        "release_date",
        _l("Released from confinement"),
        type="date",
        required=False,
        section="custody",
        help=_l("For a pardon: the five-year waiting period runs from this date."),
    ),
    PetitionField(
        "supervision_end_date",
        _l("Supervision ended"),
        type="date",
        required=False,
        section="custody",
        help=_l("End of probation or supervised release."),
    ),
    PetitionField("fine_amount", _l("Fine"), type="decimal", required=False, section="financial"),
    PetitionField(
        "restitution_amount", _l("Restitution"), type="decimal", required=False, section="financial"
    ),
    PetitionField(
        "financial_obligations_paid",
        _l("Fines and restitution paid"),
        type="boolean",
        required=False,
        section="financial",
    ),
    PetitionField(
        "representative",
        _l("Representative"),
        required=False,
        max_length=200,
        section="contact",
        help=_l("The attorney or advocate signing the petition."),
    ),
    PetitionField(
        "contact_email",
        _l("Contact e-mail"),
        required=False,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        invalid_message=_l("Use an e-mail address like name@example.org."),
        section="contact",
        personal=True,
    ),
    PetitionField(
        "contact_phone",
        _l("Contact telephone"),
        required=False,
        max_length=40,
        pattern=r"^\+?[0-9 ().\-]{7,40}$",
        invalid_message=_l("Use digits, spaces, dashes and parentheses, e.g. (410) 555-0134."),
        section="contact",
        personal=True,
    ),
    PetitionField(
        "contact_address",
        _l("Contact address"),
        required=False,
        max_length=1_000,
        section="contact",
        personal=True,
    ),
    PetitionField(
        "waiver_requested",
        _l("Waiver requested"),
        type="boolean",
        required=False,
        section="waiver",
        help=_l("Ask the office to consider the petition although it breaks an eligibility rule."),
    ),
    PetitionField(
        "waiver_justification",
        _l("Why a waiver"),
        required=False,
        max_length=5_000,
        section="waiver",
    ),
)
FIELDS_BY_NAME = {field.name: field for field in FIELDS}

#: The fields an advocate fills in and staff may correct; each edit is audited field by field.
EDITABLE_FIELDS = tuple(field.name for field in FIELDS)
FIELD_LABELS = {field.name: field.label for field in FIELDS}
DATE_FIELDS = tuple(field.name for field in FIELDS if field.type == "date")
LIST_FIELDS = tuple(field.name for field in FIELDS if field.type == "list")
BOOLEAN_FIELDS = tuple(field.name for field in FIELDS if field.type == "boolean")
DECIMAL_FIELDS = tuple(field.name for field in FIELDS if field.type == "decimal")
#: Contact details: personal data (see README, "Petition facts").
PERSONAL_FIELDS = tuple(field.name for field in FIELDS if field.personal)
#: The fields of each form section, in section order.
FIELDS_BY_SECTION = {
    section: tuple(field for field in FIELDS if field.section == section) for section in SECTIONS
}
BOOLEAN_MESSAGE = _l("Use true or false.")
AMOUNT_MESSAGE = _l("Use an amount in dollars like 1500.00 (at most two decimals).")
LIST_ITEM_SEPARATOR_MESSAGE = _l(
    "An item cannot contain '%(separator)s'.", separator=LIST_SEPARATOR
)


def too_many(max_items: int):
    return _l("At most %(count)s items.", count=max_items)


REGISTER_NUMBER = re.compile(FIELDS_BY_NAME["register_number"].pattern)


def max_length(name: str) -> int:
    """The longest text the petition field ``name`` takes."""
    return FIELDS_BY_NAME[name].max_length


#: Case numbers as the tracker hands them out: CP-<year>-<at least six digits>.
CASE_NUMBER_FORMAT = r"CP-[0-9]{4}-[0-9]{6,}"
#: The same, anchored (JSON Schema searches a pattern anywhere in the value).
CASE_NUMBER_PATTERN = rf"^{CASE_NUMBER_FORMAT}$"
CASE_NUMBER = re.compile(CASE_NUMBER_PATTERN)
#: The written reason of a transition (return, grant, deny, reopen), shown to the advocate.
REASON_MAX_LENGTH = 10_000
#: A reviewer's note on a case.
NOTE_MAX_LENGTH = 20_000
