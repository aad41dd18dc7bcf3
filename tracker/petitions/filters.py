"""The queue's filters, read in one place for every interface that lists or selects cases.

The queue page and its bulk selection (a query string, or the same names posted back), the
API's list (a query string) and the API's bulk decision by filter (a JSON object) all call
``parse``. Each passes what it received and its *dialect*: which names it takes, how it
names a person, whether an empty value means "any". Every name is checked against the same
rules, and an unknown value is refused naming the parameter, never ignored: a misspelt filter
must not widen a list, and above all not a list a bulk decision applies to.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tracker import permissions
from tracker.auth.models import Organization, User
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.petitions.fields import CUSTODY_STATUSES, DATE_FORMAT, KINDS, OFFENSE_CATEGORIES
from tracker.workflow import Stage

#: The named set of stages: every stage not yet decided (nor closed: ``Stage.is_decided``).
PENDING = "pending"
STAGE_SETS = {PENDING: tuple(stage for stage in Stage if not stage.is_decided)}
#: What the stage filter accepts, in the order the queue offers them.
STAGE_CHOICES = {PENDING: _l("Not yet decided")} | {stage.value: stage.label for stage in Stage}
SORTS = {
    "oldest": _l("Oldest first"),
    "newest": _l("Newest first"),
    "days_pending": _l("Longest pending first"),
    "days_in_stage": _l("Longest in its stage first"),
}
#: older_than_days takes 0 to this many days.
MAX_DAYS = 36_500
ASSIGNEE_KEYWORDS = {"me": _l("Me"), "none": _l("Nobody")}
#: A search is a name part, a case number or a register number: 200 characters is plenty,
#: and bounds whatever echoes it (pagination links, the redirect after a bulk decision).
MAX_SEARCH_LENGTH = 200
#: Filters only some may use: who works a case, and whose case it is (advocates see their
#: own organization's only).
RESTRICTED_FILTERS = {
    "assignee": permissions.can_view_assignee,
    "organization": permissions.can_view_all_petitions,
    "referral_overdue": permissions.can_view_referrals,
}


@dataclass(frozen=True)
class QueueFilters:
    """Valid filters: every value here has been checked (see ``parse``)."""

    q: str | None = None
    #: As the user named them (stage values and ``pending``); empty for any stage.
    stages: tuple[str, ...] = ()
    kind: str | None = None
    #: ``"me"``, ``"none"``, or a staff user's id.
    assignee: str | int | None = None
    organization: int | None = None  #: an organization's id
    sort: str = "oldest"
    #: Received more than this many calendar days ago (issue 12).
    older_than_days: int | None = None
    #: Only cases with an open referral past its due date (staff only).
    referral_overdue: bool = False
    # --- the petition's facts (issue 14: the criteria a clemency act chooses its cohort by) ---
    custody_status: str | None = None
    offense_category: str | None = None
    #: True: recorded as non-violent; False: recorded as violent; None: any (unrecorded too).
    nonviolent: bool | None = None
    #: Inclusive date ranges; a case without the date matches no range on it.
    sentence_date_from: date | None = None
    sentence_date_to: date | None = None
    release_date_from: date | None = None
    release_date_to: date | None = None
    projected_release_date_from: date | None = None
    projected_release_date_to: date | None = None

    @property
    def stage_set(self) -> frozenset[Stage]:
        """The stages the filter names, with ``pending`` spelled out; empty for any."""
        return frozenset(
            stage for name in self.stages for stage in STAGE_SETS.get(name) or (Stage(name),)
        )

    def query_args(self) -> dict[str, str | int | list[str]]:
        """The filters as the queue's query string (for url_for and hidden fields): set values
        only, the default order left out."""
        args = {"q": self.q, "stage": list(self.stages), "kind": self.kind}
        args |= {"assignee": self.assignee, "organization": self.organization}
        args["sort"] = self.sort if self.sort != "oldest" else None
        args["older_than_days"] = self.older_than_days
        args["referral_overdue"] = "true" if self.referral_overdue else None
        args |= {name: getattr(self, name) for name in CHOICE_FACT_FILTERS}
        if self.nonviolent is not None:
            args["nonviolent"] = "true" if self.nonviolent else "false"
        args |= {name: value.isoformat() for name in DATE_FILTERS if (value := getattr(self, name))}
        return {name: value for name, value in args.items() if value or value == 0}


@dataclass(frozen=True)
class Dialect:
    """How one interface writes the filters."""

    #: The names it takes (anything else is the interface's to refuse or ignore).
    names: tuple[str, ...]
    #: The staff member an ``assignee`` value names, or None.
    find_person: Callable[[str], User | None]
    person_hint: str
    #: The page's form sends every field, empty ones included: empty means "any".
    blank_is_any: bool
    #: A restricted filter the viewer may not use (an advocate's assignee): refused (403), or
    #: left aside (the page does not offer it to them).
    refuse_restricted_filters: bool


def _person_by_email(text: str) -> User | None:
    # Imported here: the account services import the petitions' (for deactivation).
    from tracker.auth.services import find_user_by_email

    return find_user_by_email(text)


def _person_by_id(text: str) -> User | None:
    user_id = parse_id(text)
    return db.session.get(User, user_id) if user_id else None


TIME_FILTERS = ("older_than_days", "referral_overdue")
#: The facts' filters with coded values (issue 14).
CHOICE_FACT_FILTERS = {"custody_status": CUSTODY_STATUSES, "offense_category": OFFENSE_CATEGORIES}
#: Inclusive date ranges over the petition's dates (issue 14).
DATE_FILTERS = tuple(
    f"{column}_{end}"
    for column in ("sentence_date", "release_date", "projected_release_date")
    for end in ("from", "to")
)
FACT_FILTERS = (*CHOICE_FACT_FILTERS, "nonviolent", *DATE_FILTERS)
WEB = Dialect(
    names=("q", "stage", "kind", "assignee", "organization", "sort", *TIME_FILTERS, *FACT_FILTERS),
    find_person=_person_by_id,
    person_hint="Choose a reviewer or supervisor, Me or Nobody.",
    blank_is_any=True,
    refuse_restricted_filters=False,
)
API = Dialect(
    names=("stage", "kind", "q", "assignee", *TIME_FILTERS, *FACT_FILTERS),
    find_person=_person_by_email,
    person_hint="An e-mail of a reviewer or supervisor, 'me' or 'none'.",
    blank_is_any=False,
    refuse_restricted_filters=True,
)


class InvalidFilter(Exception):
    """One filter's value is not one it takes; the message says what it takes."""


