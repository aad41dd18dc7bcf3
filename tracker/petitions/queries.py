"""Read-side queries for petitions: the queue, timelines, conflicts. No writes here."""

import base64
import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    Select,
    Text,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, defaultload, joinedload, load_only, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from tracker import clock, permissions
from tracker.acts.models import holds_grant_of_act
from tracker.audit.models import CASE_CATEGORY, AuditEntry
from tracker.audit.replay import replay
from tracker.auth.models import Organization, User
from tracker.database import persistent_from_row
from tracker.deadlines.models import InformationRequest, Referral
from tracker.documents.models import Document
from tracker.extensions import db
from tracker.forms import parse_id
from tracker.kept import Kept
from tracker.petitions import search
from tracker.petitions.filters import CHOICE_FACT_FILTERS, DATE_FILTERS, QueueFilters
from tracker.petitions.models import (
    EDITABLE_FIELDS,
    Note,
    Petition,
    Recommendation,
    information_provided,
    referral_overdue,
)
from tracker.workflow import Role, Stage

#: What an advocate sees of their own case's history: the stage moves, shared notes, and
#: every change to the petition's fields, staff corrections included (issue 12), named as
#: on the stage moves. Never: internal notes, assignments, referrals, reminders.
ADVOCATE_VISIBLE_ACTIONS = (
    "submit",
    "start_review",
    "return_for_information",
    "provide_information",
    "grant",
    "deny",
    "reopen",
    "withdraw",
    "close",
    "note_shared",
    "edit",
)


def search_condition(q: str):
    """The petitions a search matches (``tracker.petitions.search``): an exact case or
    register number (with or without its dash), or every word of the query in the name,
    aliases, case, register or docket number, in any order, accents and case ignored."""
    return search.condition(search.parse(q))


def visible_petitions(user: User) -> Select:
    """Every petition the user may see: all for staff, their organization's for advocates."""
    statement = select(Petition)
    if not permissions.can_view_all_petitions(user):
        statement = statement.where(Petition.organization_id == user.organization_id)
    return statement


#: The queue's orders: both end on the id, so equal time stamps still page consistently.
ORDERS = {
    "oldest": (Petition.created_at, Petition.id),
    "newest": (Petition.created_at.desc(), Petition.id.desc()),
    # Longest first (issue 12): the earliest receipt, or entry into the stage. A decided
    # case's days_pending stop at its decision; it sorts by its receipt all the same.
    "days_pending": (Petition.received_at, Petition.id),
    "days_in_stage": (Petition.stage_entered_at, Petition.id),
}


def referral_overdue_condition():
    """The case has an open referral whose due date has passed (in the display time zone).

    Read from the case's own ``referral_due_on`` (its earliest open referral's due date, kept
    by every referral write): the partial indexes over the cases that have one, in each queue
    order, answer it with the stage and the assignee, and the page stops at its 25th case.
    Searching the referral table for the overdue ones and reading each of their cases by id
    cost 160–320 ms a page at a million cases, following the number of overdue referrals.
    """
    return Petition.referral_due_on < clock.today()


def queue_query(user: User, filters: QueueFilters, *, load_flags: bool = True) -> Select:
    """The cases the user may see that match the (already valid) filters, in their order.

    ``load_flags``: load each case's organization and assignee with it, and what the
    information flags are computed from (the information requests, one query per page).
    False: no loader options, for a caller that reads columns of its own (the web queue's
    ``queue_page``, the API's list): options it would drop still cost their share of building
    the statement and its cache key.
    """
    statement = visible_petitions(user)
    if load_flags:
        # The information flags (requested, provided): one query per page, whatever its
        # length. The overdue-referral flag reads the case's own referral_due_on.
        statement = statement.options(
            joinedload(Petition.organization),
            joinedload(Petition.assignee),
            selectinload(Petition.information_requests),
        )
    return statement.where(*filter_conditions(user, filters)).order_by(*ORDERS[filters.sort])


def filter_conditions(user: User, filters: QueueFilters) -> list:
    conditions = []
    overdue_referrals = filters.referral_overdue and permissions.can_view_referrals(user)
    # The few cases with an open referral (their partial indexes) drive the query when asked
    # for: SQLite, which has no statistics, is kept from the other filters' indexes (a count
    # through the stage index probed every open case: 0.4 s over a million).
    # So does a search that names few cases (a number, a ranked search): without it SQLite
    # read the whole stage through its index in queue order looking for them (2 s a page).
    parsed = search.parse(filters.q) if filters.q else None
    narrow = parsed is not None and parsed.narrow
    column = kept_out_of_indexes if overdue_referrals or narrow else _as_is
    if parsed is not None:
        conditions.append(search.condition(parsed))
    if filters.stages and len(filters.stage_set) < len(Stage):
        conditions.append(_stage_condition(filters.stage_set, column))
    if filters.kind:
        conditions.append(column(Petition.kind) == filters.kind)
    if permissions.can_view_assignee(user):  # who works a case is staff-only
        conditions += _assignee_conditions(user, filters, column)
    if filters.organization is not None and permissions.can_view_all_petitions(user):
        conditions.append(column(Petition.organization_id) == filters.organization)
    if filters.older_than_days is not None:  # received more than N calendar days ago
        cutoff = clock.start_of(clock.today() - timedelta(days=filters.older_than_days))
        conditions.append(Petition.received_at < cutoff)
    if overdue_referrals:
        conditions.append(referral_overdue_condition())
    return conditions + _fact_conditions(filters)


