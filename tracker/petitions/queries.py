"""Read-side queries for petitions: the queue, timelines, conflicts. No writes here."""

from dataclasses import dataclass, replace

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload, lazyload, load_only

from tracker import permissions
from tracker.audit.models import CASE_CATEGORY, AuditEntry
from tracker.audit.replay import replay
from tracker.auth.models import User
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.petitions.fields import CASE_NUMBER, REGISTER_NUMBER
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.workflow import Role, Stage

#: What an advocate sees of their own case's history.
ADVOCATE_VISIBLE_ACTIONS = (
    "submit",
    "start_review",
    "return_for_information",
    "grant",
    "deny",
    "reopen",
    "note_shared",
)


@dataclass
class QueueFilters:
    q: str | None = None
    stage: str | None = None
    kind: str | None = None
    assignee: str | None = None  #: "me", "none", or a user id
    organization: str | None = None  #: organization id
    sort: str = "oldest"


def search_condition(q: str):
    """Case number, register number, or any part of the petitioner's name, ignoring case.

    A whole case number or register number is looked up exactly (an index seek): no
    name contains one, so searching names for it too would only cost a scan.
    """
    q = q.strip()
    if CASE_NUMBER.match(q.upper()):
        return Petition.case_number == q.upper()
    if REGISTER_NUMBER.match(q):
        return Petition.register_number == q
    return func.lower(Petition.petitioner_name).contains(q.lower(), autoescape=True)


def visible_petitions(user: User) -> Select:
    """Every petition the user may see: all for staff, their organization's for advocates."""
    statement = select(Petition)
    if not permissions.can_view_all_petitions(user):
        statement = statement.where(Petition.organization_id == user.organization_id)
    return statement


def queue_query(user: User, filters: QueueFilters) -> Select:
    statement = visible_petitions(user).options(
        joinedload(Petition.organization), joinedload(Petition.assignee)
    )
    if filters.q:
        statement = statement.where(search_condition(filters.q))
    if filters.stage in {s.value for s in Stage}:
        statement = statement.where(Petition.stage == filters.stage)
    if filters.kind:
        statement = statement.where(Petition.kind == filters.kind)
    if not permissions.can_view_assignee(user):
        filters = replace(filters, assignee=None)  # who works a case is staff-only
    if filters.assignee == "me":
        statement = statement.where(Petition.assignee_id == user.id)
    elif filters.assignee == "none":
        statement = statement.where(Petition.assignee_id.is_(None))
    elif filters.assignee and parse_id(filters.assignee):
        statement = statement.where(Petition.assignee_id == parse_id(filters.assignee))
    organization_id = parse_id(filters.organization) if filters.organization else None
    if organization_id and permissions.can_view_all_petitions(user):
        statement = statement.where(Petition.organization_id == organization_id)
    if filters.sort == "newest":
        return statement.order_by(Petition.created_at.desc(), Petition.id.desc())
    return statement.order_by(Petition.created_at, Petition.id)


#: Counting stops here: "more than 10,000 cases" is as useful as the exact figure, and an
#: exact count of half a million rows costs a scan on every page view.
COUNT_CAP = 10_000


