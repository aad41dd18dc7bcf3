"""Every write to a petition: submit, edit, transition, assign, note.

Each service takes the acting user explicitly, checks the move against
``tracker.workflow`` and ``tracker.permissions``, changes the rows, appends the
audit entry last (so locks are always taken petition → audit chain) and flushes.
None of them commits: the request or CLI command does, once.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask_babel import gettext as _
from sqlalchemy import Row, Select, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from tracker import clock, eligibility, permissions
from tracker.audit import services as audit
from tracker.audit.services import json_value
from tracker.auth.models import User
from tracker.dashboards import summary
from tracker.database import among
from tracker.deadlines import services as deadlines
from tracker.errors import (
    BulkRefused,
    CasesChanged,
    Conflict,
    Ineligible,
    NotFound,
    OpenPetitionExists,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from tracker.extensions import db
from tracker.i18n import number_filter
from tracker.petitions import importing, merging, petitioners, queries, search
from tracker.petitions.fields import NOTE_MAX_LENGTH, too_long
from tracker.petitions.models import (
    EDITABLE_FIELDS,
    RECOMMENDATIONS,
    CaseNumberCounter,
    Note,
    Petition,
    Recommendation,
)
from tracker.petitions.outcomes import (
    OUTCOME_COLUMNS,
    Outcome,
    checked_outcome,
    outcome_columns,
    relief_refusal,
)
from tracker.petitions.validation import normalize, petition_errors
from tracker.workflow import (
    CASE_ACTIONS_BY_NAME,
    ReasonRequired,
    Stage,
    WrongStage,
    check_move,
    check_role,
    get_transition,
)

PROVIDE_INFORMATION = "provide_information"
RETURN_FOR_INFORMATION = "return_for_information"


def format_case_number(year: int, value: int) -> str:
    return f"CP-{year}-{value:06d}"


def _dialect_insert(table):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def next_case_numbers(year: int, count: int = 1) -> list[str]:
    """Reserve ``count`` consecutive case numbers for the year, safely under concurrency.

    One UPDATE … RETURNING bumps the year's counter; the row lock it takes
    serializes concurrent submitters until they commit. A rolled-back
    transaction gives its numbers back, so numbers have no gaps in practice but
    nothing relies on that.
    """
    db.session.execute(
        _dialect_insert(CaseNumberCounter)
        .values(year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    last = db.session.execute(
        update(CaseNumberCounter)
        .where(CaseNumberCounter.year == year)
        .values(last_value=CaseNumberCounter.last_value + count)
        .returning(CaseNumberCounter.last_value)
    ).scalar_one()
    return [format_case_number(year, value) for value in range(last - count + 1, last + 1)]


def _check_fields(values: dict) -> None:
    errors = petition_errors(values)
    if errors:
        raise ValidationFailed(errors)


def _check_version(petition: Petition, expected_version: int | None) -> None:
    if expected_version is not None and expected_version < 1:
        # Versions start at 1: a lower one names no version of the case (and would make
        # "what changed since" reach back before the case existed).
        raise ValidationFailed({"version": "Versions start at 1."})
    if expected_version is not None and petition.version != expected_version:
        raise StaleVersion(
            _(
                "Case %(case)s changed since you opened it "
                "(you saw version %(seen)s; it is now version %(current)s).",
                case=petition.case_number,
                seen=expected_version,
                current=petition.version,
            ),
            current_version=petition.version,
            seen_version=expected_version,
        )


def lock_petition(petition: Petition) -> Petition:
    """Re-read the petition's row and hold it (SELECT … FOR UPDATE) until commit."""
    # Only the petition row: a page may have loaded it with its organization and advocate
    # joined, and PostgreSQL cannot lock the nullable side of an outer join.
    db.session.refresh(petition, with_for_update={"of": Petition})
    return petition


def _bump(petition: Petition) -> None:
    petition.version += 1
    petition.updated_at = clock.now()


def get_visible_petition(user: User, case_number: str, *, loads=()) -> Petition:
    """The petition with this case number if the user may see it; NotFound otherwise.
    ``loads``: further loader options for what the caller shows (in the same query).

    For a user who may not see every case, a case of another organization and a case that
    does not exist are refused alike — same answer, same work: both carry a refusal that
    the error path audits (``existed`` tells supervisors which it was), so the answer's
    timing does not tell one from the other.
    """
    statement = _visible_petition_statement(tuple(loads))
    petition = db.session.scalars(statement, {"case_number": case_number}).unique().one_or_none()
    if petition is not None and permissions.can_view_petition(user, petition):
        return petition
    raise _not_visible(user, case_number, petition)


def get_visible_case_page(user: User, case_number: str) -> tuple[Petition, dict]:
    """``get_visible_petition`` for the case page: the case as it shows it and which of its
    collections it has (``queries.case_page_case``), refused as every case view refuses."""
    found = queries.case_page_case(case_number)
    petition = found[0] if found is not None else None
    if petition is not None and permissions.can_view_petition(user, petition):
        return found
    raise _not_visible(user, case_number, petition)


def _not_visible(user: User, case_number: str, petition: Petition | None) -> NotFound:
    """The refusal of a case the user may not see (``petition``, another organization's)
    or that does not exist (None)."""
    refusal = None
    if not permissions.can_view_all_petitions(user):
        refusal = {
            "status": 404,
            "case_number": case_number,
            "existed": petition is not None,
            "reason": "another organization's case" if petition else "no such case",
        }
    return NotFound(_("No case %(case)s.", case=case_number), refusal=refusal)


@functools.lru_cache(maxsize=32)
def _visible_petition_statement(loads: tuple) -> Select:
    """``get_visible_petition``'s statement, built once per process for each set of loader
    options (its callers pass module constants): built on each request, its loader options
    and cache key cost more than reading the row."""
    # Its organization and advocate come in the same query: every case page and answer
    # shows them.
    return (
        select(Petition)
        .options(joinedload(Petition.organization), joinedload(Petition.advocate), *loads)
        .where(Petition.case_number == bindparam("case_number"))
    )


