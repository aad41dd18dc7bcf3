"""Every write of a clemency act: draft, add cases, record; and what the pages read of acts.

An act grants one relief to a cohort. A supervisor drafts it (``draft_act``), adds cases by
the queue's filters (``add_cases_by_filter``, read by ``tracker.petitions.filters``) or by
register numbers (``add_cases_by_register_numbers``, a CSV or a list), and reads the
``preview``: which cases the act would grant, and which it would not and why — the same
refusals a grant meets in the one decision path (``petitions.services.decision_refusals``):
not under review, ineligible without an approved waiver, an open referral, a relief that
does not fit the kind.

``record_act`` grants every included case in one transaction, through
``petitions.services.decide_petitions`` (the one write of a decision: one UPDATE, one
chained ``grant`` entry per case, whose details name the act). The excluded cases are
dropped from the act, and the act's own ``act_recorded`` entry lists them with their reasons.
A recorded act is never edited: a correction is a new act plus reopened cases (``reopen``,
a supervisor's, audited on each case). Services flush; the request or command commits.

A case may be in several draft acts: the first recorded grants it, and the others'
previews then show it as not under review.
"""

import csv
import functools
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, bindparam, delete, func, insert, select

from tracker import clock, permissions
from tracker.acts.models import (
    AUTHORITY_MAX_LENGTH,
    DRAFT,
    RECORDED,
    TITLE_MAX_LENGTH,
    Act,
    ActCase,
    holds_grant_of_act,
)
from tracker.audit import services as audit
from tracker.auth.models import User
from tracker.errors import BulkRefused, Conflict, NotFound, ValidationFailed
from tracker.extensions import db
from tracker.petitions import filters as queue_filters
from tracker.petitions import queries
from tracker.petitions import services as petition_services
from tracker.petitions.fields import (
    DATE_FORMAT,
    NOTE_MAX_LENGTH,
    REASON_MAX_LENGTH,
    REGISTER_NUMBER,
    REQUIRED,
    too_long,
)
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome, checked_outcome
from tracker.petitions.petitioners import OPEN_STAGES
from tracker.workflow import KINDS_OF_RELIEF, Stage, get_transition

GRANT = "grant"
#: The most cases one act may hold: recording is one bulk decision.
MAX_ACT_CASES = petition_services.MAX_BULK_DECISIONS
#: Why the preview leaves a case out, by the decision path's ``problem``.
EXCLUSION_REASONS = {
    "not_found": "not_found",
    "wrong_stage": "not_under_review",
    "refused": "relief_does_not_fit_kind",
    "ineligible": "ineligible_without_waiver",
    "referrals_open": "open_referral",
}
REASON_LABELS = {
    "not_found": "No such case",
    "not_under_review": "Not under review",
    "relief_does_not_fit_kind": "The act's relief does not fit the kind",
    "ineligible_without_waiver": "Ineligible without an approved waiver",
    "open_referral": "An open referral",
}
ACT_FIELDS = ("title", "signed_on", "authority", "relief", "terms", "note")


class ActRecorded(Conflict):
    """The act is recorded: it is never recorded again nor edited (409)."""


# --- reading ------------------------------------------------------------------------------------


def get_act(viewer: User, act_id: int) -> Act:
    """The act, for staff (403 for others, before whether it exists); NotFound when none."""
    permissions.require(permissions.can_view_acts, viewer)
    act = db.session.get(Act, act_id) if 0 < act_id < 2**31 else None
    if act is None:
        raise NotFound(f"No act {act_id}.")
    return act


def list_acts(viewer: User) -> list[tuple[Act, int]]:
    """Every act with its number of cases, the latest signed first."""
    permissions.require(permissions.can_view_acts, viewer)
    counts = select(ActCase.act_id, func.count().label("cases")).group_by(ActCase.act_id).subquery()
    return db.session.execute(
        select(Act, func.coalesce(counts.c.cases, 0))
        .outerjoin(counts, counts.c.act_id == Act.id)
        .order_by(Act.signed_on.desc(), Act.id.desc())
    ).all()


