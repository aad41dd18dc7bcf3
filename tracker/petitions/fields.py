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

KINDS = {"pardon": "Pardon", "commutation": "Commutation of sentence"}
CUSTODY_STATUSES = {
    "in_prison": "In prison",
    "home_confinement": "Home confinement",
    "supervised_release": "Supervised release",
    "released": "Released",
}

REQUIRED = "This field is required."
DATE_FORMAT = "Use a date like 2024-12-31."
NUL_CHARACTER = "Contains a NUL character."


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def too_long(max_length: int) -> str:
    return f"At most {max_length:,} characters."


@dataclass(frozen=True)
class PetitionField:
    """One field of a petition, as every interface checks it."""

    name: str
    #: Short label, used in history diffs and documents.
    label: str
    #: "text", "date" or "choice".
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
        "Kind",
        type="choice",
        choices=KINDS,
        invalid_message="Choose pardon or commutation.",
    ),
    PetitionField("petitioner_name", "Petitioner's full name", max_length=200),
    #: Federal Bureau of Prisons register number; a commutation needs one (see validation).
    PetitionField(
        "register_number",
        "Federal register number",
        required=False,
        max_length=9,
        pattern=r"^[0-9]{5}-[0-9]{3}$",
        invalid_message="Use five digits, a dash, three digits (e.g. 12345-678).",
    ),
    PetitionField("date_of_birth", "Date of birth", type="date"),
    #: Long enough for the federal forms' answers; every edit copies old and new values into
    #: the append-only audit log, so no field is unbounded.
    PetitionField("offenses", "Offense(s) of conviction", max_length=5_000),
    PetitionField("sentencing_court", "Sentencing court", max_length=200),
    PetitionField("sentence", "Sentence imposed", max_length=500),
    PetitionField("sentence_date", "Date of sentence", type="date"),
    PetitionField(
        "custody_status",
        "Custody status",
        type="choice",
        choices=CUSTODY_STATUSES,
        invalid_message="Choose a custody status.",
    ),
    PetitionField("projected_release_date", "Projected release date", type="date", required=False),
    PetitionField("grounds", "Grounds for clemency", max_length=20_000),
)
FIELDS_BY_NAME = {field.name: field for field in FIELDS}

#: The fields an advocate fills in and staff may correct; each edit is audited field by field.
EDITABLE_FIELDS = tuple(field.name for field in FIELDS)
FIELD_LABELS = {field.name: field.label for field in FIELDS}
DATE_FIELDS = tuple(field.name for field in FIELDS if field.type == "date")
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