def submit_petition(advocate: User, values: dict) -> Petition:
    """Create a petition in *received* for the advocate's organization (action ``submit``).

    An import of one row: the fields are checked with the petition's rules (ValidationFailed
    maps each bad field to its message), then ``_create_petitions`` writes the row and its
    'submit' entry exactly as it writes an imported file's.
    """
    permissions.require(permissions.can_submit_petition, advocate)
    values = normalize({name: values.get(name) for name in EDITABLE_FIELDS})
    _check_fields(values)
    [problems] = _submission_problems(advocate, [values])
    if problems:
        raise problems[0].error
    [petition_id] = _create_petitions(advocate, [values], [{}])[1]
    return db.session.get(Petition, petition_id)


class _Problem:
    """Why one submitted petition is refused: a row error for an import, and the error a
    single submission raises (so both say the same words under the same field)."""

    def __init__(self, field: str, message: str, error: ValidationFailed):
        self.field, self.message, self.error = field, message, error


def _queue_submissions() -> None:
    """Submissions take turns from here to commit, so two of them (any organization, single
    or imported) can never both pass the open-petition check for the same petitioner.
    PostgreSQL: a transaction-scoped advisory lock; SQLite's BEGIN IMMEDIATE already does."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(SUBMISSION_LOCK)))


#: The advisory lock key of submissions (any number no other lock of the app uses).
SUBMISSION_LOCK = 1_101_100


def _denials_by_petitioner(keys: set[str]) -> dict[tuple[str, str], list]:
    """{(petitioner key, kind): [dates of denial]} for these petitioners (one query)."""
    if not keys:
        return {}
    denials: dict[tuple[str, str], list] = {}
    for key, kind, decided_at in db.session.execute(
        select(Petition.petitioner_key, Petition.kind, Petition.decided_at).where(
            Petition.petitioner_key.in_(keys), Petition.stage == Stage.DENIED.value
        )
    ):
        denials.setdefault((key, kind), []).append(decided_at.date())
    return denials


def _eligibility_problems(values: dict, denials) -> list[_Problem]:
    """The eligibility rules a submission breaks, unless it asks for a waiver."""
    if values.get("waiver_requested") and values.get("waiver_justification"):
        return []
    facts = eligibility.Facts(values, denials=tuple(denials))
    broken = eligibility.broken(eligibility.evaluate(facts))
    if not broken:
        return []
    errors: dict[str, str] = {}
    for result in broken:
        errors.setdefault(result.field, f"{result.message} (rule {result.rule})")
    error = Ineligible(errors, [result.as_json() for result in broken])
    return [_Problem(field, message, error) for field, message in errors.items()]


def _submission_problems(advocate: User, values_list: list[dict]) -> list[list[_Problem]]:
    """For each submitted petition (valid fields), why it is refused: a second open petition
    of the same petitioner (whatever the organization: see ``petitioners``), then the
    eligibility rules. The one check of a submission, single or imported; two queries."""
    _queue_submissions()
    keys = [petitioners.petitioner_key(values) for values in values_list]
    open_cases = petitioners.open_petitions_of(keys)
    denials = _denials_by_petitioner(set(keys))
    problems = []
    for key, values in zip(keys, values_list, strict=True):
        if key in open_cases:
            duplicate = open_cases[key]
            field = petitioners.duplicate_field(values)
            message = petitioners.duplicate_message(duplicate, advocate)
            shown = duplicate.case_number if duplicate.case_number in message else None
            error = OpenPetitionExists({field: message}, shown)
            problems.append([_Problem(field, message, error)])
            continue
        problems.append(_eligibility_problems(values, denials.get((key, values["kind"]), [])))
    return problems


def update_petition(
    petition: Petition, editor: User, values: dict, expected_version: int | None
) -> dict:
    """Change the petition's fields; returns {field: [old, new]} (empty when nothing changed)."""
    permissions.require(permissions.can_edit_petition, editor, petition)
    lock_petition(petition)
    _check_version(petition, expected_version)
    permissions.require(permissions.can_edit_petition, editor, petition)  # the stage may move
    submitted = normalize({name: values[name] for name in EDITABLE_FIELDS if name in values})
    merged = {name: getattr(petition, name) for name in EDITABLE_FIELDS} | submitted
    _check_fields(merged)
    changes = {
        name: [json_value(getattr(petition, name)), json_value(new)]
        for name, new in submitted.items()
        if getattr(petition, name) != new
    }
    if not changes:
        return {}
    for name, value in _derived_columns(petition, editor, merged).items():
        setattr(petition, name, value)
    old_kind = petition.kind
    for name in changes:
        setattr(petition, name, submitted[name])
    _bump(petition)
    audit.record(
        "edit",
        actor=editor,
        petition=petition,
        changes=changes,
        details={"version": petition.version},
    )
    if "kind" in changes:
        summary.move_kind(petition.id, old_kind)
    return changes


def _derived_columns(petition: Petition, editor: User, merged: dict) -> dict:
    """The columns computed from the petition's fields that ``merged`` (every editable field,
    as it will be) changes: who the petitioner is, and the words a search matches. A new
    petitioner who already has an open petition is refused, as at submission."""
    derived = {}
    new_key = petitioners.petitioner_key(merged)
    if new_key != petition.petitioner_key:
        duplicate = petitioners.open_petitions_of([new_key], excluding_id=petition.id)
        if new_key in duplicate and petition.stage in petitioners.OPEN_STAGES:
            message = petitioners.duplicate_message(duplicate[new_key], editor)
            shown = duplicate[new_key].case_number
            raise OpenPetitionExists(
                {petitioners.duplicate_field(merged): message},
                shown if shown in message else None,
            )
        derived["petitioner_key"] = new_key
    words = search.search_text(merged | {"case_number": petition.case_number})
    if words != petition.search_text:
        derived["search_text"] = words
    return derived


