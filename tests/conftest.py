"""Fixtures: an app whose schema is built by the migrations, one rolled-back transaction per
test, factories that go through the services, an ``auth`` helper that logs in through the
real pages (staff with a real second factor), and ``count_statements``.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set (a
fresh database is created next to the one named, and dropped at the end).
"""

import html
import itertools
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event, select
from werkzeug.test import TestResponse

from tracker import create_app
from tracker.auth import services as auth_services
from tracker.auth.models import User
from tracker.auth.two_factor import TIME_STEP
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.outcomes import Outcome
from tracker.workflow import Stage

pytest_plugins = ["tests.transaction_guard"]

PASSWORD = "correct horse battery staple"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")


def on_postgres() -> bool:
    return bool(POSTGRES_URL)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh, empty database for this test run."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'tracker-test.sqlite3'}"
        return
    with fresh_postgres_database("tracker_test") as url:
        yield url


class fresh_postgres_database:
    """Context manager: CREATE DATABASE on the TEST_DATABASE_URL server, DROP it afterwards."""

    def __init__(self, prefix: str):
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.server = sa.make_url(POSTGRES_URL)
        self.admin = sa.create_engine(
            self.server.set(database="postgres"), isolation_level="AUTOCOMMIT"
        )

    def __enter__(self) -> str:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        return self.server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *exc):
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


class FreshContextClient(FlaskClient):
    """Runs every request in its own app context, as in production.

    Flask reuses an app context that is already pushed (the test's own), which
    would share ``g`` (the logged-in user, the CSRF token) and the database
    session between requests.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def testing_app(url: str, **overrides):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, **overrides)
    app.test_client_class = FreshContextClient
    return app


@pytest.fixture(scope="session")
def app(database_url):
    application = testing_app(database_url)
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session, but always on the test's own connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture(autouse=True)
def isolated_transaction(request, app):
    """Each test runs inside one transaction that is rolled back at its end.

    The app's own commits and rollbacks become savepoints, so views and CLI
    commands behave as in production. Tests marked ``committed`` skip this and
    manage their own database.
    """
    if request.node.get_closest_marker("committed"):
        yield
        return
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original_session = db.session
        db.session = db._make_scoped_session(
            {
                "bind": connection,
                "class_": ConnectionBoundSession,
                "join_transaction_mode": "create_savepoint",
            }
        )
        try:
            yield
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()
            db.session = original_session


@pytest.fixture(autouse=True)
def fresh_rate_limits(app):
    """Every test starts with no request counted, so only a test that means to reach a rate
    limit reaches it (the limits themselves stay as in production: tests/test_rate_limits.py)."""
    limiter = app.extensions["tracker_limiter"]
    # The in-memory storage expires counts on a timer thread, which reads the dicts that
    # reset() clears (a KeyError in that thread, now and then, under load): let it finish.
    timer = getattr(limiter.storage, "timer", None)
    if timer is not None:
        timer.cancel()
        timer.join()
    limiter.reset()


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def count_statements(app):
    """``with count_statements() as statements:`` lists the SQL statements sent to the
    database inside the block, by the test and by the requests it makes (each on one line,
    its whitespace collapsed, so a pattern can match its start)."""

    @contextmanager
    def recording():
        statements = []

        def record(connection, cursor, statement, parameters, context, executemany):
            statements.append(" ".join(statement.split()))

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return recording


# --- factories ------------------------------------------------------------------------------


class MovableClock:
    """The app's clock and the audit log's, moved by the test (nothing sleeps)."""

    def __init__(self, start: datetime):
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def moving_clock(app, monkeypatch):
    """The app's clock stopped at 2025-03-03 14:00 UTC until the test moves it
    (``moving_clock.moment``), in the office's time zone."""
    clock = MovableClock(datetime(2025, 3, 3, 14, tzinfo=UTC))
    monkeypatch.setitem(app.config, "CLOCK", clock)
    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "America/New_York")
    return clock


@pytest.fixture
def make_organization(app_ctx):
    def make(name=None):
        organization = auth_services.create_organization(
            None, name or f"Org {uuid.uuid4().hex[:8]}"
        )
        db.session.commit()
        return organization

    return make


