"""The petition's field rules, shared by the web forms, the JSON API and CSV import.

Each field's own rules (required, length, coded values, pattern) come from its declaration
in ``tracker.petitions.fields``; the rules between fields (dates in order, a register
number for a commutation, no pardon for someone confined, a pardon's release date) are the
short functions below.
"""

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from flask_babel import gettext as _

from tracker.petitions.fields import (
    AMOUNT_MESSAGE,
    BOOLEAN_MESSAGE,
    CONFINED_STATUSES,
    DATE_FORMAT,
    EDITABLE_FIELDS,
    FIELDS,
    FIELDS_BY_NAME,
    LIST_ITEM_SEPARATOR_MESSAGE,
    LIST_SEPARATOR,
    MAX_AMOUNT_DIGITS,
    NUL_CHARACTER,
    SPREADSHEET_DATE_FORMAT,
    PetitionField,
    too_long,
    too_many,
)
from tracker.petitions.fields import REGISTER_NUMBER as REGISTER_NUMBER  # re-exported
from tracker.workflow import relief_fits


def normalize(values: dict) -> dict:
    """Strip text and turn empty optional values into None (an empty list too; a list's
    blank items are dropped)."""
    normalized = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        elif isinstance(value, list | tuple):
            value = [item.strip() if isinstance(item, str) else item for item in value]
            value = [item for item in value if item != ""] or None
        normalized[name] = value
    return normalized


def _list_error(field: PetitionField, value) -> str | None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "A list of texts."
    if len(value) > field.max_items:
        return too_many(field.max_items)
    for item in value:
        if "\x00" in item:
            return NUL_CHARACTER
        if len(item) > field.max_length:
            return too_long(field.max_length)
        if LIST_SEPARATOR in item:
            return LIST_ITEM_SEPARATOR_MESSAGE
    return None