def update_petition_merged(
    petition: Petition,
    editor: User,
    values: dict,
    base_version: int,
    merge_version: int,
    choices: dict[str, str],
) -> dict:
    """Apply an edit again after a conflict, as a three-way merge (``tracker.petitions.merging``).

    Writes only the fields the editor changed from ``base_version`` (the version they opened);
    a field a colleague changed too gets the editor's value only where ``choices`` names
    ``merging.KEEP_MINE``. StaleVersion (409) when the case moved past ``merge_version``
    (the version the conflict page showed); MergeUnresolved (422) naming each conflicting
    field without a choice. Returns the changes as ``update_petition`` does.
    """
    permissions.require(permissions.can_edit_petition, editor, petition)
    merge = merging.merge_edit(petition, values, base_version)
    if merge.theirs_version != merge_version:
        raise StaleVersion(
            _(
                "Case %(case)s changed again while you were merging your edit "
                "(you saw version %(seen)s; it is now version %(current)s).",
                case=petition.case_number,
                seen=merge_version,
                current=merge.theirs_version,
            ),
            current_version=merge.theirs_version,
            seen_version=merge_version,
        )
    resolved, unchosen = merge.resolve(choices)
    if unchosen:
        raise merging.MergeUnresolved(unchosen)
    return update_petition(petition, editor, resolved, merge_version)


def apply_transition(
    petition: Petition,
    actor: User,
    action: str,
    reason: str | None = None,
    expected_version: int | None = None,
    outcome: Outcome | None = None,
    **extra,
) -> Petition:
    """Move the petition along the workflow: a bulk decision of one case.

    The same checks, columns and audit entry as ``decide_petitions``; its refusals are
    those of one case: TransitionForbidden (403) for a role that may not, ReasonRequired
    (422), StaleVersion (409 on the web, 412 in the API) when the case changed since
    ``expected_version``, WrongStage (409, naming the current stage) from the wrong stage,
    ReferralsOpen (409, naming them) for a decision while referrals are open, a bad
    ``outcome`` (disposition, relief: ValidationFailed, 422, also when the relief does not
    fit the case's kind).

    ``extra`` (see ``TransitionExtra``): ``due_on`` of the information request
    ``return_for_information`` opens; ``response`` and field ``corrections`` of
    ``provide_information`` (checked with the petition's rules, written in the same step
    and the same audit entry); ``close_referrals_reason`` closes open referrals on a decision.
    """
    if action in CASE_ACTIONS_BY_NAME:
        return approve_waiver(petition, actor, reason, expected_version)
    transition, reason, outcome = _checked_transition(actor, action, reason, outcome)
    extra = TransitionExtra(**extra)
    changes = _checked_corrections(petition, transition, extra)
    expected_versions = {petition.case_number: expected_version}
    rows, offenders = _lock_and_check(actor, transition, expected_versions, extra, outcome)
    if offenders:
        raise _refusal_of_one(offenders[0], expected_version)
    derived = {}
    if changes:  # corrections (provide_information): as an edit, the derived columns follow
        corrected = normalize({name: extra.corrections[name] for name in changes})
        merged = {name: getattr(petition, name) for name in EDITABLE_FIELDS} | corrected
        derived = _derived_columns(petition, actor, merged)
    _decide(actor, transition, reason, rows, extra, changes, outcome, derived=derived)
    db.session.refresh(petition)  # the row as the UPDATE left it
    db.session.expire(petition, ["information_requests", "referrals"])
    return petition


#: The stages of the petitions an eligibility rule looks at besides the one judged.
ELIGIBILITY_STAGES = (*petitioners.OPEN_STAGES, Stage.DENIED.value)


def eligibility_of(petitions: list, *, petitioners_petitions=None) -> dict[int, list]:
    """{petition id: each eligibility rule's result} for filed petitions (Petition objects or
    rows with their columns, as ``_lock_cases`` reads them), in three queries
    whatever their number. A rule is about filing, so each is judged on the day the petition
    was filed, against the denials of the petitioner's petitions of the same kind before it
    and the petitioner's other open petitions.

    ``petitioners_petitions``: every petition of these petitioners, already read by the
    caller (the case page reads them for its "other petitions" list), so none is read again.
    """
    if not petitions:
        return {}
    if petitioners_petitions is not None:
        others = sorted(
            (p for p in petitioners_petitions if p.stage in ELIGIBILITY_STAGES),
            key=lambda p: p.id,
        )
    else:
        keys = {petition.petitioner_key for petition in petitions}
        others = db.session.execute(
            select(
                Petition.id,
                Petition.petitioner_key,
                Petition.kind,
                Petition.stage,
                Petition.case_number,
                Petition.decided_at,
            )
            .where(among(Petition.petitioner_key, keys))
            .where(Petition.stage.in_(ELIGIBILITY_STAGES))
            .order_by(Petition.id)
        ).all()
    by_petitioner: dict[str, list] = {}
    for other in others:  # grouped once: a bulk grant judges thousands of cases
        by_petitioner.setdefault(other.petitioner_key, []).append(other)
    results = {}
    for petition in petitions:
        filed = petition.created_at
        mine = [o for o in by_petitioner.get(petition.petitioner_key, ()) if o.id != petition.id]
        denials = tuple(
            o.decided_at.date()
            for o in mine
            if o.stage == Stage.DENIED.value and o.kind == petition.kind and o.decided_at < filed
        )
        other_open = next((o.case_number for o in mine if o.stage in petitioners.OPEN_STAGES), None)
        values = (
            petition._mapping
            if isinstance(petition, Row)
            else {name: getattr(petition, name) for name in EDITABLE_FIELDS}
        )
        facts = eligibility.Facts(values, denials, other_open, today=filed.date())
        results[petition.id] = eligibility.evaluate(facts)
    return results


def _ineligible_offenders(transition, rows: dict) -> list[dict]:
    """Cases a grant must refuse (409): they break an eligibility rule and no supervisor has
    approved a waiver. Checked on every grant, single or bulk, in the one transition path."""
    if transition.name not in eligibility.ACTIONS_NEEDING_ELIGIBILITY or not rows:
        return []
    # The locked rows carry the columns the rules read (``CASE_COLUMNS``): no second read.
    petitions = [row for row in rows.values() if row.waiver_approved_at is None]
    results = eligibility_of(petitions)
    offenders = []
    for petition in petitions:
        broken = eligibility.broken(results[petition.id])
        if broken:
            rules = ", ".join(result.rule for result in broken)
            message = _(
                "Case %(case)s breaks an eligibility rule (%(rules)s): "
                "a supervisor must approve a waiver before it is granted.",
                case=petition.case_number,
                rules=rules,
            )
            offenders.append(
                {
                    "case_number": petition.case_number,
                    "problem": "ineligible",
                    "stage": petition.stage,
                    "version": petition.version,
                    "refusal": Conflict(message),
                    "message": message,
                }
            )
    return offenders


