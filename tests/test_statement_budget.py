"""Statement budget (issue 15): the SQL statements each page sends, counted exactly.

A page that grows a statement (an N+1 in a loop, a second query for the user, a count nobody
reads) fails here before it shows in a benchmark. Each budget is the page's steady state: the
user signed in a moment ago, so the session's last-seen time needs no touch (it is written at
most once a minute, ``test_the_session_touch_is_the_one_write_of_a_plain_get``). Savepoints
are the test harness's own (each test runs in a rolled-back transaction) and are not counted.

A plain GET writes nothing in its own transaction: the only writes it may send are the read
log's entry (a case read) and, once a minute, the session's touch — each after the page's
own read-only transaction, apart from it (``tracker.pipeline.write_apart``).
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g
from sqlalchemy import event, update

from tracker import pipeline
from tracker.auth import sessions
from tracker.auth.models import UserSession
from tracker.database import REQUEST_READS_ONLY, utcnow
from tracker.extensions import db
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]
HARNESS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
WRITES = ("INSERT", "UPDATE", "DELETE")
#: The writes a plain GET may send, each apart from its own transaction.
ALLOWED_WRITES = ("INSERT INTO read_log_entry", "UPDATE user_session SET last_seen_at")


def counted(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.startswith(HARNESS)]


@dataclass
class Budget:
    path: str
    who: str  #: reviewer (web), advocate (web), token (API, a reviewer's), anonymous
    statements: int
    #: The writes the page sends, by their start (the read log's entry for a case read).
    writes: tuple[str, ...] = ()


READ = ("INSERT INTO read_log_entry",)
#: {case}: a case with a history of three entries, a referral and a note.
BUDGETS = {
    "queue, one stage": Budget("/petitions?stage=under_review", "reviewer", 2),
    "queue, a second page": Budget("/petitions?stage=under_review&after={after}", "reviewer", 2),
    "queue, advocate": Budget("/petitions", "advocate", 2),
    "case page": Budget("/petitions/{case}", "reviewer", 5, READ),
    "case page, advocate": Budget("/petitions/{case}", "advocate", 5, READ),
    "API list, one stage": Budget("/api/v1/petitions?stage=under_review", "token", 2),
    "API case": Budget("/api/v1/petitions/{case}", "token", 3, READ),
    "API history": Budget("/api/v1/petitions/{case}/history", "token", 3, READ),
    "login page": Budget("/login", "anonymous", 0),
    "account: password page": Budget("/account/password", "reviewer", 1),
    "account: API tokens": Budget("/account/tokens", "reviewer", 2),
    "account: notifications": Budget("/account/notifications", "reviewer", 2),
    "notifications": Budget("/notifications", "reviewer", 2),
    "due page": Budget("/due", "reviewer", 5),
}


@pytest.fixture
def world(app, client, auth, make_user, make_petition, api_as):
    """A reviewer signed in on ``client``, an advocate on a second client, a reviewer's API
    token, and 30 cases under review (more than a page) of the advocate's organization."""
    from tracker.petitions import services as petition_services

    reviewer = make_user("reviewer")
    advocate = make_user("advocate")
    cases = [make_petition(Stage.UNDER_REVIEW, advocate=advocate) for _ in range(30)]
    case = cases[0]
    petition_services.add_note(case, reviewer, "A note.", "internal")
    db.session.commit()
    auth.login(reviewer)
    advocate_client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(advocate_client).login(advocate)
    token = api_as(user=reviewer)
    first = client.get("/petitions?stage=under_review")
    after = first.get_data(as_text=True).split("after=", 1)[1].split('"', 1)[0].split("&", 1)[0]
    return {
        "reviewer": client,
        "advocate": advocate_client,
        "token": token,
        "anonymous": app.test_client(),
        "case": case.case_number,
        "after": after,
    }


@pytest.mark.parametrize("page", BUDGETS)
def test_page_statement_budget(world, count_statements, page):
    budget = BUDGETS[page]
    path = budget.path.format(case=world["case"], after=world["after"])
    asker = world[budget.who]
    assert asker.get(path).status_code == 200  # warm-up: a first view may differ
    with count_statements() as statements:
        response = asker.get(path)
    assert response.status_code == 200
    sent = counted(statements)
    writes = [s for s in sent if s.startswith(WRITES)]
    assert len(writes) == len(budget.writes), writes
    assert all(w.startswith(start) for w, start in zip(writes, budget.writes, strict=True))
    assert len(sent) == budget.statements, f"{len(sent)} statements:\n" + "\n".join(sent)


