"""Fixtures: an app whose schema is built by the migrations, one rolled-back transaction per
test, factories that go through the services, and an ``auth`` helper that logs in as a role.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set (a
fresh database is created next to the one named, and dropped at the end).
"""

import os
import re
import uuid
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import update

from tracker import create_app
from tracker.auth import services as auth_services
from tracker.auth.models import UserSession
from tracker.database import utcnow
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.workflow import Stage

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
            {"bind": connection, "class_": ConnectionBoundSession,
             "join_transaction_mode": "create_savepoint"}
        )  # fmt: skip
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
    app.extensions["tracker_limiter"].reset()


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


# --- factories ------------------------------------------------------------------------------


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
            None, email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.org",
            name=name or role.capitalize(), role=role, password=password,
            organization=organization, **extra,
        )  # fmt: skip
        db.session.commit()
        return user

    return make


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
    Stage.GRANTED: ["start_review", "grant"],
    Stage.DENIED: ["start_review", "deny"],
}


@pytest.fixture
def make_petition(app_ctx, make_user):
    staff = {}

    def make(stage=Stage.RECEIVED, advocate=None, organization=None, **fields):
        if advocate is None:
            advocate = make_user("advocate", organization=organization)
        petition = petition_services.submit_petition(advocate, petition_values(**fields))
        if PATH_TO_STAGE[Stage(stage)]:
            reviewer = staff.get("reviewer") or staff.setdefault("reviewer", make_user("reviewer"))
            for action in PATH_TO_STAGE[Stage(stage)]:
                petition_services.apply_transition(petition, reviewer, action, "Because.")
        db.session.commit()
        return petition

    return make


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD, *, second_factor=True):
        """Log in with the password; for staff, also mark the second factor as given.

        Tests of the second factor itself pass ``second_factor=False`` and enrol a
        real TOTP secret (tests/test_two_factor.py).
        """
        response = self.client.post(
            "/login", data={"email": user.email, "password": password,
                            "csrf_token": csrf_token(self.client, "/login")},
        )  # fmt: skip
        location = response.headers.get("Location", "")
        if second_factor and "/two-factor" in location:
            db.session.execute(
                update(UserSession)
                .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                       UserSession.second_factor_at.is_(None))
                .values(second_factor_at=utcnow())
            )  # fmt: skip
            db.session.commit()
            db.session.refresh(user)
            next_path = parse_qs(urlsplit(location).query).get("next", ["/"])[0]
            # Where the app goes once the code is given (see auth.views._second_factor_given).
            response.headers["Location"] = (
                "/account/password" if user.must_change_password else next_path
            )
        return response

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, path="/petitions") -> str:
    """A valid CSRF token for the client's session, read from a page that has a form."""
    response = client.get(path, follow_redirects=True)
    match = CSRF_PATTERN.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login_as(make_user, auth):
    """Log in as a new user of the role; returns the user."""

    def login(role="advocate", **kwargs):
        user = make_user(role, **kwargs)
        response = auth.login(user)
        assert response.status_code == 302, response.get_data(as_text=True)
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