def approve_waiver(
    petition: Petition, actor: User, reason: str | None, expected_version: int | None = None
) -> Petition:
    """A supervisor sets aside the eligibility rules the case breaks (``approve_waiver`` in
    the workflow's CASE_ACTIONS), so that it may be granted; the stage does not change.
    TransitionForbidden (403) for another role, ReasonRequired (422), StaleVersion, WrongStage
    (409) on a decided case, Conflict (409) when a waiver is already approved."""
    action = CASE_ACTIONS_BY_NAME["approve_waiver"]
    check_role(action, actor.role_enum)
    reason = (reason or "").strip() or None
    if not reason:
        raise ReasonRequired(_("The action 'approve_waiver' requires a written reason."))
    lock_petition(petition)
    _check_version(petition, expected_version)
    check_move(action, actor.role_enum, Stage(petition.stage))
    if petition.waiver_approved_at is not None:
        raise Conflict(
            _(
                "A waiver of case %(case)s is already approved.",
                case=petition.case_number,
            )
        )
    broken = eligibility.broken(eligibility_of([petition])[petition.id])
    petition.waiver_approved_at = clock.now()
    petition.waiver_approved_by_id = actor.id
    petition.waiver_approval_reason = reason
    _bump(petition)
    audit.record(
        "approve_waiver",
        actor=actor,
        petition=petition,
        reason=reason,
        details={"version": petition.version, "rules": [result.rule for result in broken]},
    )
    return petition


@dataclass(frozen=True)
class TransitionExtra:
    """What some transitions take besides a reason (issue 12)."""

    #: return_for_information: when the answer is due (default INFORMATION_DUE_DAYS).
    due_on: date | None = None
    #: provide_information: the advocate's answer (required) and field corrections.
    response: str | None = None
    corrections: dict | None = None
    #: A decision while referrals are open closes them with this reason (else 409).
    close_referrals_reason: str | None = None


def _checked_corrections(petition: Petition, transition, extra: TransitionExtra) -> dict:
    """provide_information: the response is required; the corrections are checked with the
    petition's rules, as an edit would be. Returns {field: [old, new]} of what changes."""
    if transition.name != PROVIDE_INFORMATION:
        if extra.response or extra.corrections:
            raise ValidationFailed({"response": f"Only {PROVIDE_INFORMATION} takes a response."})
        return {}
    errors = {}
    if not (extra.response or "").strip():
        errors["response"] = _("Write your answer to the information request.")
    elif len(extra.response) > deadlines.SUMMARY_MAX_LENGTH:
        errors["response"] = _(
            "At most %(count)s characters.",
            count=number_filter(deadlines.SUMMARY_MAX_LENGTH),
        )
    unknown = set(extra.corrections or {}) - set(EDITABLE_FIELDS)
    errors.update((name, "Not a field of a petition.") for name in sorted(unknown))
    if errors:
        raise ValidationFailed(errors)
    submitted = normalize(dict(extra.corrections or {}))
    _check_fields({name: getattr(petition, name) for name in EDITABLE_FIELDS} | submitted)
    return {
        name: [json_value(getattr(petition, name)), json_value(new)]
        for name, new in submitted.items()
        if getattr(petition, name) != new
    }


def _refusal_of_one(offender: dict, expected_version: int | None):
    """A single transition's refusal: the wrong stage first, then a stale version."""
    if offender.get("refusal") is not None:
        return offender["refusal"]
    if offender["problem"] == "changed":
        return StaleVersion(
            _(
                "Case %(case)s changed since you opened it "
                "(you saw version %(seen)s; it is now version %(current)s).",
                case=offender["case_number"],
                seen=expected_version,
                current=offender["version"],
            ),
            current_version=offender["version"],
            seen_version=expected_version,
        )
    return NotFound(offender["message"])


def assign_petition(
    petition: Petition, actor: User, assignee: User | None, expected_version: int | None = None
) -> Petition:
    """Make a case someone's work (or nobody's). Reviewers may only take a case themselves."""
    taking = assignee is not None and assignee.id == actor.id
    permissions.require(
        permissions.can_take_cases if taking else permissions.can_assign_petitions, actor
    )
    if assignee is not None and not permissions.can_be_assigned(assignee):
        message = permissions.refusal_message(permissions.can_be_assigned, assignee)
        raise ValidationFailed({"assignee": message})
    lock_petition(petition)
    _check_version(petition, expected_version)
    if Stage(petition.stage).is_decided:
        raise PermissionDenied(
            _("Case %(case)s is decided; reopen it first.", case=petition.case_number)
        )
    # Checked again under the row lock, so two reviewers cannot both take a free case.
    taken_by_someone_else = petition.assignee_id not in (None, actor.id)
    if taking and taken_by_someone_else and not permissions.can_reassign_petitions(actor):
        raise PermissionDenied(
            _(
                "Case %(case)s is already assigned to %(name)s; a supervisor can reassign it.",
                case=petition.case_number,
                name=petition.assignee.name,
            )
        )
    old = petition.assignee
    if (old.id if old else None) == (assignee.id if assignee else None):
        return petition
    petition.assignee_id = assignee.id if assignee else None
    _bump(petition)
    audit.record(
        "take" if taking else "assign",
        actor=actor,
        petition=petition,
        subject_user=assignee,
        changes={"assignee": [old.email if old else None, assignee.email if assignee else None]},
        details={"version": petition.version},
    )
    return petition


