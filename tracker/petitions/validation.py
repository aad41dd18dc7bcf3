"""The petition's field rules, shared by the web forms, the JSON API and CSV import.

Each field's own rules (required, length, coded values, pattern) come from its declaration
in ``tracker.petitions.fields``; the rules between fields (dates in order, a register
number for a commutation) are the short functions below.
"""

from collections.abc import Iterator
from datetime import date

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
    return _text_error(field, value)


def _text_error(field: PetitionField, value: str) -> str | None:
    if field.max_length is not None and len(value) > field.max_length:
        return too_long(field.max_length)
    if not field.matches(value):
        return field.invalid_message
    return None


def _dates(values: dict) -> tuple[date | None, date | None, date | None]:
    """Birth, sentence and release dates, each None unless it is a date."""
    return tuple(
        values.get(name) if isinstance(values.get(name), date) else None for name in DATE_FIELDS
    )


def _register_number_rule(values: dict, today: date) -> Iterator[tuple[str, str]]:
    if not values.get("register_number") and values.get("kind") == "commutation":
        yield "register_number", "A commutation needs the federal register number."


def _birth_rule(values: dict, today: date) -> Iterator[tuple[str, str]]:
    born, _, _ = _dates(values)
    if born is not None and born > today:
        yield "date_of_birth", "The date of birth cannot be in the future."


def _sentence_rule(values: dict, today: date) -> Iterator[tuple[str, str]]:
    born, sentenced, _ = _dates(values)
    if sentenced is None:
        return
    if sentenced > today:
        yield "sentence_date", "The date of sentence cannot be in the future."
    elif born is not None and sentenced < born:
        yield "sentence_date", "The date of sentence cannot be before the date of birth."


def _release_rule(values: dict, today: date) -> Iterator[tuple[str, str]]:
    _, sentenced, release = _dates(values)
    if release is None:
        return
    if values.get("kind") == "pardon":
        yield "projected_release_date", "Only a commutation has a projected release date."
    elif sentenced is not None and release < sentenced:
        yield "projected_release_date", "The release date cannot be before the sentence."


#: The rules between fields; each yields (field, message) and speaks only of a field whose
#: own value is valid (a field's own error comes first).
CROSS_FIELD_RULES = (_register_number_rule, _birth_rule, _sentence_rule, _release_rule)


def petition_errors(values: dict, today: date | None = None) -> dict[str, str]:
    """Every broken rule of a complete set of petition fields, as {field: message}."""
    today = today or date.today()
    errors: dict[str, str] = {}
    for field in FIELDS:
        message = field_error(field, values.get(field.name))
        if message is not None:
            errors[field.name] = message
    for rule in CROSS_FIELD_RULES:
        for name, message in rule(values, today):
            errors.setdefault(name, message)
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


def parse_petition_fields(raw: dict) -> tuple[dict, dict[str, str]]:
    """Turn text values (CSV cells) into typed petition values; returns (values, errors).

    Unknown fields are errors, so a typo never silently drops data.
    """
    values, errors = {}, {}
    for name, value in raw.items():
        if name not in EDITABLE_FIELDS:
            errors[name] = "Unknown field."
            continue
        if name in DATE_FIELDS:
            try:
                values[name] = parse_date(value)
            except ValueError:
                errors[name] = DATE_FORMAT
        elif value is not None and not isinstance(value, str):
            errors[name] = "Must be a string."
        else:
            values[name] = value
    return normalize(values), errors
