"""The petition's field rules, shared by the web forms, the JSON API and CSV import.

Each field's own rules (required, length, coded values, pattern) come from its declaration
in ``tracker.petitions.fields``; the rules between fields (dates in order, a register
number for a commutation) are the short functions below.
"""

from collections.abc import Callable
from datetime import date
from typing import NamedTuple

from tracker.petitions.fields import (
    DATE_FIELDS,
    DATE_FORMAT,
    EDITABLE_FIELDS,
    FIELDS,
    NUL_CHARACTER,
    PetitionField,
    too_long,
)
from tracker.petitions.fields import REGISTER_NUMBER as REGISTER_NUMBER  # re-exported


def normalize(values: dict) -> dict:
    """Strip text and turn empty optional values into None."""
    normalized = {}
    for name, value in values.items():
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        normalized[name] = value
    return normalized


def field_error(field: PetitionField, value) -> str | None:
    """What is wrong with this one value of the field, on its own; None when nothing is."""
    if value is None or value == "":
        return field.missing_message if field.required else None
    if isinstance(value, str) and "\x00" in value:
        # No database text can hold NUL (PostgreSQL refuses it): a field error, not a 500.
        return NUL_CHARACTER
    if field.choices is not None:
        return None if value in field.choices else field.invalid_message
    if field.type == "date":
        return None if isinstance(value, date) else DATE_FORMAT
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


#: The rules between fields; each gives (field, message) or None, and speaks only of a field
#: whose own value is valid (a field's own error comes first).
CROSS_FIELD_RULES: tuple[Rule, ...] = (
    _register_number_rule,
    _birth_rule,
    _sentence_rule,
    _release_rule,
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
_DATES = frozenset(DATE_FIELDS)


def parse_petition_fields(raw: dict) -> tuple[dict, dict[str, str]]:
    """Turn text values (CSV cells) into typed, normalized petition values (see normalize);
    returns (values, errors).

    Unknown fields are errors, so a typo never silently drops data.
    """
    values, errors = {}, {}
    for name, value in raw.items():
        if name not in _EDITABLE:
            errors[name] = "Unknown field."
            continue
        if isinstance(value, str):
            value = value.strip() or None
        if name in _DATES:
            try:
                value = parse_date(value)
            except ValueError:
                errors[name] = DATE_FORMAT
                continue
        elif value is not None and not isinstance(value, str):
            errors[name] = "Must be a string."
            continue
        values[name] = value
    return values, errors