def reassign_open_cases(
    actor: User, user: User, assignee: User | None, *, expected_cases: list[str] | None = None
) -> list[str]:
    """Give every open (undecided) case of ``user`` to ``assignee``, or back to the unassigned
    queue when None, each through ``assign_petition`` (its own audit entry). With
    ``expected_cases``, the case numbers the actor confirmed: if the open cases differ now,
    Conflict and nothing changes. Returns the case numbers reassigned."""
    cases = queries.open_cases_assigned_to(user)
    case_numbers = [petition.case_number for petition in cases]
    if expected_cases is not None and sorted(expected_cases) != sorted(case_numbers):
        raise Conflict(
            f"{user.name}'s open cases changed since you confirmed them: check the list again."
        )
    for petition in cases:
        assign_petition(petition, actor, assignee)
    return case_numbers


def add_note(petition: Petition, author: User, body: str, visibility: str) -> Note:
    """Write a note on a case: internal (staff only) or shared with the advocate."""
    permissions.require(permissions.can_write_notes, author)
    body = (body or "").strip()
    errors = {}
    if not body:
        errors["body"] = _("Write the note.")
    if visibility not in ("internal", "shared"):
        errors["visibility"] = _("Choose internal or shared.")
    if errors:
        raise ValidationFailed(errors)
    note = Note(
        petition_id=petition.id,
        author_id=author.id,
        body=body,
        visibility=visibility,
        created_at=datetime.now(UTC),
    )
    db.session.add(note)
    audit.record(
        "note_shared" if visibility == "shared" else "note_internal",
        actor=author,
        petition=petition,
        details={"visibility": visibility, "body": body},
    )
    return note


def add_recommendation(petition: Petition, author: User, recommendation: str, memo: str):
    """Record a staff member's recommendation on a case under review, with its internal
    memo: PermissionDenied (403) for an advocate, WrongStage (409) unless the case is under
    review, ValidationFailed (422) naming a bad recommendation or a missing memo. Several
    per case; the latest is the one a decision is compared with. Audited (internal)."""
    permissions.require(permissions.can_recommend, author)
    errors = {}
    memo = (memo or "").strip()
    if recommendation not in RECOMMENDATIONS:
        errors["recommendation"] = _("One of: %(values)s.", values=", ".join(RECOMMENDATIONS))
    if not memo:
        errors["memo"] = _("Write the memo.")
    elif len(memo) > NOTE_MAX_LENGTH:
        errors["memo"] = too_long(NOTE_MAX_LENGTH)
    if errors:
        raise ValidationFailed(errors)
    lock_petition(petition)  # a decision compares with the latest: not one in between
    if petition.stage != Stage.UNDER_REVIEW:
        stage = petition.stage_enum
        raise WrongStage(
            _(
                "Recommendations are recorded on a case under review; case %(case)s is "
                "'%(stage)s' (%(code)s).",
                case=petition.case_number,
                stage=stage.label.lower(),
                code=stage.value,
            ),
            current_stage=stage.value,
        )
    entry = Recommendation(
        petition_id=petition.id,
        author_id=author.id,
        recommendation=recommendation,
        memo=memo,
        created_at=clock.now(),
    )
    db.session.add(entry)
    audit.record(
        "recommend",
        actor=author,
        petition=petition,
        details={"recommendation": recommendation, "memo": memo},
    )
    return entry


# --- bulk import and bulk decisions -----------------------------------------------------------
#
# Set-based: every row or case is checked first, in Python, and nothing is written unless all
# pass; then one statement writes the petitions and one ``record_many`` call their audit
# entries. The query count does not grow with the number of rows or cases.

#: The most cases one bulk decision may take.
MAX_BULK_DECISIONS = 10_000


def _submit_entry(advocate: User, petition_id: int, case_number: str, values: dict, **details):
    """The audit entry of a submission, as ``submit_petition`` writes it."""
    return {
        "action": "submit",
        "actor_id": advocate.id,
        "petition_id": petition_id,
        "to_stage": get_transition("submit").target.value,
        "changes": {
            name: [None, json_value(values[name])]
            for name in EDITABLE_FIELDS
            if values[name] is not None
        },
        "details": {"version": 1, "case_number": case_number, **details},
    }


def import_petitions(advocate: User, rows: list, progress=None) -> list[str]:
    """Submit many petitions at once for the advocate's organization, all or nothing.

    ``rows`` are ``importing.ImportRow``s (from ``importing.read_csv``). Every row is
    checked first; if any is bad, BulkRefused (422) lists every problem as
    {line, field, column, value, message} and nothing is written. Otherwise each row becomes a
    petition in *received* with its own 'submit' audit entry, and the case numbers are
    returned in row order. ``progress(n)`` is told as rows are checked.
    """
    permissions.require(permissions.can_submit_petition, advocate)
    if not rows:
        raise importing.refuse([importing.row_error(2, None, "The file has no petitions.")])
    values_list, errors = importing.check_rows(rows, progress=progress)
    bad_lines = {error["line"] for error in errors}
    valid = [
        (row, values)
        for row, values in zip(rows, values_list, strict=True)
        if row.line not in bad_lines
    ]
    for (row, _values), problems in zip(
        valid, _submission_problems(advocate, [values for _row, values in valid]), strict=True
    ):
        errors += [importing.cell_error(row, p.field, p.message) for p in problems]
    if errors:
        raise importing.refuse(errors)
    details = [{"source": "csv_import", "line": row.line} for row in rows]
    return _create_petitions(advocate, values_list, details)[0]


def _create_petitions(advocate: User, values_list: list[dict], details: list[dict]):
    """Write checked petitions in *received* and their 'submit' entries: the one write of
    a submission, single or imported. Returns (case numbers, petition ids), in order."""
    now = clock.now()
    case_numbers = next_case_numbers(now.year, len(values_list))
    stage = get_transition("submit").target.value
    petition_ids = db.session.scalars(
        insert(Petition).returning(Petition.id, sort_by_parameter_order=True),
        [
            {
                "case_number": case_number,
                "stage": stage,
                "version": 1,
                "organization_id": advocate.organization_id,
                "advocate_id": advocate.id,
                "created_at": now,
                "updated_at": now,
                "received_at": now,
                "stage_entered_at": now,
                "petitioner_key": petitioners.petitioner_key(values),
                "search_text": search.search_text(values | {"case_number": case_number}),
                **values,
            }
            for case_number, values in zip(case_numbers, values_list, strict=True)
        ],
    ).all()
    entries = audit.record_many(
        _submit_entry(advocate, petition_id, case_number, values, **entry_details)
        for petition_id, case_number, values, entry_details in zip(
            petition_ids, case_numbers, values_list, details, strict=True
        )
    )
    summary.record_changes(
        summary.CaseChange.of_entry(entry, values["kind"], moved_at=now, received_at=now)
        for entry, values in zip(entries, values_list, strict=True)
    )
    return case_numbers, petition_ids