def _one_of(choices) -> str:
    return _("One of: %(values)s.", values=", ".join(choices))


# --- one reader per filter: the values given for it → its parsed value -----------------------


def _read_q(values: list[str], dialect: Dialect) -> str | None:
    q = values[0].strip()
    if len(q) > MAX_SEARCH_LENGTH:
        raise InvalidFilter(_("At most %(count)s characters.", count=MAX_SEARCH_LENGTH))
    return q or None


def _read_stages(values: list[str], dialect: Dialect) -> tuple[str, ...]:
    unknown = [value for value in values if value not in STAGE_CHOICES]
    if unknown:
        raise InvalidFilter(
            _("Unknown stage '%(stage)s'.", stage=unknown[0][:50]) + " " + _one_of(STAGE_CHOICES)
        )
    return tuple(dict.fromkeys(values))


def _read_kind(values: list[str], dialect: Dialect) -> str:
    if values[0] not in KINDS:
        raise InvalidFilter(_one_of(KINDS))
    return values[0]


def _read_assignee(values: list[str], dialect: Dialect) -> str | int:
    if values[0] in ASSIGNEE_KEYWORDS:
        return values[0]
    person = dialect.find_person(values[0])
    # Deactivated staff stay valid: their cases may still be assigned to them.
    if person is None or not person.is_staff:
        raise InvalidFilter(dialect.person_hint)
    return person.id


def _read_organization(values: list[str], dialect: Dialect) -> int:
    organization_id = parse_id(values[0])
    if organization_id is None or db.session.get(Organization, organization_id) is None:
        raise InvalidFilter(_("Choose an organization from the list."))
    return organization_id


def _read_sort(values: list[str], dialect: Dialect) -> str:
    if values[0] not in SORTS:
        raise InvalidFilter(_one_of(SORTS))
    return values[0]