def _fact_conditions(filters: QueueFilters) -> list:
    """The petition's facts (issue 14): custody, offense category, non-violent, date ranges."""
    conditions = [
        getattr(Petition, name) == getattr(filters, name)
        for name in CHOICE_FACT_FILTERS
        if getattr(filters, name) is not None
    ]
    if filters.nonviolent is not None:
        conditions.append(Petition.nonviolent.is_(filters.nonviolent))
    for name in DATE_FILTERS:
        value = getattr(filters, name)
        if value is None:
            continue
        column = getattr(Petition, name.rsplit("_", 1)[0])
        conditions.append(column >= value if name.endswith("_from") else column <= value)
    return conditions


def _as_is(column):
    return column


def kept_out_of_indexes(column):
    return _scanned_in_queue_order(column, always=True)


def _stage_condition(stages: frozenset[Stage], column=_as_is):
    if len(stages) == 1:
        return column(Petition.stage) == next(iter(stages)).value
    stage_column = column(Petition.stage)
    if stage_column is Petition.stage:
        stage_column = _scanned_in_queue_order(Petition.stage)
    return stage_column.in_(sorted(stage.value for stage in stages))


class _scanned_in_queue_order(ColumnElement):
    """A column the database should filter on while reading an index in queue order.

    Several stages match a large share of the cases (``pending`` is every open one). Their
    index (stage, created_at, id) gives each stage in order but not their union, so SQLite,
    which has no statistics by default, reads every match through it and sorts them all (half
    a second over a million cases). SQLite's unary ``+`` keeps that index out, and it reads
    (created_at, id), or the assignee's or organization's index, in order and stops at the
    page. PostgreSQL plans from its statistics and gets the plain column.
    """

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("always", InternalTraversal.dp_boolean),
    ]

    def __init__(self, column, always: bool = False):
        self.column = column
        self.type = column.type
        #: Kept out of SQLite's indexes in the count too (see filter_conditions).
        self.always = always


@compiles(_scanned_in_queue_order)
def _compile_plain(element, compiler, **kw):
    return compiler.process(element.column, **kw)


@compiles(_scanned_in_queue_order, "sqlite")
def _compile_sqlite(element, compiler, **kw):
    # Only a query that orders needs the index kept out; the page's count (its statement
    # without ORDER BY) reads the (assignee or organization, stage, …) index alone instead.
    selectable = compiler.stack[-1]["selectable"] if compiler.stack else None
    ordered = selectable is None or getattr(selectable, "_order_by_clauses", ())
    if not (ordered or element.always):
        return compiler.process(element.column, **kw)
    return "+" + compiler.process(element.column, **kw)


def _assignee_conditions(user: User, filters: QueueFilters, column=_as_is) -> list:
    assignee_id = column(Petition.assignee_id)
    if filters.assignee == "me":
        return [assignee_id == user.id]
    if filters.assignee == "none":
        return [assignee_id.is_(None)]
    if filters.assignee is not None:
        return [assignee_id == filters.assignee]
    return []


#: Counting stops here: "more than 1,000 cases" is as useful as the exact figure for a queue,
#: and counting stops after reading that many index entries (a fraction of a millisecond),
#: where an exact count of half a million rows costs a scan on every page view. A first page
#: that is not full needs no count at all: its rows are the total.
COUNT_CAP = 1_000

#: Each order's keyset: the time column and whether it runs oldest first (the id follows it
#: in the same direction, see ORDERS).
SORT_KEYS = {
    "oldest": ("created_at", True),
    "newest": ("created_at", False),
    "days_pending": ("received_at", True),
    "days_in_stage": ("stage_entered_at", True),
}


@dataclass(frozen=True)
class QueuePosition:
    """Where a page of the queue starts: right after a case (the next page) or right before
    one (the previous page), each given by the case's (time, id) in the order's keyset. Neither:
    the first page. Keyset pages cost the same at any depth, where OFFSET read every row it
    skipped, and a case decided meanwhile does not shift the pages after it."""

    after: tuple[datetime, int] | None = None
    before: tuple[datetime, int] | None = None
    #: A ranked search's page: the rank of the case the position names (ranks come first).
    rank: int | None = None

    @property
    def is_first(self) -> bool:
        return self.after is None and self.before is None