#: What the checks and the write of a decision read of each case, in the one statement that
#: locks it: its place in the workflow, what the entry's changes compare (the outcome) and
#: what the eligibility rules judge (their values, the filing, the waiver).
CASE_COLUMNS = tuple(
    getattr(Petition, name)
    for name in dict.fromkeys(
        (
            "id",
            "case_number",
            "stage",
            "version",
            "organization_id",
            "kind",
            "received_at",
            "stage_entered_at",
            "decided_at",
            "created_at",
            "petitioner_key",
            "waiver_approved_at",
            *OUTCOME_COLUMNS,
            *eligibility.VALUES_READ,
        )
    )
)


def _lock_cases(case_numbers: list[str], *, lock: bool = True):
    """The cases' rows (``CASE_COLUMNS``, not ORM objects), locked until commit (in id order,
    so two bulk decisions never deadlock); ``lock=False``: only read (a preview)."""
    statement = (
        select(*CASE_COLUMNS).where(among(Petition.case_number, case_numbers)).order_by(Petition.id)
    )
    return db.session.execute(statement.with_for_update() if lock else statement).all()


def _wrong_stage(actor: User, transition, row) -> WrongStage | None:
    try:
        check_move(transition, actor.role_enum, Stage(row.stage))
    except WrongStage as error:
        return error
    return None


def _case_refusal(transition, outcome: Outcome | None, row) -> ValidationFailed | None:
    """Why this case cannot take the move the request asks for, though its stage allows it.

    The place for per-case guards of a move: today, that the grant's relief fits the
    case's kind (a pardon is a full pardon…). A refusal here is 422 for one case and makes
    the case an offender in a bulk decision.
    """
    message = relief_refusal(outcome, row.case_number, row.kind) if outcome else None
    if message is not None:
        return ValidationFailed({"relief": message})
    return None


def _decision_offender(actor: User, transition, case_number, row, seen_version, outcome=None):
    """Why this case cannot take the transition now, as an offender dict, or None.

    Refusals that hold for every case whatever its stage (the role may never take the
    action, a missing reason) are checked before, for the whole request. A case that
    changed since confirmed is listed as changed; ``refusal`` keeps the WrongStage it would
    also meet, which a single transition answers with (re-reading it would not help).
    """
    if row is None or not permissions.can_view_petition(actor, row):
        return {
            "case_number": case_number,
            "problem": "not_found",
            "message": f"No case {case_number}.",
        }
    wrong_stage = _wrong_stage(actor, transition, row)
    if seen_version is not None and row.version != seen_version:
        return {
            "case_number": case_number,
            "problem": "changed",
            "stage": row.stage,
            "version": row.version,
            "refusal": wrong_stage,
            "message": f"Case {case_number} changed since you confirmed it (you saw version "
            f"{seen_version}; it is now version {row.version}, "
            f"{Stage(row.stage).label.lower()}).",
        }
    if wrong_stage is not None:
        return {
            "case_number": case_number,
            "problem": "wrong_stage",
            "stage": row.stage,
            "version": row.version,
            "refusal": wrong_stage,
            "message": f"Case {case_number}: {wrong_stage.message}",
        }
    refusal = _case_refusal(transition, outcome, row)
    if refusal is not None:
        message = next(iter(refusal.errors.values()))
        return {
            "case_number": case_number,
            "problem": "refused",
            "stage": row.stage,
            "version": row.version,
            "refusal": refusal,
            "message": message,
        }
    return None


def _checked_transition(actor: User, action: str, reason: str | None, outcome=None):
    """The transition, the stripped reason and the checked outcome (``checked_outcome``),
    once checks that hold for the whole request pass: a known action that moves a case, a
    role that may take it, its written reason, its disposition and relief."""
    transition = get_transition(action)
    if not transition.sources:
        raise PermissionDenied(
            _("'%(action)s' creates a petition; it cannot be applied to one.", action=action)
        )
    if transition.target is None:
        raise ValidationFailed({"action": f"'{action}' is taken on one case at a time."})
    # The role's rule is the table's (an advocate may withdraw; whose case it is, is checked
    # per case); bulk decisions are staff's (decide_petitions).
    check_role(transition, actor.role_enum)
    if transition.name == PROVIDE_INFORMATION:
        permissions.require(permissions.can_answer_information_requests, actor)
    reason = (reason or "").strip() or None
    if transition.reason_required and not reason:
        raise ReasonRequired(_("The action '%(action)s' requires a written reason.", action=action))
    outcome = checked_outcome(transition, outcome or Outcome())
    return transition, reason, (outcome if transition.target.is_decided else None)


def _lock_and_check(actor: User, transition, expected_versions: dict, extra=None, outcome=None):
    """Lock the cases, then list every case that cannot take the transition now (a
    decision also: every case with open referrals, unless the decider closes them)."""
    rows = {row.case_number: row for row in _lock_cases(list(expected_versions))}
    offenders = [
        offender
        for case_number, seen_version in expected_versions.items()
        if (
            offender := _decision_offender(
                actor, transition, case_number, rows.get(case_number), seen_version, outcome
            )
        )
    ]
    if not offenders:
        offenders = _ineligible_offenders(transition, rows)
    if not offenders and transition.target is not None and transition.target.is_decided:
        offenders = _open_referral_offenders(transition, rows, extra or TransitionExtra())
    return rows, offenders


