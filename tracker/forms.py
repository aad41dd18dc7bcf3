"""Helpers shared by the forms of every area."""

from wtforms.fields import SelectChoice

from tracker.errors import ValidationFailed


def apply_errors(form, error: ValidationFailed) -> None:
    """Show a service's field errors on the form's fields (or at the top when no field fits)."""
    for name, message in error.errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]
        else:
            form.form_errors.append(message)


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as the SelectChoice objects WTForms expects."""
    return [SelectChoice(value, label) for value, label in pairs]


#: The largest id a database integer column holds; anything larger names nothing.
MAX_ID = 2**31 - 1


def parse_id(text) -> int | None:
    """A positive database id from user input, or None (not a number, or out of range)."""
    if text is None:
        return None
    text = str(text).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