class BadPosition(ValueError):
    """A page link this site did not write."""


def encode_position(petition: Petition, sort: str, rank: int | None = None) -> str:
    """An opaque token for the petition's place in the ``sort`` order (for page links), and
    in a ranked search its rank."""
    moment = getattr(petition, SORT_KEYS[sort][0]).astimezone(UTC)
    text = f"{moment.isoformat()}|{petition.id}" + ("" if rank is None else f"|{rank}")
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_position(token: str) -> tuple[datetime, int]:
    """The (time, id) an ``encode_position`` token names; BadPosition for anything else."""
    return _decode_ranked(token)[:2]


def _decode_ranked(token: str) -> tuple[datetime, int, int | None]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, _, rest = text.partition("|")
        petition_id, _, rank = rest.partition("|")
        when = datetime.fromisoformat(moment)
        number = parse_id(petition_id) if petition_id.isascii() else None
        if when.tzinfo is None or number is None or (rank and rank not in "0123"):
            raise ValueError(text)
        return when, number, int(rank) if rank else None
    except (ValueError, UnicodeError):
        raise BadPosition("This page link is not one this site gave.") from None


def parse_position(raw) -> QueuePosition:
    """The page asked for in a query string or form: ``after`` or ``before`` a position."""
    after, before = raw.get("after"), raw.get("before")
    if after and before:
        raise BadPosition("A page link names one position, not two.")
    if after:
        when, number, rank = _decode_ranked(after)
        return QueuePosition(after=(when, number), rank=rank)
    if before:
        when, number, rank = _decode_ranked(before)
        return QueuePosition(before=(when, number), rank=rank)
    return QueuePosition()


class QueueRow:
    """One case as the queue lists it: plain values of the page's one query, not a Petition.

    The page reads the dozen columns it shows (not the case's sixty, its organization's and
    its assignee's rows), and its ages and badges are decided here once per row, with today's
    date and the display time zone read once per page: building ORM objects and asking their
    properties per row was most of a queue view's loading cost. The ages and badges follow
    the Petition properties' own rules (``clock.calendar_days``, ``information_provided``,
    ``referral_overdue``; the answer's overdue as open_information_request's)."""

    __slots__ = (
        "id",
        "case_number",
        "petitioner_name",
        "register_number",
        "kind",
        "stage",
        "organization_name",
        "assignee_name",
        "created_at",
        "received_at",
        "stage_entered_at",
        #: The day it was received (``created_at``) in the display time zone.
        "created_on",
        "days_pending",
        "days_in_stage",
        "information_provided",
        "answer_overdue",
        "referral_overdue",
    )

    def __init__(self, values, today, zone):
        (
            self.id,
            self.case_number,
            self.petitioner_name,
            self.register_number,
            self.kind,
            stage,
            self.organization_name,
            self.assignee_name,
            self.created_at,
            self.received_at,
            self.stage_entered_at,
            decided_at,
            referral_due_on,
            answered_at,
            due_on,
        ) = values[:15]
        self.stage = stage = Stage(stage)
        self.created_on = self.created_at.astimezone(zone).date()
        self.days_pending = clock.calendar_days(self.received_at, decided_at, zone, today)
        self.days_in_stage = clock.calendar_days(self.stage_entered_at, None, zone, today)
        self.information_provided = information_provided(stage, answered_at, self.stage_entered_at)
        self.answer_overdue = (
            stage == Stage.INFORMATION_REQUESTED
            and answered_at is None
            and due_on is not None
            and due_on < today
        )
        self.referral_overdue = referral_overdue(referral_due_on, today)


def _latest_request(column) -> ColumnElement:
    return (
        select(column)
        .where(InformationRequest.petition_id == Petition.id)
        .order_by(InformationRequest.id.desc())
        .limit(1)
        .scalar_subquery()
    )


#: What a QueueRow is read from, in its order. The latest information request's answer time
#: and due date are two correlated subqueries on the request's indexed foreign key per row of
#: a page; the overdue referral is the case's own referral_due_on.
ROW_COLUMNS = (
    Petition.id,
    Petition.case_number,
    Petition.petitioner_name,
    Petition.register_number,
    Petition.kind,
    Petition.stage,
    Organization.name,
    User.name,
    Petition.created_at,
    Petition.received_at,
    Petition.stage_entered_at,
    Petition.decided_at,
    Petition.referral_due_on,
    _latest_request(InformationRequest.answered_at),
    _latest_request(InformationRequest.due_on),
)


@functools.cache
def _rows_statement() -> Select:
    """A QueueRow's columns, from the petition and its organization and assignee. Built once
    per process: replacing a queue statement's columns and adding the joins on every view
    (coercing each column again) cost more than its filters."""
    return _with_row_joins(select(*ROW_COLUMNS).select_from(Petition))