def decision_refusals(
    actor: User, action: str, case_numbers: list[str], outcome: Outcome | None = None
) -> dict[str, dict]:
    """Every case of these that ``decide_petitions`` would refuse the action now, with why:
    {case_number: offender} (``problem``: not_found, wrong_stage, refused, ineligible or
    referrals_open; ``message``). The same checks as the decision itself, but each case is
    judged on its own rather than the first kind of refusal stopping the rest (a preview:
    the rows are read, not locked)."""
    transition = get_transition(action)
    rows = {row.case_number: row for row in _lock_cases(case_numbers, lock=False)}
    return _refusals(actor, transition, rows, case_numbers, outcome)


def _refusals(actor: User, transition, rows: dict, case_numbers: list[str], outcome) -> dict:
    refusals = {}
    for case_number in case_numbers:
        offender = _decision_offender(
            actor, transition, case_number, rows.get(case_number), None, outcome
        )
        if offender is not None:
            refusals[case_number] = offender
    open_rows = {number: row for number, row in rows.items() if number not in refusals}
    for offender in _ineligible_offenders(transition, open_rows):
        refusals[offender["case_number"]] = offender
    if transition.target is not None and transition.target.is_decided:
        open_rows = {number: row for number, row in open_rows.items() if number not in refusals}
        for offender in _open_referral_offenders(transition, open_rows, TransitionExtra()):
            refusals[offender["case_number"]] = offender
    return refusals


def decide_cohort(
    actor: User,
    action: str,
    reason: str | None,
    case_numbers: list[str],
    outcome: Outcome | None = None,
    *,
    entry_details: dict | None = None,
    confirm=None,
) -> tuple[dict[str, int], dict[str, dict]]:
    """A clemency act's decision (``tracker.acts``): ``decide_petitions`` for a cohort, except
    that each case the action cannot take now is left out rather than refusing the rest.

    The same request checks, the same row locks and per-case checks (``decision_refusals``,
    here under the locks) and the same write (``_decide``: one UPDATE, one chained entry per
    case with ``entry_details``). ``confirm(included, refused)`` is called before anything is
    written and may raise to refuse the whole decision (the act's confirmed count). Returns
    ({case_number: new version} of the decided cases, {case_number: offender} of the others).
    """
    transition, reason, outcome = _checked_transition(actor, action, reason, outcome)
    permissions.require(permissions.can_work_queue, actor)
    if len(case_numbers) > MAX_BULK_DECISIONS:
        raise ValidationFailed({"case_numbers": f"At most {MAX_BULK_DECISIONS} cases at once."})
    rows = {row.case_number: row for row in _lock_cases(case_numbers)}
    refused = _refusals(actor, transition, rows, case_numbers, outcome)
    included = {number: row for number, row in rows.items() if number not in refused}
    if confirm is not None:
        confirm(sorted(included), refused)
    if not included:
        return {}, refused
    decided = _decide(
        actor, transition, reason, included, outcome=outcome, entry_details=entry_details
    )
    return decided, refused


#: A withdrawal ends the case whatever waits on other agencies: its open referrals are closed
#: with it (a 409 would name, to an advocate, referrals only staff may see).
WITHDRAW = "withdraw"
WITHDRAWN_REFERRALS_REASON = "The petition was withdrawn."


def _referrals_closing_reason(transition, extra: TransitionExtra) -> str | None:
    """Why a move to a decided stage closes the case's open referrals, or None: the
    decider's ``close_referrals_reason``, or the withdrawal itself."""
    given = (extra.close_referrals_reason or "").strip()
    if given:
        return given
    return WITHDRAWN_REFERRALS_REASON if transition.name == WITHDRAW else None


def _open_referral_offenders(transition, rows: dict, extra: TransitionExtra) -> list[dict]:
    if _referrals_closing_reason(transition, extra):
        return []  # _decide closes them
    open_referrals = deadlines.open_referrals_of([row.id for row in rows.values()])
    offenders = []
    for row in rows.values():
        if row.id not in open_referrals:
            continue
        refusal = deadlines.ReferralsOpen(row.case_number, open_referrals[row.id])
        offenders.append(
            {
                "case_number": row.case_number,
                "problem": "referrals_open",
                "stage": row.stage,
                "version": row.version,
                "referrals": refusal.referral_ids,
                "refusal": refusal,
                "message": refusal.message,
            }
        )
    return offenders


def _latest_recommendations(petition_ids: list[int]) -> dict[int, str]:
    """Each case's latest recommendation (by petition id), for the cases that have one."""
    latest = (
        select(Recommendation.petition_id, db.func.max(Recommendation.id).label("id"))
        .where(among(Recommendation.petition_id, petition_ids))
        .group_by(Recommendation.petition_id)
        .subquery()
    )
    return dict(
        db.session.execute(
            select(Recommendation.petition_id, Recommendation.recommendation).join(
                latest, Recommendation.id == latest.c.id
            )
        ).all()
    )


#: The recommendation a decision goes against (a grant against an unfavorable one…).
AGAINST = {"grant": "unfavorable", "deny": "favorable"}


def _decision_details(transition, rows: dict) -> dict[int, dict]:
    """Per case, what the entry's details add: whether a grant or denial goes against the
    latest recommendation (allowed, but marked so statistics can count it)."""
    if transition.name not in AGAINST:
        return {}
    latest = _latest_recommendations([row.id for row in rows.values()])
    return {
        petition_id: {"against_recommendation": recommendation == AGAINST[transition.name]}
        for petition_id, recommendation in latest.items()
    }


def _outcome_changes(row, new_values: dict) -> dict | None:
    """{column: [old, new]} of the outcome columns the move changes; ``new_values`` are
    already ``json_value``s (the same for every case of a decision)."""
    changes = {}
    for name, new in new_values.items():
        old = getattr(row, name)
        old = old if old is None else json_value(old)  # an open case's are all None
        if old != new:
            changes[name] = [old, new]
    return changes or None


