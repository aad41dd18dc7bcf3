"""The request pipeline (tracker/pipeline.py): one place commits or rolls back a request,
refusals are audited apart from the refused change, and a GET writes only bookkeeping."""

import ast
import re
import traceback
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Blueprint, redirect
from flask_migrate import upgrade
from sqlalchemy import event, select, update

from tests import conftest
from tests.conftest import POSTGRES_URL, fresh_postgres_database
from tests.helpers import audit_entries
from tests.transaction_guard import TRACKER, transaction_end_problem
from tracker import pipeline
from tracker.auth import services as auth_services
from tracker.auth.models import ApiToken, Organization, UserSession
from tracker.database import utcnow
from tracker.errors import PermissionDenied
from tracker.extensions import csrf, db

pytest_plugins = ["tests.api_fixtures"]

#: POST routes that write nothing of their own: the bulk confirmation only reads and shows the
#: selection; the access log export only reads (both log their reads apart, tracker.readlog).
READ_ONLY_POSTS = {"bulk.confirm", "readlog.export_access_log"}


# --- the source: nobody else ends a transaction ------------------------------------------------


def _transaction_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(TRACKER)}:{node.lineno} {node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]


def test_only_the_pipeline_and_the_cli_commit_or_roll_back():
    calls = [
        call
        for path in sorted(TRACKER.rglob("*.py"))
        if path not in (TRACKER / "pipeline.py", TRACKER / "cli.py")
        for call in _transaction_calls(path)
    ]
    assert calls == []


def test_the_guard_names_a_service_that_commits():
    def frame(path, name):
        return traceback.FrameSummary(str(path), 1, name)

    service = frame(TRACKER / "petitions" / "services.py", "submit_petition")
    view = frame(TRACKER / "petitions" / "views.py", "new")
    owner = frame(TRACKER / "pipeline.py", "finish_request")
    assert "a service" in transaction_end_problem([view, service])
    assert "a service" in transaction_end_problem([service, owner])
    assert "not the pipeline" in transaction_end_problem([view])
    assert transaction_end_problem([view, owner]) is None
    assert transaction_end_problem([owner]) is None


def test_every_writing_route_is_marked_and_no_read_is(app):
    unmarked, marked_reads = [], []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        unsafe = bool(rule.methods - pipeline.SAFE_METHODS)
        marked = getattr(view, "writes", False)
        if unsafe and not marked and rule.endpoint not in READ_ONLY_POSTS:
            unmarked.append(rule.endpoint)
        if marked and not unsafe:
            marked_reads.append(rule.endpoint)
    assert unmarked == [] and marked_reads == []


# --- the rules, on routes made for the test ----------------------------------------------------

probe = Blueprint("probe", __name__, url_prefix="/probe")


def _write(name):
    auth_services.create_organization(None, name)


@probe.post("/success")
@pipeline.writes
def success():
    _write("success")
    return redirect("/")


@probe.post("/invalid")
@pipeline.writes
def invalid():
    _write("invalid")
    return "invalid", 422


@probe.post("/refused/<int:attempt>")
@pipeline.writes
def refused(attempt):
    _write("refused")
    raise PermissionDenied("Not for you.")


@probe.post("/failing")
@pipeline.writes
def failing():
    _write("failing")
    raise RuntimeError("a bug")


@probe.post("/unmarked")
def unmarked():
    _write("unmarked")
    return "ok"


@probe.route("/read", methods=["GET", "POST"])
@pipeline.writes
def read():
    _write("read")
    return "ok"


@probe.post("/attempt")
@pipeline.writes(records_attempts=True)
def attempt():
    _write("attempt")
    return "wrong code", 422


@probe.post("/apart")
@pipeline.writes
def apart():
    pipeline.write_apart(lambda: _write("apart"))
    _write("with the request")
    return "refused", 409


def _read_row(name):
    """A read's row (what the read log would write), here an organization the test can see."""
    row = {"name": name, "active": True, "created_at": utcnow()}
    pipeline.write_with_read(Organization.__table__, [row])


@probe.get("/logged-read")
def logged_read():
    _read_row("logged read")
    return "ok"


@probe.get("/read-beside-a-write")
def read_beside_a_write():
    _write("stray write of a read")
    _read_row("read beside a write")
    return "ok"


@probe.get("/refused-read")
def refused_read():
    _read_row("refused read")
    return "gone", 404