def _criteria(statement: Select) -> tuple:
    """A queue statement's filters (its WHERE clause, none when it has none)."""
    where = statement.whereclause
    return () if where is None else (where,)


def _rows_of(statement: Select) -> Select:
    """The queue statement reading a QueueRow's columns (its filters and order kept)."""
    return _with_row_joins(statement.with_only_columns(*ROW_COLUMNS))


def _with_row_joins(statement: Select) -> Select:
    """The joins ROW_COLUMNS read from: the case's organization and assignee."""
    return statement.outerjoin(Organization, Organization.id == Petition.organization_id).outerjoin(
        User, User.id == Petition.assignee_id
    )


@dataclass
class QueuePage:
    """One page of the queue, its neighbours' positions, and a count that stops at COUNT_CAP."""

    items: list[QueueRow]
    sort: str
    total: int
    total_is_capped: bool
    has_prev: bool
    has_next: bool
    is_first: bool
    #: A ranked search's page: each case's rank (``tracker.petitions.search.rank``).
    ranks: list[int] | None = None
    #: A search matched too many cases to rank: the page is in the queue's order.
    unranked_search: bool = False
    #: The value of ``queue_page``'s ``alongside`` (None when the page has no rows).
    alongside: object = None

    @property
    def next_position(self) -> str | None:
        if not self.has_next:
            return None
        return encode_position(self.items[-1], self.sort, self.ranks[-1] if self.ranks else None)

    @property
    def prev_position(self) -> str | None:
        if not self.has_prev:
            return None
        return encode_position(self.items[0], self.sort, self.ranks[0] if self.ranks else None)


def bounded_count(statement: Select) -> Select:
    """How many cases the queue's statement matches, up to COUNT_CAP + 1.

    Only the id is selected, and in no order, so that an index that answers the filters
    answers the count without reading the cases' rows (SQLite read every matching row when
    the subquery selected all their columns).
    """
    counted = select(Petition.id).where(*_criteria(statement)).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(counted)


def _ranked_keyset(statement: Select, sort: str, position: QueuePosition, rank) -> tuple:
    """A ranked search's page: rank first, then the queue's order within a rank. Ranked
    searches match at most ``search.RANKED_MAX`` cases, so the database sorts a few."""
    column_name, ascending = SORT_KEYS[sort]
    key = tuple_(getattr(Petition, column_name), Petition.id)
    column = getattr(Petition, column_name)
    forwards = (rank, *ORDERS[sort])
    statement = statement.order_by(None)
    place = position.after or position.before
    if place is None:
        return statement.order_by(*forwards), False
    if position.rank is None:
        raise BadPosition("This page link is from a list that was not ranked.")
    later = key > place if ascending else key < place
    earlier = key < place if ascending else key > place
    if position.after is not None:
        condition = (rank > position.rank) | ((rank == position.rank) & later)
        return statement.where(condition).order_by(*forwards), False
    condition = (rank < position.rank) | ((rank == position.rank) & earlier)
    reverse = (column.desc(), Petition.id.desc()) if ascending else (column, Petition.id)
    return statement.where(condition).order_by(rank.desc(), *reverse), True


def _keyset(sort: str, position: QueuePosition) -> tuple[tuple, tuple, bool]:
    """The conditions and order that read from the position on, and True when they read
    backwards (a previous page)."""
    column_name, ascending = SORT_KEYS[sort]
    if position.is_first:
        return (), ORDERS[sort], False
    key = tuple_(getattr(Petition, column_name), Petition.id)
    if position.after is not None:
        return (key > position.after if ascending else key < position.after,), ORDERS[sort], False
    column = getattr(Petition, column_name)
    reverse = (column.desc(), Petition.id.desc()) if ascending else (column, Petition.id)
    return (key < position.before if ascending else key > position.before,), reverse, True


def queue_page(
    statement: Select,
    per_page: int,
    sort: str,
    position: QueuePosition,
    q: str | None = None,
    *,
    alongside: ColumnElement | None = None,
) -> QueuePage:
    """Fetch one page (one row more, to know if there is a further one) as QueueRows, with a
    bounded count. ``statement`` is a ``queue_query``: its filters (its WHERE clause) are
    kept, in the ``sort`` order, with the rows' own columns. With the search ``q`` (already
    among the statement's conditions), a search that matches few enough cases is ranked
    (``tracker.petitions.search``).

    ``alongside``: a scalar subquery that does not depend on the rows (the filters' people),
    read as a column of the same statement, one statement rather than two; its value is the
    page's ``alongside``, None when the page has no rows (the caller reads it apart)."""
    parsed = search.parse(q) if q else None
    rank = search.rank(parsed) if parsed is not None and parsed.ranked else None
    paged, backwards = _page_statement(statement, per_page, sort, position, parsed, rank)
    if alongside is not None:
        paged = paged.add_columns(alongside)
    return _read_page(
        paged,
        statement,
        per_page,
        sort,
        position,
        parsed,
        ranked=rank is not None,
        backwards=backwards,
        alongside=alongside is not None,
        kept=False,
    )