def _decide(
    actor: User,
    transition,
    reason: str | None,
    rows: dict,
    extra: TransitionExtra | None = None,
    changes: dict | None = None,
    outcome: Outcome | None = None,
    entry_details: dict | None = None,
    derived: dict | None = None,
) -> dict[str, int]:
    """Move the locked cases with one UPDATE and append one entry per case; the one write
    of a transition, single or bulk. Returns {case_number: new version}. ``entry_details``
    are added to every case's entry (a clemency act's id and title, ``tracker.acts``).

    Every transition restarts the stage clock (``stage_entered_at``). The information
    loop and the referrals are kept here too, so no path moves a case without them:
    ``return_for_information`` opens a request per case, ``provide_information`` closes it
    and writes the corrections (``changes``, in the same entry), and a decision closes the
    open referrals when the decider gave ``close_referrals_reason`` (a withdrawal always
    does). The disposition and relief (``outcome``) are written with the stage and listed in
    the entry's changes; a move to an open stage (reopen) clears them, the history keeping
    what they were.
    """
    extra = extra or TransitionExtra()
    target = transition.target
    now = clock.now()
    decided_at = now if target.is_decided else None
    petition_ids = [row.id for row in rows.values()]
    corrections = normalize({name: extra.corrections[name] for name in changes or {}})
    columns = outcome_columns(outcome if target.is_decided else None)
    db.session.execute(
        update(Petition)
        .where(among(Petition.id, petition_ids))
        .values(
            stage=target.value,
            version=Petition.version + 1,
            updated_at=now,
            stage_entered_at=now,
            decided_at=decided_at,
            decided_by_id=actor.id if target.is_decided else None,
            decision_reason=reason if target.is_decided else None,
            **corrections,
            **(derived or {}),  # the columns the corrections change (``_derived_columns``)
            **columns,
        )
        # The callers read the rows they need again (apply_transition) or not at all.
        .execution_options(synchronize_session=False)
    )
    details = {}
    closing_reason = _referrals_closing_reason(transition, extra) if target.is_decided else None
    if closing_reason:
        open_referrals = deadlines.open_referrals_of(petition_ids)
        deadlines.close_referrals_at_decision(
            actor, open_referrals, closing_reason, transition.name
        )
    if transition.name == RETURN_FOR_INFORMATION:
        due_on = deadlines.open_information_requests(actor, petition_ids, reason, extra.due_on, now)
        details["due_on"] = due_on.isoformat()
    if transition.name == PROVIDE_INFORMATION:
        for petition_id in petition_ids:
            deadlines.answer_information_request(actor, petition_id, extra.response.strip(), now)
        details["response"] = extra.response.strip()
    details |= entry_details or {}
    entries = audit.record_many(
        _entries(actor, transition, reason, rows, changes, columns, details)
    )
    # The dashboards' summary, in this transaction: one call for one case or a cohort.
    summary.record_changes(
        summary.CaseChange.of_entry(
            entry,
            row.kind,
            moved_at=now,
            received_at=row.received_at,
            entered_before=row.stage_entered_at,
            decided_before=row.decided_at,
        )
        for entry, row in zip(entries, rows.values(), strict=True)
    )
    if "kind" in corrections:  # provide_information corrected the kind
        for row in rows.values():
            summary.move_kind(row.id, row.kind)
    return {row.case_number: row.version + 1 for row in rows.values()}


def _entries(actor: User, transition, reason, rows: dict, changes, columns: dict, details: dict):
    """Each moved case's audit entry, in id order: the same for one case or thousands."""
    extra_details = _decision_details(transition, rows)
    new_values = {name: json_value(value) for name, value in columns.items()}
    return [
        {
            "action": transition.name,
            "actor_id": actor.id,
            "petition_id": row.id,
            "from_stage": row.stage,
            "to_stage": transition.target.value,
            "reason": reason,
            "changes": {**(changes or {}), **(_outcome_changes(row, new_values) or {})} or None,
            "details": {"version": row.version + 1, **extra_details.get(row.id, {}), **details},
        }
        for row in rows.values()
    ]


def decide_petitions(
    actor: User,
    action: str,
    reason: str | None,
    expected_versions: dict[str, int | None],
    outcome: Outcome | None = None,
    *,
    entry_details: dict | None = None,
    **extra,
) -> dict[str, int]:
    """Apply one transition to many cases, all or nothing; returns {case_number: new version}.

    ``expected_versions`` maps each case number to the version the user confirmed (None:
    whatever it is now). TransitionForbidden (403) or ReasonRequired (422) refuse the whole
    request; then the cases are locked and each is checked: cases that are not found,
    changed since confirmed, or in the wrong stage are listed in CasesChanged (when every
    offender changed) or BulkRefused (409), and nothing changes. Otherwise one UPDATE moves
    every case and one ``record_many`` call writes an audit entry per case. ``extra`` as for
    ``apply_transition`` (``due_on``, ``close_referrals_reason``; a response is one case's).
    One ``outcome`` (a close's disposition, a grant's relief and terms) for every case; a case
    whose kind the relief does not fit is an offender. ``entry_details``: what every case's
    entry adds (the recording of a clemency act names the act there).
    """
    transition, reason, outcome = _checked_transition(actor, action, reason, outcome)
    permissions.require(permissions.can_work_queue, actor)
    extra = TransitionExtra(**extra)
    if transition.name == PROVIDE_INFORMATION:
        raise ValidationFailed({"action": "Information is provided one case at a time."})
    if not expected_versions:
        raise ValidationFailed({"case_numbers": "Select at least one case."})
    if len(expected_versions) > MAX_BULK_DECISIONS:
        raise ValidationFailed({"case_numbers": f"At most {MAX_BULK_DECISIONS} cases at once."})
    rows, offenders = _lock_and_check(actor, transition, expected_versions, extra, outcome)
    if offenders:
        changed_only = all(o["problem"] == "changed" for o in offenders)
        raise (CasesChanged if changed_only else BulkRefused)(
            _(
                "Nothing was applied: %(offenders)s of the %(selected)s selected cases cannot "
                "take the action '%(action)s' now.",
                offenders=len(offenders),
                selected=len(expected_versions),
                action=action,
            ),
            [{k: v for k, v in o.items() if k != "refusal"} for o in offenders],
        )
    return _decide(
        actor, transition, reason, rows, extra, outcome=outcome, entry_details=entry_details
    )
