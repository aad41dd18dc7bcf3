"""The case page's case, read with Core and made from its row (``queries.case_page_case``):
what the ORM's loading of the case with its joined people would give, in one statement."""

import gc

import pytest
import sqlalchemy as sa

from tests.conftest import unique_register_number
from tests.helpers import column_values
from tracker.auth.models import User
from tracker.database import persistent_from_row
from tracker.deadlines import services as deadline_services
from tracker.extensions import db
from tracker.petitions import queries
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.workflow import Stage

PEOPLE = ("advocate", "assignee", "waiver_approved_by")


@pytest.fixture
def case(make_user, make_petition):
    """A case under review, assigned, its waiver requested and approved, with a note."""
    supervisor = make_user("supervisor")
    petition = make_petition(
        Stage.UNDER_REVIEW, waiver_requested=True, waiver_justification="Exceptional."
    )
    petition_services.assign_petition(petition, supervisor, make_user("reviewer"))
    petition_services.approve_waiver(petition, supervisor, "Exceptional.")
    # By someone the case names nowhere else: their name comes with the note.
    petition_services.add_note(petition, make_user("reviewer", name="Noted"), "A note.", "internal")
    db.session.commit()
    return petition


def test_the_case_is_made_as_the_orm_would_load_it(case, count_statements):
    number = case.case_number
    db.session.expunge_all()
    petition, presence = queries.case_page_case(number)
    gc.collect()  # the session holds its clean instances weakly: what nothing holds is gone
    assert sa.inspect(petition).persistent and petition in db.session
    assert not db.session.dirty and not db.session.new
    with count_statements() as statements:
        made = column_values(petition, but=("search_text",))
        names = {name: getattr(petition, name).name for name in PEOPLE}
        organization = petition.organization.name
        db.session.flush()
    assert statements == []
    with count_statements() as statements:  # its search words were not read
        search_text = petition.search_text
    assert len(statements) == 1
    db.session.expunge_all()
    loaded = db.session.get(Petition, made["id"])
    assert made == column_values(loaded, but=("search_text",))
    assert search_text == loaded.search_text and search_text
    assert names == {name: getattr(loaded, name).name for name in PEOPLE}
    assert len(set(names.values())) == 3 and loaded.waiver_approved_by is not None
    assert organization == loaded.organization.name
    assert presence == dict.fromkeys(queries.CASE_PAGE_PRESENCE, False) | {"notes": True}


def test_which_collections_a_case_has(app, monkeypatch, case, make_user, make_petition):
    """Each presence flag reads its own collection: a case with some is told apart from
    one with the others."""
    monkeypatch.setitem(app.config, "REAPPLICATION_WAITING_YEARS", 0)  # refiled at once
    supervisor = make_user("supervisor")
    deadline_services.open_referral(case, supervisor, {"agency": "fbi"})
    petition_services.add_recommendation(case, supervisor, "favorable", "A memo.")
    register = unique_register_number()
    make_petition(Stage.DENIED, register_number=register)
    refiled = make_petition(Stage.UNDER_REVIEW, register_number=register)
    db.session.commit()
    numbers = case.case_number, refiled.case_number
    db.session.expunge_all()
    _petition, presence = queries.case_page_case(numbers[0])
    assert presence == dict.fromkeys(queries.CASE_PAGE_PRESENCE, False) | {
        "notes": True,
        "referrals": True,
        "recommendations": True,
    }
    _petition, presence = queries.case_page_case(numbers[1])
    assert presence == dict.fromkeys(queries.CASE_PAGE_PRESENCE, False) | {"related": True}


def test_what_was_not_read_loads_on_first_use(case, count_statements):
    """Of its people only the names are read; the rest loads when used. A collection it
    has loads with its people in one statement, as after the ORM's query."""
    number, email = case.case_number, case.advocate.email
    db.session.expunge_all()
    petition, _presence = queries.case_page_case(number)
    with count_statements() as statements:
        assert petition.advocate.email == email
    assert len(statements) == 1
    with count_statements() as statements:
        assert [(n.body, n.author.name) for n in petition.notes] == [("A note.", "Noted")]
    assert len(statements) == 1


def test_a_case_without_an_assignee_holds_none(make_petition):
    """Held as loaded (None), as a joined load leaves a relationship it found no row for."""
    number = make_petition().case_number
    db.session.expunge_all()
    petition, _presence = queries.case_page_case(number)
    loaded = sa.inspect(petition).dict
    assert loaded["assignee"] is None and loaded["waiver_approved_by"] is None
    assert loaded["advocate"] is not None and loaded["organization"] is not None


def test_an_instance_already_in_the_session_is_that_instance(case):
    assert queries.case_page_case(case.case_number)[0] is case
    assert queries.case_page_case("CP-2020-999999") is None


def test_persistent_from_row_with_some_columns(make_user, count_statements):
    """Given some columns, the others load on first use, together."""
    user = make_user("reviewer")
    user_id, email, role = user.id, user.email, user.role
    db.session.expunge_all()
    made = persistent_from_row(db.session, User, ("Someone", user_id), columns=("name", "id"))
    assert made.name == "Someone"  # as read: the row is what the caller gives
    with count_statements() as statements:
        assert (made.email, made.role) == (email, role)
    assert len(statements) == 1
    assert not db.session.dirty