def _page_statement(statement, per_page, sort, position, parsed, rank) -> tuple[Select, bool]:
    if rank is not None:
        paged, backwards = _ranked_keyset(statement, sort, position, rank)
        paged = _rows_of(paged).add_columns(rank)
    else:
        keyset, order, backwards = _keyset(sort, position)
        paged = _rows_statement().where(*_criteria(statement), *keyset).order_by(*order)
    # Without a search, the count is a column of the page's own statement (a subquery that
    # does not depend on the row, run once): one statement a view rather than two. A
    # search's count can cost what its page does, so it stays apart, and is not run at all
    # for a first page that is not full (its rows are the total).
    if parsed is None:
        paged = paged.add_columns(bounded_count(statement).scalar_subquery())
    return paged.limit(per_page + 1), backwards


def _read_page(
    paged, statement, per_page, sort, position, parsed, *, ranked, backwards, alongside, kept
) -> QueuePage:
    # A statement built anew on each view is read through the session: Core matched its
    # result columns against the cached compiled form's (measured slower). A kept one is the
    # compiled form's own, and Core reads it faster.
    if kept:
        found = db.session.connection().execute(paged).all()
    else:
        found = db.session.execute(paged).all()
    further = len(found) > per_page
    found = found[:per_page]
    if backwards:
        found.reverse()
    today, zone = clock.today(), clock.display_zone()
    rows = [QueueRow(values, today, zone) for values in found]
    # After a row's own columns (and a ranked search's rank): the count, then alongside.
    ranks = [values[len(ROW_COLUMNS)] for values in found] if ranked else None
    if parsed is None and found:
        total = found[0][len(ROW_COLUMNS)]
    elif position.is_first and not further:
        total = len(rows)
    else:
        total = db.session.scalar(bounded_count(statement))
    return QueuePage(
        items=rows,
        sort=sort,
        total=min(total, COUNT_CAP),
        total_is_capped=total > COUNT_CAP,
        # Coming back from a later page, there is one; going back, the extra row says so.
        has_prev=bool(rows) and (further if backwards else position.after is not None),
        has_next=bool(rows) and (position.before is not None if backwards else further),
        is_first=position.is_first,
        ranks=ranks,
        unranked_search=parsed is not None and parsed.common,
        alongside=found[0][-1] if alongside and found else None,
    )


#: First pages' statements kept by ``web_queue_page``: (the page's, the queue's).
_first_pages = Kept()


def web_queue_page(
    user: User, filters: QueueFilters, per_page: int, position: QueuePosition
) -> QueuePage:
    """The web queue's page, the filters' people read with its rows (``alongside``).

    The first page of a staff member's unsearched queue is most views, and building its
    statement (and SQLAlchemy's cache key of it) cost a quarter of reading it: it is kept per
    process, keyed by the filters, the viewer's permissions and the day (the overdue and age
    filters' dates). Only what any staff member with those permissions would be shown: no
    search, no position in the list, no "assigned to me", no organization of the viewer's;
    the statement holds the filters' values, never a row.
    """
    staff, organizations = offered_people(user)
    alongside = filter_people_column(staff, organizations)
    kept = position.is_first and filters.q is None and organizations and filters.assignee != "me"
    if not kept:
        return queue_page(
            queue_query(user, filters, load_flags=False),
            per_page,
            filters.sort,
            position,
            filters.q,
            alongside=alongside,
        )
    key = (
        filters,
        staff,
        permissions.can_view_referrals(user),
        per_page,
        COUNT_CAP,
        db.session.get_bind().dialect.name,
        clock.today(),
    )

    def build() -> tuple[Select, Select]:
        statement = queue_query(user, filters, load_flags=False)
        paged, _ = _page_statement(statement, per_page, filters.sort, position, None, None)
        if alongside is not None:
            paged = paged.add_columns(alongside)
        return paged, statement

    paged, statement = _first_pages.get(key, build)
    return _read_page(
        paged,
        statement,
        per_page,
        filters.sort,
        position,
        None,
        ranked=False,
        backwards=False,
        alongside=alongside is not None,
        kept=True,
    )


@dataclass(frozen=True)
class OfficeStaff:
    """Who made a field change, as an advocate is told: the office, not the person."""

    name: str = "Office staff"
    email: str = "staff"


class AsAdvocateSees:
    """An audit entry read through the advocate rule: a staff member's edit is the office's.
    (A read-only wrapper: the entry itself is append-only and is never touched.)"""

    def __init__(self, entry: AuditEntry):
        self._entry = entry

    def __getattr__(self, name):
        if name == "actor":
            return OfficeStaff()
        return getattr(self._entry, name)