@probe.post("/success-with-read")
@pipeline.writes
def success_with_read():
    _write("write with a read")
    _read_row("read with a write")
    return redirect("/")


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory):
    database = fresh_postgres_database("tracker_pipeline") if POSTGRES_URL else None
    url = (
        database.__enter__()
        if database
        else f"sqlite:///{tmp_path_factory.mktemp('pipeline') / 'tracker.sqlite3'}"
    )
    application = conftest.testing_app(url, PROPAGATE_EXCEPTIONS=False)
    application.register_blueprint(probe)
    csrf.exempt(probe)
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()
    if database:
        database.__exit__(None, None, None)


def _organizations(application) -> set[str]:
    with application.app_context():
        return set(db.session.scalars(select(Organization.name)))


@pytest.mark.committed
@pytest.mark.parametrize(
    ("method", "path", "status", "kept"),
    [
        ("post", "/probe/success", 302, {"success"}),
        ("post", "/probe/invalid", 422, set()),
        ("post", "/probe/refused/1", 403, set()),
        ("post", "/probe/failing", 500, set()),
        ("post", "/probe/unmarked", 200, set()),
        ("get", "/probe/read", 200, set()),
        ("post", "/probe/read", 200, {"read"}),
        ("post", "/probe/attempt", 422, {"attempt"}),
        ("post", "/probe/apart", 409, {"apart"}),
        # A read's writes (the read log): committed when the request answered, with the
        # request's transaction when it wrote nothing else, and never with a stray write.
        ("get", "/probe/logged-read", 200, {"logged read"}),
        ("get", "/probe/read-beside-a-write", 200, {"read beside a write"}),
        ("get", "/probe/refused-read", 404, set()),
        ("post", "/probe/success-with-read", 302, {"write with a read", "read with a write"}),
    ],
)
def test_the_pipeline_commits_only_a_marked_view_that_answered_without_error(
    probe_app, method, path, status, kept
):
    before = _organizations(probe_app)
    response = getattr(probe_app.test_client(), method)(path)
    assert response.status_code == status
    assert _organizations(probe_app) - before == kept


@pytest.mark.committed
def test_a_refusal_is_audited_apart_from_the_refused_change(probe_app):
    with probe_app.app_context():
        before = db.session.scalar(select(db.func.count()).select_from(Organization))
    # A path of its own: repeated identical refusals from one client are only counted.
    assert probe_app.test_client().post("/probe/refused/2").status_code == 403
    with probe_app.app_context():
        entries = audit_entries(category="security")
        assert [e.action for e in entries][-1] == "access_refused"
        assert entries[-1].details["path"] == "/probe/refused/2"
        assert "organization_created" not in [e.action for e in entries[-1:]]
        assert db.session.scalar(select(db.func.count()).select_from(Organization)) == before


# --- a GET writes nothing but the bookkeeping the design names ---------------------------------


@contextmanager
def statements(app):
    """Every SQL statement sent while the block runs."""
    sent = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


