"""Who may petition, declared once as data (28 CFR §§ 1.2, 1.3, 1.10).

``RULES`` is the table: each rule names the petitions it applies to and how to compute the
date from which the petitioner is eligible. ``evaluate`` gives every rule's result for a
petition's facts: ``met``, ``not_met`` (with ``eligible_on`` when a date can be given),
``unknown`` (the dates it needs are missing: shown to staff, never a refusal) or
``not_applicable``. Submission refuses a petition that breaks a rule unless the advocate
requests a waiver; a grant of such a case needs a supervisor's ``approve_waiver`` first
(``tracker.petitions.services``). The periods are settings (``config.py``).

Anniversaries: a period of N years from a date ends on the same day N years later; from a
29 February into a year without one, it ends on 1 March — the petitioner has then waited the
whole period (28 February would be a day short of it).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from flask import current_app
from flask_babel import lazy_gettext as _l

MET, NOT_MET, UNKNOWN, NOT_APPLICABLE = "met", "not_met", "unknown", "not_applicable"
#: What the case page's badges say (the API keeps the codes).
STATUS_LABELS = {
    MET: _l("met"),
    NOT_MET: _l("not met"),
    UNKNOWN: _l("unknown"),
    NOT_APPLICABLE: _l("not applicable"),
}
#: The workflow actions refused (409) for a case that breaks a waivable rule until a
#: supervisor approves its waiver.
ACTIONS_NEEDING_ELIGIBILITY = frozenset({"grant"})


def add_years(start: date, years: int) -> date:
    """The anniversary ``years`` after ``start``; 29 February → 1 March in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February, and the target year is not a leap year
        return date(start.year + years, 3, 1)


#: The petition values the rules read (``Facts.values``): all a bulk grant reads of each case
#: to judge it (a test holds every rule to this list).
VALUES_READ = (
    "kind",
    "release_date",
    "sentence_date",
    "custody_start_date",
    "custody_status",
    "relief_sought",
)


@dataclass(frozen=True)
class Facts:
    """What the rules read: the petition's values, earlier denials of the same petitioner's
    petitions of the same kind (their decision dates), whether another petition of the
    petitioner is open, and the day the rules are judged on."""

    values: dict
    denials: tuple[date, ...] = ()
    other_open_case: str | None = None
    today: date | None = None


@dataclass(frozen=True)
class Result:
    rule: str
    status: str
    eligible_on: date | None
    #: Translated when shown (a lazy string): a bulk grant judges thousands of cases and
    #: reads only the statuses.
    message: str
    #: The petition field a refusal is shown under.
    field: str

    def as_json(self) -> dict:
        return {
            "rule": self.rule,
            "eligible_on": self.eligible_on.isoformat() if self.eligible_on else None,
            "message": str(self.message),
        }


@dataclass(frozen=True)
class Rule:
    """One eligibility rule: its name (in refusals and the API), label, the field it is
    about, and ``judge(facts, today) -> (status, eligible_on, message)``."""

    name: str
    label: str
    field: str
    judge: Callable[[Facts, date], tuple[str, date | None, str]]
    #: A waiver can set it aside (the open-petition rule cannot: it is a 409 of its own).
    waivable: bool = True