#: A case with every collection its page shows (a note of each visibility, a document, a
#: recommendation, a referral and an information request), by who reads it: one statement
#: per collection the reader sees (the advocate sees no referrals or recommendations).
EVERY_COLLECTION = {"reviewer": 9, "advocate": 7}


@pytest.mark.parametrize("who", EVERY_COLLECTION)
def test_case_page_with_every_collection(world, app, count_statements, who):
    """A case page reads an empty collection not at all (the budgets above) and a present
    one in one statement."""
    from tests.document_helpers import make_document
    from tracker.auth.models import User
    from tracker.deadlines import services as deadline_services
    from tracker.petitions import services as petition_services
    from tracker.petitions.models import Note, Petition

    case = db.session.scalar(sa.select(Petition).where(Petition.case_number == world["case"]))
    # The reviewer signed in on world["reviewer"], who wrote the world's note.
    reviewer = db.session.get(
        User, db.session.scalar(sa.select(Note.author_id).where(Note.petition_id == case.id))
    )
    petition_services.add_note(case, reviewer, "Shared.", "shared")
    petition_services.add_recommendation(case, reviewer, "favorable", "A memo.")
    deadline_services.open_referral(case, reviewer, {"agency": "fbi"})
    db.session.commit()
    make_document(case, reviewer)
    petition_services.apply_transition(case, reviewer, "return_for_information", "Why?")
    db.session.commit()
    asker = world[who]
    path = f"/petitions/{world['case']}"
    assert asker.get(path).status_code == 200
    with count_statements() as statements:
        response = asker.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Shared." in page and "judgment.pdf" in page and "Why?" in page
    assert ("A memo." in page) is (who == "reviewer")
    sent = counted(statements)
    assert len(sent) == EVERY_COLLECTION[who], f"{len(sent)} statements:\n" + "\n".join(sent)


def test_the_session_touch_is_the_one_write_of_a_plain_get(world, count_statements):
    """Over a minute after the last view, the queue writes the session's last-seen time
    (apart, once); the next view writes nothing."""
    earlier = utcnow() - sessions.LAST_SEEN_RESOLUTION - timedelta(seconds=5)
    db.session.execute(update(UserSession).values(last_seen_at=earlier))
    db.session.commit()
    with count_statements() as first:
        world["reviewer"].get("/petitions?stage=under_review")
    with count_statements() as second:
        world["reviewer"].get("/petitions?stage=under_review")
    first_writes = [s for s in counted(first) if s.startswith(WRITES)]
    assert len(first_writes) == 1
    assert first_writes[0].startswith("UPDATE user_session SET last_seen_at")
    assert not [s for s in counted(second) if s.startswith(WRITES)]


@pytest.mark.parametrize(
    ("method", "begins"), [("GET", ["BEGIN IMMEDIATE"]), ("POST", ["BEGIN IMMEDIATE"] * 2)]
)
def test_on_sqlite_a_get_reads_outside_a_transaction(app, tmp_path, method, begins):
    """A GET's own reads take no lock and open no transaction (each statement is its own;
    WAL readers run beside the writer); its writes apart, after it, hold the write lock; an
    unsafe method's transaction always does."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'begin.sqlite3'}")
    sent = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, text, *a: sent.append(text))
    with app.test_request_context("/petitions", method=method), engine.connect() as connection:
        pipeline.begin_request()
        connection.exec_driver_sql("SELECT 1")  # the request's own transaction
        assert connection.connection.driver_connection.in_transaction == (method == "POST")
        connection.rollback()
        g.pop(REQUEST_READS_ONLY, None)  # as finish_request does before the writes apart
        connection.exec_driver_sql("SELECT 1")
        assert connection.connection.driver_connection.in_transaction
        connection.rollback()
    engine.dispose()
    assert [s for s in sent if s.startswith("BEGIN")] == begins
