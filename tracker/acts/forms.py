"""One form per act action. Forms collect input; ``tracker.acts.services`` enforces the rules
(so the page and the API refuse the same values in the same words)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)

from tracker.errors import ValidationFailed
from tracker.forms import options
from tracker.petitions.fields import CUSTODY_STATUSES, KINDS, OFFENSE_CATEGORIES
from tracker.petitions.filters import STAGE_CHOICES
from tracker.petitions.outcomes import Outcome, checked_outcome
from tracker.workflow import KINDS_OF_RELIEF, RELIEFS, get_transition


def _act_reliefs() -> list[tuple[str, str]]:
    """The reliefs an act may grant: those that need no per-case details."""
    reliefs = []
    for name in KINDS_OF_RELIEF:
        try:
            checked_outcome(get_transition("grant"), Outcome(relief=name))
        except ValidationFailed:
            continue
        reliefs.append((name, RELIEFS[name][0]))
    return reliefs


class ActForm(FlaskForm):
    """Draft an act."""

    title = StringField(
        _l("Title"), description=_l("e.g. Commutations for people on home confinement")
    )
    signed_on = StringField(
        _l("Signed on"), render_kw={"type": "date"}, description=_l("A date like 2024-12-12.")
    )
    authority = StringField(_l("Authority"), default="President")
    relief = SelectField(
        _l("Relief"),
        choices=options([("", "—")] + _act_reliefs()),
        validate_choice=False,
        description=_l("Granted alike to every case; each case's kind must fit it."),
    )
    terms = TextAreaField(_l("Terms"), description=_l("Conditions written on every grant."))
    note = TextAreaField(
        _l("Public note"), description=_l("Shown with the act on the public statistics.")
    )


class ActFilterForm(FlaskForm):
    """Add cases by the queue's filters (read by ``tracker.petitions.filters``, not here)."""

    stage = SelectMultipleField(
        _l("Stage"),
        choices=options(STAGE_CHOICES.items()),
        default=["under_review"],
        validate_choice=False,
    )
    kind = SelectField(
        _l("Kind"),
        choices=options([("", _l("Any kind"))] + list(KINDS.items())),
        validate_choice=False,
    )
    custody_status = SelectField(
        _l("Custody"),
        choices=options([("", _l("Any custody"))] + list(CUSTODY_STATUSES.items())),
        validate_choice=False,
    )
    offense_category = SelectField(
        _l("Offense category"),
        choices=options([("", _l("Any category"))] + list(OFFENSE_CATEGORIES.items())),
        validate_choice=False,
    )
    nonviolent = SelectField(
        _l("Non-violent"),
        choices=options([("", _l("Any")), ("true", _l("Non-violent")), ("false", _l("Violent"))]),
        validate_choice=False,
    )
    sentence_date_from = StringField(_l("Sentenced from"), render_kw={"type": "date"})
    sentence_date_to = StringField(_l("Sentenced until"), render_kw={"type": "date"})
    release_date_from = StringField(_l("Released from"), render_kw={"type": "date"})
    release_date_to = StringField(_l("Released until"), render_kw={"type": "date"})
    projected_release_date_from = StringField(
        _l("Projected release from"), render_kw={"type": "date"}
    )
    projected_release_date_to = StringField(
        _l("Projected release until"), render_kw={"type": "date"}
    )
    q = StringField(_l("Search"))


class RegisterNumbersForm(FlaskForm):
    """Add cases by register numbers: a CSV file, or numbers pasted one a line."""

    file = FileField(
        _l("CSV file"), description=_l("A column register_number, or one number a line.")
    )
    numbers = TextAreaField(_l("Or paste register numbers"), description=_l("One a line."))


class RecordForm(FlaskForm):
    """Confirm the recording: the count the preview showed travels with it."""

    expected_included = HiddenField()