def _read_days(values: list[str], dialect: Dialect) -> int:
    text = values[0].strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= MAX_DAYS):
        raise InvalidFilter(_("A whole number of days from 0 to %(count)s.", count=MAX_DAYS))
    return int(text)


def _read_flag(values: list[str], dialect: Dialect) -> bool:
    if values[0] not in ("true", "false"):
        raise InvalidFilter(_("true or false."))
    return values[0] == "true"


def _read_date(values: list[str], dialect: Dialect) -> date:
    text = values[0].strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidFilter(DATE_FORMAT) from None


def _choice_reader(choices: Mapping[str, str]):
    def read(values: list[str], dialect: Dialect) -> str:
        if values[0] not in choices:
            raise InvalidFilter(_one_of(choices))
        return values[0]

    return read


READERS = {
    **{name: _choice_reader(choices) for name, choices in CHOICE_FACT_FILTERS.items()},
    "nonviolent": _read_flag,
    **dict.fromkeys(DATE_FILTERS, _read_date),
    "older_than_days": _read_days,
    "referral_overdue": _read_flag,
    "q": _read_q,
    "stage": _read_stages,
    "kind": _read_kind,
    "assignee": _read_assignee,
    "organization": _read_organization,
    "sort": _read_sort,
}
#: The dataclass field each name fills.
FIELDS = {"stage": "stages"}


# --- reading what was sent -----------------------------------------------------------------------


def _given(raw, name: str) -> list[str]:
    """The values sent for the name: several from a query string or form (``getlist``); from
    JSON a string, or for ``stage`` a list of strings too. InvalidFilter for other types."""
    if hasattr(raw, "getlist"):
        return raw.getlist(name)
    value = raw.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if name == "stage" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidFilter(_("A stage name or a list of them.") if name == "stage" else _("A string."))


def _values(raw, dialect: Dialect) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each name's values (names not sent left out), and the type errors."""
    values, errors = {}, {}
    for name in dialect.names:
        try:
            given = _given(raw, name)
        except InvalidFilter as error:
            errors[name] = str(error)
            continue
        if dialect.blank_is_any:
            given = [value for value in given if value.strip()]
        if given:
            values[name] = given
    return values, errors


def _allowed(values: dict, viewer: User, dialect: Dialect) -> dict:
    """The values the viewer may use: a restricted filter they may not use is refused (403,
    before any 422) or, where the dialect does not offer it to them, left aside."""
    allowed = dict(values)
    for name, rule in RESTRICTED_FILTERS.items():
        if name in values and not rule(viewer):
            if dialect.refuse_restricted_filters:
                permissions.require(rule, viewer)
            del allowed[name]
    return allowed


def parse(raw: Mapping, viewer: User, dialect: Dialect) -> QueueFilters:
    """The filters in ``raw`` (a MultiDict of a query string or form, or a JSON object) as the
    viewer sends them through ``dialect``.

    Raises ValidationFailed naming each invalid filter (an unknown stage, kind, order,
    person or organization, a search over MAX_SEARCH_LENGTH, a filter other than ``stage``
    given twice), or PermissionDenied for a restricted filter the viewer may not use where
    the dialect refuses it.
    """
    values, errors = _values(raw, dialect)
    values = _allowed(values, viewer, dialect)
    parsed = {}
    for name, given in values.items():
        try:
            if name != "stage" and len(given) > 1:
                raise InvalidFilter(_("Give '%(name)s' once.", name=name))
            parsed[FIELDS.get(name, name)] = READERS[name](given, dialect)
        except InvalidFilter as error:
            errors[name] = str(error)
    errors |= _range_errors(parsed)
    if errors:
        raise ValidationFailed(errors, "Some filters are invalid.")
    return QueueFilters(**parsed)


def _range_errors(parsed: dict) -> dict[str, str]:
    """A date range that ends before it starts names its end: it would match nothing."""
    errors = {}
    for start in DATE_FILTERS[::2]:
        end = start.removesuffix("_from") + "_to"
        if parsed.get(start) and parsed.get(end) and parsed[end] < parsed[start]:
            errors[end] = f"On or after {start} ({parsed[start].isoformat()})."
    return errors