def act_cases(act: Act, *, limit: int | None = None, offset: int = 0) -> list[Petition]:
    """The act's cases, by case number (after recording: the cases it granted)."""
    statement = (
        select(Petition)
        .join(ActCase, ActCase.petition_id == Petition.id)
        .where(ActCase.act_id == act.id)
        .order_by(Petition.case_number)
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return list(db.session.scalars(statement))


def case_count(act: Act) -> int:
    return db.session.scalar(
        select(func.count()).select_from(ActCase).where(ActCase.act_id == act.id)
    )


def _case_numbers(act: Act) -> dict[str, int]:
    """{case number: petition id} of the act's cases."""
    return dict(
        db.session.execute(
            select(Petition.case_number, Petition.id)
            .join(ActCase, ActCase.petition_id == Petition.id)
            .where(ActCase.act_id == act.id)
            .order_by(Petition.id)
        ).all()
    )


def granting_act(petition: Petition) -> Act | None:
    """The recorded act whose grant the case holds now, or None: the case is granted, and
    at the very moment an act it belongs to was recorded (a case reopened and granted again
    on its own is no longer the act's)."""
    if petition.stage != Stage.GRANTED or petition.decided_at is None:
        return None
    return db.session.scalar(
        _granting_act_statement(),
        {"petition_id": petition.id, "decided_at": petition.decided_at},
    )


@functools.cache
def _granting_act_statement() -> Select:
    """``granting_act``'s statement, the case and its decision time bound parameters: built
    once per process, not on every granted case's page (building it and its cache key cost
    more than running it)."""
    return (
        select(Act)
        .join(ActCase, ActCase.act_id == Act.id)
        .where(holds_grant_of_act(bindparam("petition_id"), bindparam("decided_at")))
        .limit(1)
    )


def public_acts(fiscal_year: int) -> list[dict]:
    """The recorded acts signed in fiscal year ``fiscal_year`` (October 1 of the year before
    to September 30), oldest first, as the public statistics show them: title, date, relief
    and how many cases each granted — counts only, never a case, name or organization."""
    start, end = date(fiscal_year - 1, 10, 1), date(fiscal_year, 9, 30)
    acts = db.session.scalars(
        select(Act)
        .where(Act.state == RECORDED, Act.signed_on >= start, Act.signed_on <= end)
        .order_by(Act.signed_on, Act.id)
    )
    return [
        {
            "title": act.title,
            "signed_on": act.signed_on.isoformat(),
            "relief": act.relief,
            "count": act.granted_count,
        }
        for act in acts
    ]


# --- drafting -----------------------------------------------------------------------------------


def _text(values: dict, name: str, errors: dict, max_length: int, *, required: bool):
    value = values.get(name)
    value = value.strip() if isinstance(value, str) else value
    if not value:
        if required:
            errors[name] = REQUIRED
        return None
    if len(value) > max_length:
        errors[name] = too_long(max_length)
    return value


def _signed_on(value, errors: dict) -> date | None:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
        except ValueError:
            value = None
        if value is None:
            errors["signed_on"] = DATE_FORMAT
            return None
    if value is None:
        errors["signed_on"] = REQUIRED
    elif value > clock.today():
        errors["signed_on"] = "An act is recorded once signed: not a date in the future."
    return value


def _checked_relief(relief, terms, errors: dict) -> str | None:
    """The act's relief, checked as a grant's: a relief every case gets alike, so not one
    that needs per-case details (a reduced commutation's new sentence, a remission's amount)."""
    if not relief:
        errors["relief"] = "Choose the relief the act grants."
        return None
    try:
        checked_outcome(get_transition(GRANT), Outcome(relief=relief, terms=terms))
    except ValidationFailed as error:
        if "relief" in error.errors:
            errors["relief"] = "One of: " + ", ".join(KINDS_OF_RELIEF) + "."
        else:
            errors["relief"] = (
                "This relief needs details for each case (a new sentence or an amount): "
                "grant it case by case, not by an act."
            )
    return relief


def checked_act_values(values: dict) -> dict:
    """The act's fields, checked; ValidationFailed (422) naming each bad one."""
    errors: dict[str, str] = {}
    checked = {
        "title": _text(values, "title", errors, TITLE_MAX_LENGTH, required=True),
        "authority": _text(values, "authority", errors, AUTHORITY_MAX_LENGTH, required=True),
        "terms": _text(values, "terms", errors, REASON_MAX_LENGTH, required=False),
        "note": _text(values, "note", errors, NOTE_MAX_LENGTH, required=False),
        "signed_on": _signed_on(values.get("signed_on"), errors),
    }
    if "terms" not in errors:
        checked["relief"] = _checked_relief(values.get("relief"), checked["terms"], errors)
    if errors:
        raise ValidationFailed(errors)
    return checked


def draft_act(actor: User, values: dict) -> Act:
    """A supervisor drafts an act (``title``, ``signed_on``, ``authority``, ``relief``,
    ``terms``, ``note``): 403 for others, 422 naming each bad field. Audited (act_drafted)."""
    permissions.require(permissions.can_manage_acts, actor)
    checked = checked_act_values(values)
    act = Act(**checked, state=DRAFT, created_by_id=actor.id, created_at=clock.now())
    db.session.add(act)
    db.session.flush()
    _record(
        actor, "act_drafted", act, {"signed_on": act.signed_on.isoformat(), "relief": act.relief}
    )
    return act


def _record(actor: User, action: str, act: Act, details: dict) -> None:
    audit.record(action, actor=actor, details={"act_id": act.id, "act_title": act.title, **details})


def _lock_draft(act: Act, actor: User) -> Act:
    """Hold the act's row until commit; ActRecorded (409) once it is recorded."""
    permissions.require(permissions.can_manage_acts, actor)
    db.session.refresh(act, with_for_update=True)
    if act.state != DRAFT:
        raise ActRecorded(
            f"The act '{act.title}' is recorded: it is never edited. A correction is a new "
            "act, with the cases reopened first."
        )
    return act


# --- adding cases ---------------------------------------------------------------------------------


def _add(act: Act, actor: User, petition_ids: list[int], source: str, details: dict) -> int:
    """Add the cases not yet in the act; returns how many were new. One INSERT."""
    existing = set(db.session.scalars(select(ActCase.petition_id).where(ActCase.act_id == act.id)))
    new_ids = [
        petition_id for petition_id in dict.fromkeys(petition_ids) if petition_id not in existing
    ]
    if len(existing) + len(new_ids) > MAX_ACT_CASES:
        raise ValidationFailed(
            {"cases": f"An act holds at most {MAX_ACT_CASES:,} cases: narrow the selection."}
        )
    if new_ids:
        now = clock.now()
        db.session.execute(
            insert(ActCase),
            [
                {
                    "act_id": act.id,
                    "petition_id": petition_id,
                    "added_by_id": actor.id,
                    "added_at": now,
                    "source": source,
                }
                for petition_id in new_ids
            ],
        )
    _record(
        actor,
        "act_cases_added",
        act,
        {
            "source": source,
            "added": len(new_ids),
            "already_in_act": len(petition_ids) - len(new_ids),
            **details,
        },
    )
    return len(new_ids)


def add_cases_by_filter(act: Act, actor: User, raw: dict, dialect=queue_filters.API) -> int:
    """Add every case the queue's filters select (``raw`` as the interface sends them,
    read by ``tracker.petitions.filters``): 422 naming a bad filter, 409 once recorded.
    Returns how many cases were new to the act."""
    _lock_draft(act, actor)
    if dialect is queue_filters.API:
        unknown = {name: "Unknown filter." for name in raw if name not in dialect.names}
        if unknown:
            raise ValidationFailed(unknown, "Some filters are invalid.")
    filters = queue_filters.parse(raw, actor, dialect)
    statement = queries.queue_query(actor, filters).with_only_columns(Petition.id)
    petition_ids = list(db.session.scalars(statement.limit(MAX_ACT_CASES + 1)))
    return _add(act, actor, petition_ids, "filter", {"filter": filters.query_args()})


@dataclass(frozen=True)
class RegisterNumber:
    """One register number as given: where (a CSV line, or a list's position) and its text."""

    line: int
    value: str


def read_register_csv(content: bytes | str) -> list[RegisterNumber]:
    """The register numbers of a CSV: a header naming ``register_number`` (other columns
    ignored), or without a header, the first column. Blank lines are skipped. BulkRefused
    (422) when the file cannot be read."""
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _refuse(
                [_error(1, "", f"The file is not UTF-8 text ({error.reason}).")]
            ) from None
    rows = list(enumerate(csv.reader(io.StringIO(content.removeprefix("\ufeff"), newline="")), 1))
    rows = [(line, cells) for line, cells in rows if any(cell.strip() for cell in cells)]
    if not rows:
        raise _refuse([_error(1, "", "The file has no register numbers.")])
    column = 0
    header = [cell.strip().lower() for cell in rows[0][1]]
    if "register_number" in header:
        column = header.index("register_number")
        rows = rows[1:]
    return [
        RegisterNumber(line, cells[column].strip() if column < len(cells) else "")
        for line, cells in rows
    ]


def _error(line: int, value: str, message: str) -> dict:
    return {"line": line, "field": "register_number", "value": value[:50], "message": message}


def _refuse(errors: list[dict]) -> BulkRefused:
    return BulkRefused(
        f"No case was added: {len(errors)} register number{'' if len(errors) == 1 else 's'} "
        f"{'has' if len(errors) == 1 else 'have'} problems.",
        errors,
        status=422,
    )


def _cases_by_register_number(values: list[str]) -> dict[str, int]:
    """{register number: petition id}: the petitioner's open case, else their latest one
    (which the preview then shows as not under review)."""
    found: dict[str, tuple[bool, int]] = {}
    for number, petition_id, stage in db.session.execute(
        select(Petition.register_number, Petition.id, Petition.stage).where(
            Petition.register_number.in_(values)
        )
    ):
        rank = (stage in OPEN_STAGES, petition_id)
        if number not in found or rank > found[number]:
            found[number] = rank
    return {number: rank[1] for number, rank in found.items()}


def add_cases_by_register_numbers(act: Act, actor: User, numbers: list[RegisterNumber]) -> int:
    """Add the cases of these register numbers, all or nothing: BulkRefused (422) listing
    each bad one by line and value (not a register number, no case has it); 409 once
    recorded. A number given twice counts once. Returns how many cases were new."""
    _lock_draft(act, actor)
    if not numbers:
        raise _refuse([_error(1, "", "Give at least one register number.")])
    errors = [
        _error(n.line, n.value, "Not a register number (NNNNN-NNN, e.g. 12345-678).")
        for n in numbers
        if not REGISTER_NUMBER.fullmatch(n.value)
    ]
    valid = [n for n in numbers if REGISTER_NUMBER.fullmatch(n.value)]
    cases = _cases_by_register_number(list({n.value for n in valid}))
    errors += [
        _error(n.line, n.value, f"No case has the register number {n.value}.")
        for n in valid
        if n.value not in cases
    ]
    if errors:
        raise _refuse(sorted(errors, key=lambda e: e["line"]))
    petition_ids = [cases[n.value] for n in valid]
    return _add(act, actor, petition_ids, "register_numbers", {"given": len(numbers)})


# --- preview and recording ----------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What recording the act now would do: the case numbers it would grant, and the
    others with why not ({case_number, reason, message})."""

    included: list[str]
    excluded: list[dict]

    def as_json(self) -> dict:
        return {"included": len(self.included), "excluded": self.excluded}


def _outcome(act: Act) -> Outcome:
    return checked_outcome(get_transition(GRANT), Outcome(relief=act.relief, terms=act.terms))


def preview(act: Act, actor: User) -> Preview:
    """Which of the act's cases recording would grant, and which not and why; for a recorded
    act, its granted cases (nothing excluded any more)."""
    permissions.require(permissions.can_view_acts, actor)
    case_numbers = list(_case_numbers(act))
    if act.is_recorded:
        return Preview(sorted(case_numbers), [])
    refusals = petition_services.decision_refusals(actor, GRANT, case_numbers, _outcome(act))
    included = sorted(number for number in case_numbers if number not in refusals)
    return Preview(included, _exclusions(refusals))


def _exclusions(refusals: dict[str, dict]) -> list[dict]:
    """The decision path's refusals as the preview lists them, by case number."""
    return [
        {
            "case_number": number,
            "reason": EXCLUSION_REASONS.get(refusal["problem"], refusal["problem"]),
            "message": refusal["message"],
        }
        for number, refusal in sorted(refusals.items())
    ]


def grant_reason(act: Act) -> str:
    """The decision's reason on every case the act grants (the advocate reads it)."""
    return f"Granted by the act of {act.signed_on.isoformat()}: {act.title}."


def record_act(act: Act, actor: User, expected_included: int | None = None) -> dict[str, int]:
    """Record the act: grant every included case in this one transaction, all or nothing.

    ActRecorded (409) when already recorded. Under the cases' row locks, each case is judged
    as the preview judges it (``petition_services.decide_cohort``, the decision path's own
    checks); Conflict (409), with nothing written, when no case can be granted or when
    ``expected_included`` (the count the supervisor confirmed on the preview) is not the
    count now. The grants are written by the one decision write: one UPDATE, one chained
    ``grant`` entry per case naming the act (``act_id``, ``act_title``). The excluded cases
    leave the act and ``act_recorded`` lists them with their reasons. Returns
    {case_number: new version} of the granted cases.
    """
    _lock_draft(act, actor)
    ids = _case_numbers(act)

    def confirm(included: list[str], refused: dict) -> None:
        if expected_included is not None and expected_included != len(included):
            raise Conflict(
                f"The act's cases changed since you confirmed them: you confirmed "
                f"{expected_included} to grant; {len(included)} can be granted now. "
                "Nothing was recorded: check the preview again."
            )
        if not included:
            raise Conflict(
                f"No case of the act '{act.title}' can be granted: nothing was recorded."
            )

    decided, refused = petition_services.decide_cohort(
        actor,
        GRANT,
        grant_reason(act),
        list(ids),
        _outcome(act),
        entry_details={"act_id": act.id, "act_title": act.title},
        confirm=confirm,
    )
    excluded = _exclusions(refused)
    if excluded:
        excluded_ids = [ids[item["case_number"]] for item in excluded]
        db.session.execute(
            delete(ActCase).where(ActCase.act_id == act.id, ActCase.petition_id.in_(excluded_ids))
        )
    act.recorded_at = db.session.scalar(
        select(Petition.decided_at).where(Petition.case_number == next(iter(decided)))
    )
    act.state, act.recorded_by_id, act.granted_count = RECORDED, actor.id, len(decided)
    _record(
        actor,
        "act_recorded",
        act,
        {
            "signed_on": act.signed_on.isoformat(),
            "relief": act.relief,
            "granted": len(decided),
            "excluded": [
                {"case_number": item["case_number"], "reason": item["reason"]} for item in excluded
            ],
        },
    )
    return decided