def _as_seen_by(entries, user: User) -> list:
    if permissions.can_view_internal_history(user):
        return list(entries)
    return [
        AsAdvocateSees(entry)
        if entry.action == "edit" and entry.actor is not None and entry.actor.is_staff
        else entry
        for entry in entries
    ]


class HistoryPerson(NamedTuple):
    """Someone in a case's history as its pages show them: the name, the e-mail and the
    role (the advocate rule asks whether they are staff)."""

    name: str
    email: str
    role: str

    @property
    def is_staff(self) -> bool:
        return Role(self.role).is_staff


class HistoryEntry(NamedTuple):
    """An audit entry as a case's history shows it (the case page, its summary, the API's
    history for an advocate): its own columns, and the people in it."""

    id: int
    action: str
    created_at: datetime
    from_stage: str | None
    to_stage: str | None
    reason: str | None
    changes: dict | None
    details: dict | None
    actor: HistoryPerson | None
    subject_user: HistoryPerson | None


_history_actor = aliased(User, name="history_actor")
_history_subject = aliased(User, name="history_subject")
#: What a history shows of an entry and of the people in it (the advocate rule asks the
#: actor's role): their passwords, second factors and the rest stay unread, and the
#: entry's hashes, address and browser too.
TIMELINE_COLUMNS = (
    AuditEntry.id,
    AuditEntry.action,
    AuditEntry.created_at,
    AuditEntry.from_stage,
    AuditEntry.to_stage,
    AuditEntry.reason,
    AuditEntry.changes,
    AuditEntry.details,
    _history_actor.id,
    _history_actor.name,
    _history_actor.email,
    _history_actor.role,
    _history_subject.id,
    _history_subject.name,
    _history_subject.email,
    _history_subject.role,
)


def timeline(petition: Petition, user: User) -> list[HistoryEntry]:
    """The case's history as the user may see it, oldest first.

    Read as rows of TIMELINE_COLUMNS (the people joined in the same statement), not as
    entry and user objects: setting up a handful of objects, with their joined loads, cost
    more than the query."""
    internal = permissions.can_view_internal_history(user)
    rows = db.session.connection().execute(
        _timeline_statement(internal), {"petition_id": petition.id}
    )
    entries = [
        HistoryEntry(
            *row[:8],
            HistoryPerson(*row[9:12]) if row[8] is not None else None,
            HistoryPerson(*row[13:16]) if row[12] is not None else None,
        )
        for row in rows
    ]
    return _as_seen_by(entries, user)


@functools.lru_cache(maxsize=2)
def _timeline_statement(internal: bool) -> Select:
    """``timeline``'s statement, for staff (``internal``) or an advocate, built once per
    process: building it cost as much as running it, on every case page."""
    return (
        _history_statement(bindparam("petition_id"), internal)
        .with_only_columns(*TIMELINE_COLUMNS)
        .select_from(AuditEntry)
        .outerjoin(_history_actor, _history_actor.id == AuditEntry.actor_id)
        .outerjoin(_history_subject, _history_subject.id == AuditEntry.subject_user_id)
        .order_by(AuditEntry.id)
    )


def _case_history(petition: Petition, user: User) -> Select:
    """The case's entries the user may see: everything for staff; for an advocate, only
    the actions in ADVOCATE_VISIBLE_ACTIONS (field changes by anyone, but no assignments,
    internal notes, referrals or reminders). Every page or API answer that lists a case's
    history starts here (or at ``_history_statement``, its rule)."""
    return _history_statement(petition.id, permissions.can_view_internal_history(user))


def _history_statement(petition_id, internal: bool) -> Select:
    statement = select(AuditEntry).where(
        AuditEntry.petition_id == petition_id, AuditEntry.category == CASE_CATEGORY
    )
    if not internal:
        statement = statement.where(AuditEntry.action.in_(ADVOCATE_VISIBLE_ACTIONS))
    return statement


def changes_since(petition: Petition, seen_version: int, user: User) -> list[AuditEntry]:
    """Who changed what after the version the user saw, as the user may see it (the same
    rule as the case's timeline: an advocate sees stage changes, field changes and shared
    notes)."""
    statement = (
        _case_history(petition, user)
        .options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.id.desc())
        .limit(200)
    )
    entries = db.session.scalars(statement)
    since = [
        entry
        for entry in reversed(list(entries))
        if ((entry.details or {}).get("version") or 0) > seen_version
    ]
    return _as_seen_by(since, user)


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


#: The case page's collections, by the Petition relationship that holds them (documents: by
#: their own query), with the table each is read from.
CASE_COLLECTIONS = {
    "notes": Note,
    "information_requests": InformationRequest,
    "referrals": Referral,
    "recommendations": Recommendation,
    "documents": Document,
}
_other_petition = aliased(Petition)
#: The names of ``CASE_PAGE_PRESENCE_COLUMNS``, in order.
CASE_PAGE_PRESENCE = (*CASE_COLLECTIONS, "related", "granted_by_act")