def _amount_error(value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        return AMOUNT_MESSAGE
    if value < 0 or value.as_tuple().exponent < -2:
        return AMOUNT_MESSAGE
    if value >= Decimal(10) ** (MAX_AMOUNT_DIGITS - 2):
        return f"At most {MAX_AMOUNT_DIGITS - 2} digits of dollars."
    return None


def field_error(field: PetitionField, value) -> str | None:
    """What is wrong with this one value of the field, on its own; None when nothing is."""
    if value is None or value == "":
        return field.missing_message if field.required else None
    if isinstance(value, str) and "\x00" in value:
        # No database text can hold NUL (PostgreSQL refuses it): a field error, not a 500.
        return NUL_CHARACTER
    if field.type == "list":
        return _list_error(field, value)
    if field.type == "boolean":
        return None if isinstance(value, bool) else BOOLEAN_MESSAGE
    if field.type == "decimal":
        return _amount_error(value)
    if field.choices is not None:
        return None if value in field.choices else field.invalid_message
    if field.type == "date":
        return None if isinstance(value, date) else DATE_FORMAT
    if not isinstance(value, str):
        return "Must be a string."
    if field.max_length is not None and len(value) > field.max_length:
        return too_long(field.max_length)
    if field.pattern is not None and not field.matches(value):
        return field.invalid_message
    return None


class _Dates(NamedTuple):
    """The petition's dates, each None unless it is a valid date."""

    born: date | None
    sentenced: date | None
    release: date | None

    @classmethod
    def of(cls, values: dict) -> "_Dates":
        born, sentenced = values.get("date_of_birth"), values.get("sentence_date")
        release = values.get("projected_release_date")
        return cls(_date_or_none(born), _date_or_none(sentenced), _date_or_none(release))


def _date_or_none(value) -> date | None:
    return value if isinstance(value, date) else None


Rule = Callable[[dict, _Dates, date], tuple[str, str] | None]


def _register_number_rule(values: dict, dates: _Dates, today: date):
    if not values.get("register_number") and values.get("kind") == "commutation":
        return "register_number", "A commutation needs the federal register number."
    return None


CONFINED = CONFINED_STATUSES  # a pardon is not for them (a commutation is)
PARDON_WHILE_CONFINED = (
    "A pardon is for someone no longer confined: choose supervised release or released, "
    "or ask for a commutation."
)
PARDON_NEEDS_RELEASE_DATE = (
    "A pardon needs the date of release from confinement (leave it empty only when there was "
    "no confinement: custody status released, no date custody began)."
)


def _pardon_custody_rule(values: dict, dates: _Dates, today: date):
    if values.get("kind") == "pardon" and values.get("custody_status") in CONFINED:
        return "custody_status", PARDON_WHILE_CONFINED
    return None


def never_confined(values: dict) -> bool:
    """Released and no confinement recorded: the eligibility rules' 'no confinement'."""
    return values.get("custody_status") == "released" and not values.get("custody_start_date")


def _pardon_release_rule(values: dict, dates: _Dates, today: date):
    if values.get("kind") != "pardon" or values.get("release_date") is not None:
        return None
    if values.get("custody_status") in CONFINED or never_confined(values):
        return None  # confined: the custody rule speaks; never confined: nothing to give
    return "release_date", PARDON_NEEDS_RELEASE_DATE


def _birth_rule(values: dict, dates: _Dates, today: date):
    if dates.born is not None and dates.born > today:
        return "date_of_birth", "The date of birth cannot be in the future."
    return None


def _sentence_rule(values: dict, dates: _Dates, today: date):
    if dates.sentenced is None:
        return None
    if dates.sentenced > today:
        return "sentence_date", "The date of sentence cannot be in the future."
    if dates.born is not None and dates.sentenced < dates.born:
        return "sentence_date", "The date of sentence cannot be before the date of birth."
    return None


def _release_rule(values: dict, dates: _Dates, today: date):
    if dates.release is None:
        return None
    if values.get("kind") == "pardon":
        return "projected_release_date", "Only a commutation has a projected release date."
    if dates.sentenced is not None and dates.release < dates.sentenced:
        return "projected_release_date", "The release date cannot be before the sentence."
    return None


def _date_of(values: dict, name: str) -> date | None:
    return _date_or_none(values.get(name))


def _custody_dates_rule(values: dict, dates: _Dates, today: date):
    started, released = _date_of(values, "custody_start_date"), _date_of(values, "release_date")
    supervision_end = _date_of(values, "supervision_end_date")
    if released is not None and released > today:
        return "release_date", "The release from confinement cannot be in the future."
    if started is not None and released is not None and released < started:
        return "release_date", "The release cannot be before custody began."
    if supervision_end is not None and released is not None and supervision_end < released:
        return "supervision_end_date", "Supervision cannot end before the release."
    return None


def _conviction_date_rule(values: dict, dates: _Dates, today: date):
    convicted = _date_of(values, "conviction_date")
    if convicted is None:
        return None
    if convicted > today:
        return "conviction_date", "The date of conviction cannot be in the future."
    if dates.sentenced is not None and convicted > dates.sentenced:
        return "conviction_date", "The conviction cannot be after the sentence."
    return None


def _relief_rule(values: dict, dates: _Dates, today: date):
    relief, kind = values.get("relief_sought"), values.get("kind")
    if relief is None or kind not in ("pardon", "commutation"):
        return None
    if not relief_fits(relief, kind):
        return "relief_sought", "A full pardon is the relief of a pardon, and only of a pardon."
    return None


def _waiver_rule(values: dict, dates: _Dates, today: date):
    if values.get("waiver_requested") is True and not values.get("waiver_justification"):
        return "waiver_justification", "Say why the office should waive the rule."
    return None


#: The rules between fields; each gives (field, message) or None, and speaks only of a field
#: whose own value is valid (a field's own error comes first).
CROSS_FIELD_RULES: tuple[Rule, ...] = (
    _register_number_rule,
    _pardon_custody_rule,
    _pardon_release_rule,
    _birth_rule,
    _sentence_rule,
    _release_rule,
    _custody_dates_rule,
    _conviction_date_rule,
    _relief_rule,
    _waiver_rule,
)


def petition_errors(values: dict, today: date | None = None) -> dict[str, str]:
    """Every broken rule of a complete set of petition fields, as {field: message}."""
    today = today or date.today()
    errors: dict[str, str] = {}
    for field in FIELDS:
        message = field_error(field, values.get(field.name))
        if message is not None:
            errors[field.name] = message
    dates = _Dates.of(values)
    for rule in CROSS_FIELD_RULES:
        broken = rule(values, dates, today)
        if broken is not None:
            errors.setdefault(*broken)
    return errors


def parse_date(text) -> date | None:
    if text is None or isinstance(text, date):
        return text
    if not isinstance(text, str):
        raise ValueError("not a date")
    text = text.strip()
    if not text:
        return None
    return date.fromisoformat(text)


_EDITABLE = frozenset(EDITABLE_FIELDS)
_TRUE, _FALSE = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_boolean(text: str) -> bool:
    """true/false (also yes/no, 1/0, any case), as a CSV cell or a form's choice says it."""
    lowered = text.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise ValueError(BOOLEAN_MESSAGE)


def parse_amount(value) -> Decimal:
    """Dollars as text (1500, 1500.5, 1500.00) or a JSON number, as an exact Decimal."""
    if isinstance(value, bool):
        raise ValueError(AMOUNT_MESSAGE)
    if isinstance(value, int | float):
        value = repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value.strip()):
        raise ValueError(AMOUNT_MESSAGE)
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(AMOUNT_MESSAGE) from None