#: What recording a refusal writes: the entry, the chain's head, the window that collapses
#: repeats of the same event.
REFUSAL_TABLES = {"audit_entry", "audit_chain_head", "security_event_window"}
WRITE = re.compile(r"^(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def writes_of(sent):
    return [s for s in sent if WRITE.match(s)]


def _age_sessions(user, minutes):
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


#: All a page read by GET may write: the read log's entries for what it showed, and the
#: session's last-seen time (at most once a minute).
READ_BOOKKEEPING = ("INSERT INTO read_log_entry", "UPDATE user_session SET last_seen_at")


@pytest.mark.parametrize("role", ["advocate", "reviewer", "supervisor"])
def test_pages_read_by_get_write_nothing_but_the_read_log_and_the_session_touch(
    app, client, login_as, make_petition, role
):
    user = login_as(role)
    petition = make_petition(organization=user.organization)
    case_page = f"/petitions/{petition.case_number}"
    pages = [
        "/petitions",
        case_page,
        f"/petitions/{petition.case_number}/edit",
        "/petitions/new",
        "/account/tokens",
        "/account/password",
        "/account/two-factor/setup",
        "/audit/",
        "/admin/users",
    ]
    for page in pages:
        _age_sessions(user, 2)  # each page may touch the session: it is allowed, not required
        with statements(app) as sent:
            response = client.get(page)
        others = [s for s in writes_of(sent) if not s.startswith(READ_BOOKKEEPING)]
        reads_logged = [s for s in writes_of(sent) if s.startswith(READ_BOOKKEEPING[0])]
        # A page the role may not see is refused, and the refusal is audited (apart).
        if response.status_code == 403:
            written = {s.split()[2 if s.startswith(("INSERT", "DELETE")) else 1] for s in others}
            assert "audit_entry" in written and written <= REFUSAL_TABLES, page
            assert reads_logged == [], page
        else:
            assert others == [], page
            assert len(reads_logged) == (1 if page == case_page else 0), page


def test_a_get_touches_the_sessions_last_seen_time_at_most_once_a_minute(app, client, login_as):
    user = login_as("reviewer")
    _age_sessions(user, 2)
    with statements(app) as sent:
        assert client.get("/petitions").status_code == 200
    [touch] = writes_of(sent)
    assert touch.startswith("UPDATE user_session SET last_seen_at")
    with statements(app) as sent:
        client.get("/petitions")
    assert writes_of(sent) == []


def test_a_stale_session_is_ended_apart_even_though_the_request_fails(app, client, login_as):
    user = login_as("reviewer")
    _age_sessions(user, 31)
    assert client.get("/petitions").status_code == 302  # to the login page
    db.session.expire_all()
    ended = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert [row.end_reason for row in ended] == ["idle"]


def test_the_tokens_last_use_is_written_apart_and_keeps_the_user_loaded(app, api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    with statements(app) as sent:
        assert api.get(f"/api/v1/petitions/{petition.case_number}").status_code == 200
    # Besides the read log's entry (apart too, tracker.readlog), only the token's last use.
    writes = [w for w in writes_of(sent) if not w.startswith("INSERT INTO read_log_entry")]
    assert len(writes) == 1 and writes[0].startswith("UPDATE api_token SET last_used_at")
    # The write comes after every read of the request: nothing was expired and read again.
    assert WRITE.match(sent[-1]) or sent.index(writes[0]) > max(
        i for i, s in enumerate(sent) if s.startswith("SELECT")
    )
    # The user comes with the token, in its one query (issue 15), and is never read again.
    [token_read] = [s for s in sent if re.search(r"^SELECT .* FROM api_token ", s)]
    assert re.search(r'JOIN "?user"? ', token_read)
    user_reads = [s for s in sent if re.search(r'^SELECT .* FROM "?user"? ', s)]
    assert user_reads == [], user_reads
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.last_used_at)) is not None


# --- the timing oracle: a missing case and another organization's are refused alike ------------


def _probe(app, client_get, case_number):
    with statements(app) as sent:
        response = client_get(case_number)
    return response, [re.sub(r"savepoint_\d+", "savepoint", s) for s in sent]


def _page(response, case_number):
    """The answer, without its case number or its (time-stamped) CSRF token."""
    body = response.get_data(as_text=True).replace(case_number, "X")
    return re.sub(r'name="csrf_token" value="[^"]*"', "", body)


@pytest.mark.parametrize("interface", ["web", "api"])
def test_a_missing_case_and_another_organizations_are_refused_alike(
    app, client, login_as, api_as, make_petition, interface
):
    if interface == "web":
        advocate = login_as("advocate")

        def get(case_number):
            return client.get(f"/petitions/{case_number}")
    else:
        api = api_as("advocate")
        advocate = api.user

        def get(case_number):
            return api.get(f"/api/v1/petitions/{case_number}")

    theirs = make_petition()  # another organization's case
    get("CP-2020-999998")  # warm up: the first request of a client loads more
    before = len(audit_entries(action="access_refused"))
    foreign, foreign_sent = _probe(app, get, theirs.case_number)
    missing, missing_sent = _probe(app, get, "CP-2020-999999")

    assert foreign.status_code == missing.status_code == 404
    assert _page(foreign, theirs.case_number) == _page(missing, "CP-2020-999999")
    assert foreign_sent == missing_sent  # the same statements, so the same work
    refusals = audit_entries(action="access_refused")[before:]
    assert [(e.actor_id, e.details["case_number"], e.details["existed"]) for e in refusals] == [
        (advocate.id, theirs.case_number, True),
        (advocate.id, "CP-2020-999999", False),
    ]