@dataclass
class QueuePage:
    """One page of the queue, with a count that stops at COUNT_CAP."""

    items: list[Petition]
    page: int
    per_page: int
    total: int
    total_is_capped: bool
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def pages(self) -> int | None:
        """How many pages, when the total is exact."""
        if self.total_is_capped:
            return None
        return max(1, -(-self.total // self.per_page))


def queue_page(statement: Select, page: int, per_page: int) -> QueuePage:
    """Fetch one page (one row more, to know if there is a next) and a bounded count."""
    rows = list(db.session.scalars(statement.offset((page - 1) * per_page).limit(per_page + 1)))
    counted = statement.options(lazyload("*")).order_by(None).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(counted))
    return QueuePage(
        items=rows[:per_page], page=page, per_page=per_page, total=min(total, COUNT_CAP),
        total_is_capped=total > COUNT_CAP, has_next=len(rows) > per_page,
    )  # fmt: skip


def timeline(petition: Petition, user: User) -> list[AuditEntry]:
    """The case's history as the user may see it, oldest first."""
    statement = (
        _case_history(petition, user)
        .options(joinedload(AuditEntry.actor), joinedload(AuditEntry.subject_user))
        .order_by(AuditEntry.id)
    )
    return list(db.session.scalars(statement))


def _case_history(petition: Petition, user: User) -> Select:
    """The case's entries the user may see: everything for staff; for an advocate, only
    the actions in ADVOCATE_VISIBLE_ACTIONS (no edits by staff, no assignments, no internal
    notes). Every page or API answer that lists a case's history starts here."""
    statement = select(AuditEntry).where(
        AuditEntry.petition_id == petition.id, AuditEntry.category == CASE_CATEGORY
    )
    if not permissions.can_view_internal_history(user):
        statement = statement.where(AuditEntry.action.in_(ADVOCATE_VISIBLE_ACTIONS))
    return statement


def changes_since(petition: Petition, seen_version: int, user: User) -> list[AuditEntry]:
    """Who changed what after the version the user saw, as the user may see it (the same
    rule as the case's timeline: an advocate sees stage changes and shared notes only)."""
    statement = (
        _case_history(petition, user)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.id.desc())
        .limit(200)
    )
    entries = db.session.scalars(statement)
    return [
        entry for entry in reversed(list(entries))
        if ((entry.details or {}).get("version") or 0) > seen_version
    ]  # fmt: skip


#: What ``replay`` reads of an entry (notes' text stays unread).
REPLAYED_COLUMNS = (AuditEntry.action, AuditEntry.to_stage, AuditEntry.changes, AuditEntry.details)


def field_values_at(petition: Petition, version: int) -> dict | None:
    """The petition's editable fields as they were at ``version`` (JSON values: dates as
    ISO strings), rebuilt from its audit history; None when the history has no such version.

    This is the base of the conflict page's three-way merge. The history is append-only and
    hash-chained, and ``tracker.audit.replay`` is proven to rebuild every case from it, so
    the base needs nothing from the browser but the version number the edit form carries.
    """
    if not 1 <= version <= petition.version:
        return None
    entries = db.session.scalars(
        select(AuditEntry)
        .options(load_only(*REPLAYED_COLUMNS))
        .where(
            AuditEntry.petition_id == petition.id,
            AuditEntry.category == CASE_CATEGORY,
            AuditEntry.action.not_in(("note_internal", "note_shared")),  # no field changes
        )
        .order_by(AuditEntry.id)
    )
    upto, found = [], False
    for entry in entries:
        entry_version = (entry.details or {}).get("version")
        if entry_version is not None and entry_version > version:
            break
        found = found or entry_version == version
        upto.append(entry)
    if not found:
        return None
    state = replay(upto)
    return {name: state[name] for name in EDITABLE_FIELDS}


def assignable_staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_([Role.REVIEWER.value, Role.SUPERVISOR.value]), User.active)
            .order_by(User.name)
        )
    )


def open_cases_assigned_to(user: User) -> list[Petition]:
    """The undecided cases the user works on, oldest first."""
    undecided = [stage.value for stage in Stage if not stage.is_decided]
    return list(
        db.session.scalars(
            select(Petition)
            .where(Petition.assignee_id == user.id, Petition.stage.in_(undecided))
            .order_by(Petition.created_at, Petition.id)
        )
    )


def staff_for_assignee_filter() -> list[User]:
    """Everyone who may hold cases, deactivated people too (their old cases stay findable),
    active ones first."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_([Role.REVIEWER.value, Role.SUPERVISOR.value]))
            .order_by(User.active.desc(), User.name)
        )
    )