def _pardon_waiting_period(facts: Facts, today: date):
    values = facts.values
    if values.get("kind") != "pardon":
        return NOT_APPLICABLE, None, _l("Only for a pardon.")
    years = current_app.config["PARDON_WAITING_YEARS"]
    released, sentenced = values.get("release_date"), values.get("sentence_date")
    if released is not None:
        eligible_on = add_years(released, years)
        since = _l("release from confinement on %(date)s", date=released.isoformat())
    elif sentenced is None:
        return UNKNOWN, None, _l("The date of sentence is not recorded.")
    else:
        # Release comes after the sentence, so the sentence's anniversary is the earliest
        # possible date; it is the date itself when no confinement is recorded for someone
        # no longer in custody. Otherwise the release date is missing: unknown, once the
        # earliest possible date has passed.
        eligible_on = add_years(sentenced, years)
        unconfined = (
            values.get("custody_start_date") is None and values.get("custody_status") == "released"
        )
        if eligible_on > today:
            return (
                NOT_MET,
                eligible_on,
                _l(
                    "A pardon may be sought %(years)s years after release from confinement "
                    "(or the sentence, without confinement): not before %(date)s.",
                    years=years,
                    date=eligible_on.isoformat(),
                ),
            )
        if not unconfined:
            return UNKNOWN, None, _l("The release from confinement is not recorded.")
        since = _l("the sentence on %(date)s (no confinement)", date=sentenced.isoformat())
    if eligible_on <= today:
        return (
            MET,
            eligible_on,
            _l("%(years)s years have passed since %(since)s.", years=years, since=since),
        )
    return (
        NOT_MET,
        eligible_on,
        _l(
            "A pardon may be sought %(years)s years after %(since)s: from %(date)s.",
            years=years,
            since=since,
            date=eligible_on.isoformat(),
        ),
    )


def _commutation_while_serving(facts: Facts, today: date):
    values = facts.values
    if values.get("kind") != "commutation":
        return NOT_APPLICABLE, None, _l("Only for a commutation.")
    if values.get("relief_sought") == "remission":
        return MET, None, _l("A remission of a fine or restitution may be sought after release.")
    status = values.get("custody_status")
    if status is None:
        return UNKNOWN, None, _l("The custody status is not recorded.")
    if status == "released":
        return (
            NOT_MET,
            None,
            _l(
                "A commutation is for a petitioner still serving the sentence (unless the relief "
                "sought is a remission)."
            ),
        )
    return MET, None, _l("The petitioner is still serving the sentence.")


def _reapplication_waiting_period(facts: Facts, today: date):
    years = current_app.config["REAPPLICATION_WAITING_YEARS"]
    if years <= 0:
        return NOT_APPLICABLE, None, _l("No waiting period after a denial is configured.")
    if not facts.denials:
        return MET, None, _l("No earlier petition of this kind was denied.")
    denied_on = max(facts.denials)
    eligible_on = add_years(denied_on, years)
    if eligible_on <= today:
        return MET, eligible_on, f"{years} years have passed since the denial on {denied_on}."
    return (
        NOT_MET,
        eligible_on,
        _l(
            "A petition of the same kind was denied on %(denied)s: a new one may be filed "
            "from %(date)s.",
            denied=denied_on.isoformat(),
            date=eligible_on.isoformat(),
        ),
    )


def _no_open_petition(facts: Facts, today: date):
    if facts.other_open_case:
        return NOT_MET, None, _l("Another petition is open: %(case)s.", case=facts.other_open_case)
    return MET, None, _l("No other open petition.")


RULES: tuple[Rule, ...] = (
    Rule(
        "pardon_waiting_period",
        _l("Pardon: waiting period after release"),
        "release_date",
        _pardon_waiting_period,
    ),
    Rule(
        "commutation_while_serving",
        _l("Commutation: still serving"),
        "custody_status",
        _commutation_while_serving,
    ),
    Rule(
        "reapplication_waiting_period",
        _l("Re-application after a denial"),
        "kind",
        _reapplication_waiting_period,
    ),
    Rule(
        "no_open_petition",
        _l("No other open petition"),
        "register_number",
        _no_open_petition,
        waivable=False,
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def evaluate(facts: Facts) -> list[Result]:
    """Every rule's result for these facts, in table order."""
    today = facts.today or date.today()
    return [Result(rule.name, *rule.judge(facts, today), rule.field) for rule in RULES]


def broken(results: list[Result], *, waivable_only: bool = True) -> list[Result]:
    """The results that refuse (``not_met``), only waivable rules by default."""
    return [
        result
        for result in results
        if result.status == NOT_MET and (RULES_BY_NAME[result.rule].waivable or not waivable_only)
    ]
