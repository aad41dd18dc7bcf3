"""Petitioners: one person across petitions.

A petitioner is identified by the federal register number, or — without one — by the name
(case and spacing ignored) and the date of birth. That identity is a computed column of the
petition, ``petitioner_key``, written by every write of a petition's fields and indexed with
the stage. A separate ``petitioner`` table was not chosen: the identity is derived from fields
the advocate may still correct (a register number added later moves the petition to another
petitioner, with no rows to merge), the set-based import writes petitions with one INSERT and
would need a second, racing one for people, and nothing is recorded about a petitioner apart
from their petitions. The price: a petition filed without a register number and a later one
with it are two petitioners until the first is corrected.
"""

import functools
from dataclasses import dataclass

from sqlalchemy import Row, Select, bindparam, select

from tracker import permissions
from tracker.auth.models import User
from tracker.extensions import db
from tracker.petitions import queries
from tracker.petitions.models import Petition, petitioner_key  # noqa: F401  (re-exported)
from tracker.workflow import Stage

#: Stages of an open (undecided) petition: a second one for the same petitioner is refused.
OPEN_STAGES = tuple(stage.value for stage in Stage if not stage.is_decided)


@dataclass(frozen=True)
class OpenDuplicate:
    """An open petition already filed for the same petitioner."""

    case_number: str
    organization_id: int


def open_petitions_of(keys, *, excluding_id: int | None = None) -> dict[str, OpenDuplicate]:
    """{petitioner key: an open petition of that petitioner} (one query, on the index)."""
    keys = set(keys)
    if not keys:
        return {}
    statement = (
        select(Petition.petitioner_key, Petition.case_number, Petition.organization_id)
        .where(Petition.petitioner_key.in_(keys), Petition.stage.in_(OPEN_STAGES))
        .order_by(Petition.id)
    )
    if excluding_id is not None:
        statement = statement.where(Petition.id != excluding_id)
    found: dict[str, OpenDuplicate] = {}
    for key, case_number, organization_id in db.session.execute(statement):
        found.setdefault(key, OpenDuplicate(case_number, organization_id))
    return found


def duplicate_message(duplicate: OpenDuplicate, submitter: User) -> str:
    """The refusal of a second open petition, the same on every interface.

    Staff and the open case's own organization are told its case number; an advocate of
    another organization only that one is open (the case is not theirs to see).
    """
    if permissions.can_view_petition(submitter, duplicate):
        return f"This petitioner already has an open petition: {duplicate.case_number}."
    return "This petitioner already has an open petition, filed by another organization."


def duplicate_field(values: dict) -> str:
    """The field a duplicate refusal is shown under: what identified the petitioner."""
    return "register_number" if values.get("register_number") else "petitioner_name"


#: What a related petition is shown by (the case page's list, the API's) and what the
#: eligibility rules judge it by: a few of its sixty columns.
RELATED_COLUMNS = (
    Petition.id,
    Petition.case_number,
    Petition.kind,
    Petition.stage,
    Petition.petitioner_key,
    Petition.created_at,
    Petition.decided_at,
)


def related_petitions(petition: Petition, viewer: User) -> list[Row]:
    """The petitioner's other petitions the viewer may see, oldest first (an advocate sees
    only their organization's), as rows of RELATED_COLUMNS: read as ORM objects, each of a
    case page's handful cost more than its query (fifty deferred columns set up apiece)."""
    everyone = permissions.can_view_all_petitions(viewer)
    parameters = {"petitioner_key": petition.petitioner_key, "petition_id": petition.id}
    if not everyone:
        parameters["organization_id"] = viewer.organization_id
    return db.session.connection().execute(_related_statement(everyone), parameters).all()


@functools.lru_cache(maxsize=2)
def _related_statement(everyone: bool) -> Select:
    """``related_petitions``' statement, for a viewer of every case or of one organization's,
    built once per process (the case page reads it on every view)."""
    statement = (
        select(*RELATED_COLUMNS)
        .where(
            Petition.petitioner_key == bindparam("petitioner_key"),
            Petition.id != bindparam("petition_id"),
        )
        .order_by(Petition.created_at, Petition.id)
    )
    if not everyone:
        # Kept out of SQLite's index choice: with (organization_id, created_at, id) in queue
        # order it read the whole organization's cases for the few of one petitioner (2.7 s
        # an advocate's case page at a million cases) instead of the petitioner_key index.
        organization_id = queries.kept_out_of_indexes(Petition.organization_id)
        statement = statement.where(organization_id == bindparam("organization_id"))
    return statement