@pytest.fixture
def make_user(app_ctx, make_organization):
    def make(role="advocate", organization=None, email=None, name=None, password=PASSWORD, **extra):
        if role == "advocate" and organization is None:
            organization = make_organization()
        user = auth_services.create_user(
            None,
            email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org",
            name=name or role.capitalize(),
            role=role,
            password=password,
            organization=organization,
            **extra,
        )
        db.session.commit()
        return user

    return make


_register_numbers = itertools.count(1)


def unique_register_number() -> str:
    """A register number no other petition of the test run has (90000-000 and up)."""
    value = 90_000_000 + next(_register_numbers)
    return f"{value // 1000:05d}-{value % 1000:03d}"


def petition_values(**overrides) -> dict:
    values = {
        "kind": "commutation",
        "petitioner_name": "Jordan Q. Example",
        "register_number": "12345-678",
        "date_of_birth": date(1975, 4, 2),
        "offenses": "Conspiracy to distribute cocaine base (21 U.S.C. § 846)",
        "sentencing_court": "District of Maryland",
        "sentence": "240 months' imprisonment",
        "sentence_date": date(2005, 6, 1),
        "custody_status": "in_prison",
        "projected_release_date": date(2030, 1, 1),
        "grounds": "Would receive a far shorter sentence today.",
    }
    values.update(overrides)
    return values


#: How to bring a new petition to each stage, and who does it.
PATH_TO_STAGE = {
    Stage.RECEIVED: [],
    Stage.UNDER_REVIEW: ["start_review"],
    Stage.INFORMATION_REQUESTED: ["start_review", "return_for_information"],
    Stage.GRANTED: ["start_review", "grant"],
    Stage.DENIED: ["start_review", "deny"],
    Stage.CLOSED: ["close"],
}
#: What the steps of PATH_TO_STAGE record beyond the stage.
PATH_OUTCOMES = {"close": Outcome(disposition="closed_without_action")}


@pytest.fixture
def make_petition(app_ctx, make_user):
    staff = {}

    def make(stage=Stage.RECEIVED, advocate=None, organization=None, **fields):
        if advocate is None:
            advocate = make_user("advocate", organization=organization)
        if "register_number" not in fields:
            # Each made petition is another petitioner's: a second open petition of the
            # same petitioner is refused (tests of that name the number).
            fields["register_number"] = unique_register_number()
        petition = petition_services.submit_petition(advocate, petition_values(**fields))
        if PATH_TO_STAGE[Stage(stage)]:
            reviewer = staff.get("reviewer") or staff.setdefault("reviewer", make_user("reviewer"))
            for action in PATH_TO_STAGE[Stage(stage)]:
                petition_services.apply_transition(
                    petition, reviewer, action, "Because.", outcome=PATH_OUTCOMES.get(action)
                )
        db.session.commit()
        return petition

    return make


SECRET_PATTERN = re.compile(r'<code class="user-select-all">([A-Z2-7]+)</code>')
RECOVERY_CODE_PATTERN = re.compile(r"<li>([0-9a-f]{8}-[0-9a-f]{8})</li>")
CONTINUE_LINK_PATTERN = re.compile(r'href="([^"]*)">I have saved them')
#: Recovery codes each enrolment through AuthActions showed, by TOTP secret (secrets are
#: random, so one never stands for two users); a login uses one only when no TOTP code is left.
unused_recovery_codes: dict[str, list[str]] = {}


