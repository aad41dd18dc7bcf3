"""What a transition records beyond the stage: how a case ended, and what a grant gave.

``Outcome`` is what the request asked for (the disposition of a ``close``, the relief of a
``grant`` and its details); ``checked_outcome`` checks it against the transition, the same
way for the web form, the API and bulk decisions (422 naming each field), and
``outcome_columns`` is what the petition's row holds after the move. Whether a relief fits
a case's kind is a per-case check (``relief_refusal``): in a bulk decision such a case is
an offender, and nothing is applied.
"""

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tracker.errors import ValidationFailed
from tracker.petitions.fields import REASON_MAX_LENGTH, too_long
from tracker.workflow import (
    DISPOSITIONS,
    KINDS_OF_RELIEF,
    UNSPECIFIED_RELIEF,
    Transition,
    relief_fits,
)

#: The petition's columns an outcome writes (and a reopen clears), in the audit's order.
OUTCOME_COLUMNS = (
    "disposition",
    "relief",
    "commuted_sentence",
    "new_release_date",
    "remission_amount",
    "relief_terms",
)
OUTCOME_LABELS = {
    "disposition": _l("Disposition"),
    "relief": _l("Relief"),
    "commuted_sentence": _l("Commuted sentence"),
    "new_release_date": _l("New release date"),
    "remission_amount": _l("Amount remitted (dollars)"),
    "relief_terms": _l("Terms"),
    "terms": _l("Terms"),
}
#: The request's names for the relief's details (``terms`` is the column ``relief_terms``).
RELIEF_DETAILS = ("commuted_sentence", "new_release_date", "remission_amount", "terms")
MAX_REMISSION = Decimal("9999999999.99")


@dataclass(frozen=True)
class Outcome:
    disposition: str | None = None
    relief: str | None = None
    commuted_sentence: str | None = None
    new_release_date: date | None = None
    remission_amount: Decimal | None = None
    terms: str | None = None

    @classmethod
    def of(cls, values: dict) -> "Outcome":
        """The outcome members of a request's values (others ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in names})


def _text(value: str | None, name: str, errors: dict) -> str | None:
    value = (value or "").strip() or None
    if value is not None and len(value) > REASON_MAX_LENGTH:
        errors[name] = too_long(REASON_MAX_LENGTH)
    return value


def parse_remission(value) -> Decimal | None:
    """A remitted amount: dollars as a Decimal of two places; ValueError when it is not a
    positive amount (cents at most)."""
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "").removeprefix("$"))
    except InvalidOperation:
        raise ValueError(_("An amount in dollars, e.g. 1500.00.")) from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_REMISSION:
        raise ValueError(_("An amount in dollars greater than 0, e.g. 1500.00."))
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(_("At most two decimal places (cents)."))
    return amount.quantize(Decimal("0.01"))


def checked_outcome(transition: Transition, outcome: Outcome) -> Outcome:
    """The outcome this transition records, or ValidationFailed (422) naming each field.

    A ``close`` needs one of its dispositions; ``withdraw``, ``grant`` and ``deny`` record
    theirs. A grant without a relief records ``unspecified`` (the API's older clients; the
    web form requires one); a reduced commutation says how (``commuted_sentence`` and/or
    ``new_release_date``), a remission its amount. Members a transition does not take are
    refused rather than dropped, so a client learns its request was not what it meant.
    """
    errors: dict[str, str] = {}
    disposition = _checked_disposition(transition, outcome.disposition or None, errors)
    relief = outcome.relief or None
    details = {
        "commuted_sentence": _text(outcome.commuted_sentence, "commuted_sentence", errors),
        "new_release_date": outcome.new_release_date,
        "remission_amount": outcome.remission_amount,
        "terms": _text(outcome.terms, "terms", errors),
    }
    if transition.target.value != "granted":
        for name in ("relief", *RELIEF_DETAILS):
            if (relief if name == "relief" else details[name]) is not None:
                errors[name] = _("Only a grant records a relief.")
        return _refuse_or(errors, Outcome(disposition=disposition))
    relief = _checked_relief(relief, details, errors)
    return _refuse_or(errors, Outcome(disposition=disposition, relief=relief, **details))


def _checked_disposition(transition: Transition, disposition: str | None, errors: dict):
    """The disposition the transition records (its only one when none is named)."""
    if not transition.dispositions:
        if disposition is not None:
            errors["disposition"] = _(
                "The action '%(transition)s' records no disposition.", transition=transition.name
            )
    elif disposition is None:
        if len(transition.dispositions) > 1:
            errors["disposition"] = (
                "Choose a disposition: " + ", ".join(transition.dispositions) + "."
            )
        else:
            disposition = transition.dispositions[0]
    elif disposition not in transition.dispositions:
        known = disposition in DISPOSITIONS
        errors["disposition"] = (
            _(
                "The action '%(action)s' records %(values)s.",
                action=transition.name,
                values=", ".join(transition.dispositions),
            )
            if known
            else _("One of: %(values)s.", values=", ".join(DISPOSITIONS))
        )
    return disposition


def _checked_relief(relief: str | None, details: dict, errors: dict) -> str:
    """A grant's relief (``unspecified`` when none is named), its details checked against it."""
    if relief is not None and relief not in KINDS_OF_RELIEF:
        errors["relief"] = _("One of: %(values)s.", values=", ".join(KINDS_OF_RELIEF))
    relief = relief or UNSPECIFIED_RELIEF
    reduced, remission = relief == "commutation_reduced", relief == "remission"
    if reduced and details["commuted_sentence"] is None and details["new_release_date"] is None:
        errors["commuted_sentence"] = _("Give the commuted sentence and/or the new release date.")
    for name in ("commuted_sentence", "new_release_date"):
        if not reduced and details[name] is not None:
            errors[name] = _("Only for a reduced commutation (commutation_reduced).")
    if remission and details["remission_amount"] is None:
        errors["remission_amount"] = _("Give the amount of the fine or restitution remitted.")
    if not remission and details["remission_amount"] is not None:
        errors["remission_amount"] = _("Only for a remission.")
    return relief


def _refuse_or(errors: dict, outcome: Outcome) -> Outcome:
    if errors:
        raise ValidationFailed(errors)
    return outcome


def relief_refusal(outcome: Outcome, case_number: str, kind: str) -> str | None:
    """Why this relief cannot be granted on a case of this kind, or None when it fits."""
    if outcome.relief is None or relief_fits(outcome.relief, kind):
        return None
    fitting = ", ".join(name for name in KINDS_OF_RELIEF if relief_fits(name, kind))
    return _(
        "Case %(case)s is a %(kind)s: the relief '%(relief)s' does not fit it "
        "(one of: %(values)s).",
        case=case_number,
        kind=kind,
        relief=outcome.relief,
        values=fitting,
    )


def outcome_columns(outcome: Outcome | None) -> dict:
    """The petition's outcome columns after the move (all null: the case is open)."""
    if outcome is None:
        return dict.fromkeys(OUTCOME_COLUMNS)
    return {
        "disposition": outcome.disposition,
        "relief": outcome.relief,
        "commuted_sentence": outcome.commuted_sentence,
        "new_release_date": outcome.new_release_date,
        "remission_amount": outcome.remission_amount,
        "relief_terms": outcome.terms,
    }
