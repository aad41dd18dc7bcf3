"""The petition's field rules, shared by the web forms, the JSON API and CSV import."""

import re
from datetime import date

from tracker.petitions.models import CUSTODY_STATUSES, EDITABLE_FIELDS, KINDS

REGISTER_NUMBER = re.compile(r"^[0-9]{5}-[0-9]{3}$")
MAX_LENGTHS = {"petitioner_name": 200, "sentencing_court": 200, "sentence": 500}
REQUIRED_TEXT = ("petitioner_name", "offenses", "sentencing_court", "sentence", "grounds")
DATE_FIELDS = ("date_of_birth", "sentence_date", "projected_release_date")


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


def petition_errors(values: dict, today: date | None = None) -> dict[str, str]:
    """Every broken rule of a complete set of petition fields, as {field: message}."""
    today = today or date.today()
    errors: dict[str, str] = {}
    kind = values.get("kind")
    if kind not in KINDS:
        errors["kind"] = "Choose pardon or commutation."
    for name in REQUIRED_TEXT:
        if not values.get(name):
            errors[name] = "This field is required."
        elif name in MAX_LENGTHS and len(values[name]) > MAX_LENGTHS[name]:
            errors[name] = f"At most {MAX_LENGTHS[name]} characters."
    register_number = values.get("register_number")
    if register_number:
        if not REGISTER_NUMBER.match(register_number):
            errors["register_number"] = "Use five digits, a dash, three digits (e.g. 12345-678)."
    elif kind == "commutation":
        errors["register_number"] = "A commutation needs the federal register number."
    if values.get("custody_status") not in CUSTODY_STATUSES:
        errors["custody_status"] = "Choose a custody status."
    for name in DATE_FIELDS:
        value = values.get(name)
        if value is not None and not isinstance(value, date):
            errors[name] = "Use a date like 2024-12-31."
    born, sentenced = values.get("date_of_birth"), values.get("sentence_date")
    if born is None:
        errors.setdefault("date_of_birth", "This field is required.")
    elif isinstance(born, date) and born > today:
        errors["date_of_birth"] = "The date of birth cannot be in the future."
    if sentenced is None:
        errors.setdefault("sentence_date", "This field is required.")
    elif isinstance(sentenced, date):
        if sentenced > today:
            errors["sentence_date"] = "The date of sentence cannot be in the future."
        elif isinstance(born, date) and sentenced < born:
            errors["sentence_date"] = "The date of sentence cannot be before the date of birth."
    release = values.get("projected_release_date")
    if release is not None and "projected_release_date" not in errors:
        if kind == "pardon":
            errors["projected_release_date"] = "Only a commutation has a projected release date."
        elif isinstance(sentenced, date) and release < sentenced:
            errors["projected_release_date"] = "The release date cannot be before the sentence."
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            # No database text can hold NUL (PostgreSQL refuses it): a field error, not a 500.
            errors[name] = "Contains a NUL character."
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
    """Turn text values (JSON, CSV) into typed petition values; returns (values, errors).

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
                errors[name] = "Use a date like 2024-12-31."
        elif value is not None and not isinstance(value, str):
            errors[name] = "Must be a string."
        else:
            values[name] = value
    return normalize(values), errors