def fresh_totp_code(secret: str, last_step: int | None, now: float | None = None) -> str | None:
    """A TOTP code the app will accept now and has not accepted before, or None.

    The app accepts the steps next to its clock's (drift) but only steps newer than the last
    one accepted (no replay). Its clock reads ours or a little later by the time the code
    arrives, so only our step and the next are sure to be in its window: two logins per user
    in one 30-second step, with no sleeping.
    """
    totp = pyotp.TOTP(secret, interval=TIME_STEP)
    current = int((time.time() if now is None else now) // TIME_STEP)
    for step in (current, current + 1):
        if last_step is None or step > last_step:
            return totp.at(step * TIME_STEP)
    return None


@dataclass
class SignIn:
    """A login as the browser saw it: the last page's response, and where the app sends the
    user next — the redirect, or the recovery-codes page's "continue" link — or None when
    the login was refused."""

    response: TestResponse
    destination: str | None


class AuthActions:
    """Logs in as a person does, through the real pages: the login form, then for staff the
    second factor — enrolment at the first login, with the secret read off the setup page,
    and a code computed with pyotp from the stored secret after that. Nothing is written to
    the database behind the app's back.
    """

    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD, *, next_path=None, code=None) -> SignIn:
        """Log in as ``user``; ``code`` replaces the second-factor code the helper would
        compute (to see a wrong one refused)."""
        response = self.password_step(user, password, next_path)
        location = response.headers.get("Location")
        if response.status_code != 302 or urlsplit(location).path == "/login":
            return SignIn(response, None)
        if urlsplit(location).path == "/account/two-factor/setup":
            return self.enrol(location, code)
        if urlsplit(location).path == "/login/two-factor":
            return self.give_code(location, code or self.second_factor_code(user))
        return SignIn(response, location)

    def password_step(self, user, password=PASSWORD, next_path=None):
        url = "/login" + (f"?next={next_path}" if next_path else "")
        token = csrf_token(self.client, url)
        return self.client.post(
            url, data={"email": user.email, "password": password, "csrf_token": token}
        )

    def enrol(self, url="/account/two-factor/setup", code=None) -> SignIn:
        """Set up the authenticator as a person with a phone does; keep the recovery codes."""
        page = self.client.get(url).get_data(as_text=True)
        secret = SECRET_PATTERN.search(page).group(1)
        code = code or fresh_totp_code(secret, None)
        response = self.client.post(url, data={"code": code, "csrf_token": form_token(page)})
        shown = response.get_data(as_text=True)
        codes = RECOVERY_CODE_PATTERN.findall(shown)
        if response.status_code != 200 or not codes:
            return SignIn(response, None)
        unused_recovery_codes[secret] = codes
        return SignIn(response, html.unescape(CONTINUE_LINK_PATTERN.search(shown).group(1)))

    def give_code(self, url, code) -> SignIn:
        page = self.client.get(url).get_data(as_text=True)
        response = self.client.post(url, data={"code": code, "csrf_token": form_token(page)})
        location = response.headers.get("Location")
        refused = response.status_code != 302 or urlsplit(location).path == "/login"
        return SignIn(response, None if refused else location)

    @staticmethod
    def second_factor_code(user) -> str:
        """A code for the user's stored secret the app has not seen yet: TOTP, else a
        recovery code from the enrolment."""
        secret, last_step = db.session.execute(
            select(User.totp_secret, User.totp_last_step).where(User.id == user.id)
        ).one()
        code = fresh_totp_code(secret, last_step)
        if code is None and unused_recovery_codes.get(secret):
            code = unused_recovery_codes[secret].pop()
        assert code, f"no unused code left for {user.email}: sign them in once and reuse the client"
        return code

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path="/petitions") -> str:
    """A valid CSRF token for the client's session, read from a page that has a form."""
    return form_token(client.get(path, follow_redirects=True).get_data(as_text=True), path)


def form_token(page: str, path="the page") -> str:
    """The CSRF token of the (first) form in this page's markup."""
    match = CSRF_PATTERN.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login_as(make_user, auth):
    """Log in as a new user of the role; returns the user."""

    def login(role="advocate", **kwargs):
        user = make_user(role, **kwargs)
        sign_in = auth.login(user)
        assert sign_in.destination, sign_in.response.get_data(as_text=True)
        return user

    return login


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory):
    """An app on its own fresh database, for tests that need real commits (threads, servers).

    Use with ``@pytest.mark.committed`` so the rolled-back test transaction steps aside.
    """
    if POSTGRES_URL:
        database = fresh_postgres_database("tracker_committed")
        url = database.__enter__()
    else:
        database = None
        url = f"sqlite:///{tmp_path_factory.mktemp('committed') / 'tracker.sqlite3'}"
    application = testing_app(url)
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()
    if database is not None:
        database.__exit__(None, None, None)
