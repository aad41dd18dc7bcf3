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