#: What spreadsheets write for a date besides ISO 2024-12-31 (text month names are English,
#: as Excel's and LibreOffice's default exports write them).
SPREADSHEET_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
#: The day Excel's and LibreOffice's serial numbers count from (right from 1900-03-01 on:
#: Excel counts a phantom 1900-02-29).
SPREADSHEET_EPOCH = date(1899, 12, 30)
#: Five digits at least (1927-05-18 on): a bare year such as 1968 is not taken for a serial.
SPREADSHEET_SERIALS = range(10_000, 2_958_466)
_SLASHED_DATE = re.compile(r"([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})")
_SERIAL = re.compile(r"[0-9]{4,7}(\.0+)?")


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _slashed_date(match: re.Match) -> date:
    first, second, year = (int(part) for part in match.groups())
    month_first, day_first = _real_date(year, first, second), _real_date(year, second, first)
    if month_first and day_first and month_first != day_first:
        raise ValueError(
            f"Ambiguous: {match.group(0)} could be month/day or day/month. "
            f"Write it as {month_first.isoformat()} or {day_first.isoformat()} (year-month-day)."
        )
    if month_first or day_first:
        return month_first or day_first
    raise ValueError(SPREADSHEET_DATE_FORMAT)


def parse_spreadsheet_date(text: str) -> date:
    """A date as spreadsheets write it: ISO 2024-12-31; 03/14/1968 (MM/DD/YYYY, also
    14/03/1968 or 14.03.1968 when only one reading is a date: when both are, as 03/04/1968,
    it is refused as ambiguous); a serial number (25277: five digits at least, days since
    1899-12-30 as Excel and LibreOffice count); 14-Mar-1968, 14 March 1968, March 14, 1968;
    a date with a midnight time.
    ValueError says what is wrong."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    slashed = _SLASHED_DATE.fullmatch(text)
    if slashed:
        return _slashed_date(slashed)
    if _SERIAL.fullmatch(text):
        serial = int(float(text))
        if serial in SPREADSHEET_SERIALS:
            return SPREADSHEET_EPOCH + timedelta(days=serial)
        raise ValueError(SPREADSHEET_DATE_FORMAT)
    for date_format in SPREADSHEET_DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            continue
        if parsed.time() == datetime.min.time():
            return parsed.date()
    raise ValueError(SPREADSHEET_DATE_FORMAT)


def _folded(text: str) -> str:
    """A choice's code or label as compared: case, spaces, dashes and underscores ignored."""
    return re.sub(r"[\s_\-]+", " ", str(text)).strip().casefold()


def parse_choice(field: PetitionField, text: str) -> str:
    """A coded value from its code or its label, in any case ("Commutation", "commutation of
    sentence", "IN PRISON", "in_prison"); an unknown text is kept as it is (and then refused
    by ``field_error`` with the field's message)."""
    wanted = _folded(text)
    for code, label in field.choices.items():
        if wanted in (_folded(code), _folded(label)):
            return code
    return text


def parse_text_value(field: PetitionField, text: str, list_separator: str = LIST_SEPARATOR):
    """One field's typed value from its text (a CSV cell, a form's input); None when empty.
    ValueError carries the field's message. Coded values may be given by their labels and
    dates as spreadsheets write them (see ``parse_choice`` and ``parse_spreadsheet_date``)."""
    text = text.strip()
    if not text:
        return None
    if field.type == "date":
        return parse_spreadsheet_date(text)
    if field.choices is not None:
        return parse_choice(field, text)
    if field.type == "list":
        return [item.strip() for item in text.split(list_separator) if item.strip()] or None
    if field.type == "boolean":
        return parse_boolean(text)
    if field.type == "decimal":
        return parse_amount(text)
    return text


def parse_petition_fields(raw: dict) -> tuple[dict, dict[str, str]]:
    """Turn text values (CSV cells) into typed, normalized petition values (see normalize);
    returns (values, errors).

    Unknown fields are errors, so a typo never silently drops data.
    """
    values, errors = {}, {}
    for name, value in raw.items():
        if name not in _EDITABLE:
            errors[name] = _("Unknown field.")
            continue
        if value is not None and not isinstance(value, str):
            errors[name] = _("Must be a string.")
            continue
        try:
            values[name] = parse_text_value(FIELDS_BY_NAME[name], value or "")
        except ValueError as error:
            errors[name] = str(error)
    return values, errors