_related = exists().where(
    _other_petition.petitioner_key == Petition.petitioner_key,
    _other_petition.id != Petition.id,
)
#: Columns for the case's own query: whether it has any of each collection the case page
#: shows, and another petition of the same petitioner (each an EXISTS on an index).
#: Most cases have no notes, documents, information requests, referrals or
#: recommendations, and many petitioners one petition: a collection known to be empty is
#: not read (``known_empty``).
CASE_PAGE_PRESENCE_COLUMNS = (
    *(
        exists().where(model.petition_id == Petition.id).label(name)
        for name, model in CASE_COLLECTIONS.items()
    ),
    _related.label("related"),
    # Whether a recorded act holds the case's grant (``tracker.acts.services.granting_act``'s
    # condition): most granted cases were granted alone, and their page then reads no act.
    exists().where(holds_grant_of_act(Petition.id, Petition.decided_at)).label("granted_by_act"),
)


#: What the case page shows of the people its case and collections name: their names
#: (``PERSON_NAME``). The history is read as rows (``timeline``), so it no longer puts
#: them in the session: the case's organization, advocate, assignee and waiver's approver
#: come with the case (``case_page_case``), each collection's people with the collection
#: when it is read (one statement, as before).
PERSON_NAME = (User.id, User.name)
#: ``PERSON_NAME``'s attributes, as the case page's statement reads them of each person.
_PERSON_COLUMNS = tuple(column.key for column in PERSON_NAME)
#: The loads of the case's collections, when the page reads them: each with its people.
CASE_PAGE_LOADS = (
    defaultload(Petition.notes).joinedload(Note.author).load_only(*PERSON_NAME),
    defaultload(Petition.recommendations).joinedload(Recommendation.author).load_only(*PERSON_NAME),
    defaultload(Petition.information_requests)
    .joinedload(InformationRequest.asked_by)
    .load_only(*PERSON_NAME),
)
#: The people a case page names with its case: relationship → its foreign key column.
_CASE_PAGE_PEOPLE = {
    "advocate": Petition.advocate_id,
    "assignee": Petition.assignee_id,
    "waiver_approved_by": Petition.waiver_approved_by_id,
}


@functools.cache
def _case_page_columns() -> tuple[list, tuple[str, ...]]:
    """The case's columns the page reads, all but its search words (``search_text``, folded
    text the page never shows), and their attributes."""
    columns = [column for column in Petition.__table__.c if column.key != "search_text"]
    mapper = Petition.__mapper__
    return columns, tuple(mapper.get_property_by_column(column).key for column in columns)


@functools.cache
def _case_page_statement() -> Select:
    """The case page's one statement: the case's columns (``_case_page_columns``), its
    organization's and people's names, and ``CASE_PAGE_PRESENCE_COLUMNS``. Built once per
    process."""
    petition, organization = Petition.__table__, Organization.__table__
    joined = petition.join(organization, organization.c.id == petition.c.organization_id)
    columns = [*_case_page_columns()[0], *(organization.c[key] for key in _PERSON_COLUMNS)]
    for name, foreign_key in _CASE_PAGE_PEOPLE.items():
        person = User.__table__.alias(name)
        joined = joined.outerjoin(person, person.c.id == foreign_key)
        columns += [person.c[key] for key in _PERSON_COLUMNS]
    return (
        select(*columns, *CASE_PAGE_PRESENCE_COLUMNS)
        .select_from(joined)
        .where(petition.c.case_number == bindparam("case_number"))
    )


def case_page_case(case_number: str) -> tuple[Petition, dict] | None:
    """The case of this number as the case page shows it, or None if there is none: the
    Petition (its search words unread), holding its organization, advocate, assignee and
    waiver's approver (their names read, the rest on first use), and which collections it has
    (``CASE_PAGE_PRESENCE``; the page sets those it lacks empty, ``known_empty``).

    One Core statement, its objects made from the row (``persistent_from_row``): the ORM's
    loading of the case and its four joined loads was a tenth of a case page's time on
    SQLite, more than the statement. The collections it has load on first use, with their
    people (``CASE_PAGE_LOADS``), as after the ORM's query."""
    session = db.session()
    row = session.connection().execute(_case_page_statement(), {"case_number": case_number})
    row = row.one_or_none()
    if row is None:
        return None
    case_columns, case_keys = _case_page_columns()
    values, rest = row[: len(case_columns)], row[len(case_columns) :]
    # After the case's columns: the organization's and each person's, then the presence.
    width = len(_PERSON_COLUMNS)
    named_end = width * (1 + len(_CASE_PAGE_PEOPLE))
    named = [rest[start : start + width] for start in range(0, named_end, width)]
    organization = persistent_from_row(session, Organization, named[0], columns=_PERSON_COLUMNS)
    people = {
        name: persistent_from_row(session, User, person, columns=_PERSON_COLUMNS)
        for name, person in zip(_CASE_PAGE_PEOPLE, named[1:], strict=True)
    }
    petition = persistent_from_row(
        session,
        Petition,
        values,
        columns=case_keys,
        options=CASE_PAGE_LOADS,
        organization=organization,
        **people,
    )
    presence = dict(zip(CASE_PAGE_PRESENCE, rest[named_end:], strict=True))
    return petition, presence


def known_empty(petition: Petition, presence: dict) -> None:
    """Set the petition's collections that ``presence`` says are empty, so that reading
    them sends no query (those present load when read, as usual)."""
    for name in CASE_COLLECTIONS:
        if name != "documents" and not presence[name]:
            set_committed_value(petition, name, [])


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


def offered_people(user: User) -> tuple[bool, bool]:
    """Whether the queue's filters offer the user the staff (the assignee filter) and the
    organizations."""
    return permissions.can_view_assignee(user), permissions.can_view_all_petitions(user)


def _people_order(every) -> tuple:
    """The people's order in the filters: by filter, active people first, then by name."""
    return (every.c.filter, every.c.active.desc(), every.c.name)


def _filter_people_union(staff: bool, organizations: bool):
    parts = []
    if staff:
        parts.append(
            select(
                literal_column("'assignee'").label("filter"), User.id, User.name, User.active
            ).where(User.role.in_([Role.REVIEWER.value, Role.SUPERVISOR.value]))
        )
    if organizations:
        parts.append(
            select(literal_column("'organization'"), Organization.id, Organization.name, true())
        )
    return union_all(*parts).subquery()


@functools.lru_cache(maxsize=4)
def _filter_people_statement(staff: bool, organizations: bool) -> Select:
    """The UNION of the people the filters offer. Built once per process: the statement is
    constant (its rows are read on every view), and building a UNION cost as much as
    running it."""
    every = _filter_people_union(staff, organizations)
    return select(every).order_by(*_people_order(every))


def filter_people(staff: bool, organizations: bool) -> dict[str, list[tuple[str, str]]]:
    """The people the queue's filters offer, as (value, label) choices by filter: under
    ``assignee`` everyone who may hold cases, deactivated people too (their old cases stay
    findable), active ones first; under ``organization`` every organization. One statement
    for both (a UNION of three and two columns), none when neither is offered.

    Read on every queue view, not kept between requests: a process-wide cache would show
    another app server's newly added or renamed reviewer late, and one indexed query of a few
    dozen short rows costs less than a cache that must be proven fresh. The page reads them
    in its own statement (``filter_people_column``); this is for a view that has none."""
    if not (staff or organizations):
        return _no_people(staff, organizations)
    statement = _filter_people_statement(staff, organizations)
    return _people_choices(db.session.connection().execute(statement), staff, organizations)


@functools.lru_cache(maxsize=8)
def _filter_people_column(staff: bool, organizations: bool, dialect: str) -> ColumnElement:
    every = _filter_people_union(staff, organizations)
    if dialect == "postgresql":
        row = func.json_build_array(*every.c)
        people = func.json_agg(aggregate_order_by(row, *_people_order(every)))
    else:
        people = func.json_group_array(func.json_array(*every.c))
    # As text: the driver would decode JSON again on every row of the page.
    return select(cast(people, Text)).scalar_subquery()


def filter_people_column(staff: bool, organizations: bool) -> ColumnElement | None:
    """``filter_people``'s rows as one column (JSON text), for the queue page to read with its
    own statement (``queue_page``'s ``alongside``): one statement a view rather than two.
    None when neither filter is offered. Built once per process and database dialect."""
    if not (staff or organizations):
        return None
    return _filter_people_column(staff, organizations, db.session.get_bind().dialect.name)


def people_from_column(people_json: str, staff: bool, organizations: bool) -> dict:
    """``filter_people``'s answer from ``filter_people_column``'s value."""
    rows = json.loads(people_json)
    if db.session.get_bind().dialect.name != "postgresql":
        # SQLite cannot order an aggregate's rows (before 3.44): its BINARY collation's order
        # of the names is Python's.
        rows.sort(key=lambda row: (row[0], not row[3], row[2]))
    return _people_choices(rows, staff, organizations)


def _no_people(staff: bool, organizations: bool) -> dict[str, list]:
    offered = {"assignee": staff, "organization": organizations}
    return {name: [] for name, shown in offered.items() if shown}


def _people_choices(rows, staff: bool, organizations: bool) -> dict[str, list[tuple[str, str]]]:
    people = _no_people(staff, organizations)
    for name, person_id, label, active in rows:
        people[name].append((str(person_id), label if active else f"{label} (deactivated)"))
    return people
