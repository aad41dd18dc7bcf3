"""Sessions end on the server; logins are throttled; passwords are argon2id and not common."""

import gc
from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import extract_parameters
from itsdangerous import TimestampSigner
from sqlalchemy import select, update

from config import ProductionConfig
from tests.conftest import PASSWORD, csrf_token
from tests.helpers import column_values
from tracker.audit.models import AuditEntry
from tracker.auth import passwords, sessions
from tracker.auth import services as auth_services
from tracker.auth.models import LoginThrottle, User, UserSession
from tracker.database import utcnow
from tracker.extensions import db


def logged_in(client) -> bool:
    return client.get("/petitions").status_code == 200


def sessions_of(user) -> list[UserSession]:
    db.session.expire_all()
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)))


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_login_starts_a_new_session_whatever_was_planted(client, auth, make_user):
    user = make_user("advocate")
    with client.session_transaction() as planted:
        planted["sid"] = "attacker-chosen-key"
    auth.login(user)
    with client.session_transaction() as current:
        assert current["sid"] != "attacker-chosen-key"
    [row] = sessions_of(user)
    assert row.ended_at is None and row.key_hash != current["sid"]  # only the hash is stored


def test_logout_ends_the_session_on_the_server(app, client, auth, make_user):
    user = make_user("advocate")
    auth.login(user)
    stolen = session_cookie(client)
    auth.logout()
    [row] = sessions_of(user)
    assert row.end_reason == "logout"
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/petitions")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(
    ("column", "age", "reason"),
    [
        ("last_seen_at", timedelta(minutes=31), "idle"),
        ("created_at", timedelta(hours=12, minutes=1), "expired"),
    ],
)
def test_idle_and_absolute_timeouts(client, auth, make_user, column, age, reason):
    user = make_user("advocate")
    auth.login(user)
    assert logged_in(client)
    db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id).values({column: utcnow() - age})
    )
    db.session.commit()
    assert not logged_in(client)
    assert sessions_of(user)[0].end_reason == reason


def test_timeouts_are_configurable(app, client, auth, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", timedelta(minutes=5))
    user = make_user("advocate")
    auth.login(user)
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=6))
    )
    db.session.commit()
    assert not logged_in(client)


def test_the_cookie_is_written_at_login_not_on_every_page(client, auth, make_user):
    user = make_user("advocate")
    login = auth.login(user).response
    assert "Set-Cookie" in login.headers

    client.get("/petitions")  # its first form puts a CSRF token in the cookie
    page = client.get("/petitions")

    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers


def test_an_active_session_outlives_the_idle_time_of_its_cookie(
    client, auth, make_user, monkeypatch
):
    """The cookie is no longer signed again on each page: its signature must stay good for
    the absolute lifetime, the idle timeout being the server's (last_seen_at)."""
    user = make_user("advocate")
    auth.login(user)
    signed_at = TimestampSigner.get_timestamp
    for later in (timedelta(minutes=45), timedelta(hours=11)):
        monkeypatch.setattr(
            TimestampSigner,
            "get_timestamp",
            lambda self, later=later: signed_at(self) + int(later.total_seconds()),
        )
        assert logged_in(client)  # last_seen_at is fresh: the user is active
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: signed_at(self) + 13 * 3600)
    assert not logged_in(client)  # past the absolute lifetime the cookie is refused


def test_changing_own_password_ends_other_sessions_only(app, client, auth, make_user):
    user = make_user("advocate")
    other = app.test_client()
    type(auth)(other).login(user)
    auth.login(user)
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )
    assert response.status_code == 302
    assert logged_in(client)
    assert not logged_in(other)


@pytest.mark.parametrize("change", ["role", "password", "deactivate"])
def test_account_changes_end_every_session_and_token(app, auth, client, make_user, change):
    user = make_user("reviewer")
    supervisor = make_user("supervisor")
    auth.login(user)
    from tracker.auth.models import ApiToken

    db.session.add(ApiToken(user_id=user.id, name="script", prefix="x", token_hash="0" * 64))
    db.session.commit()
    if change == "role":
        auth_services.change_role(supervisor, user, "supervisor", None)
    elif change == "password":
        auth_services.set_temporary_password(supervisor, user, "temporary password 42")
    else:
        auth_services.set_user_active(supervisor, user, False)
    db.session.commit()
    assert not logged_in(client)
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.revoked_at is not None
    [revocation] = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "api_token_revoked", AuditEntry.subject_user_id == user.id
        )
    )
    assert revocation.actor_id == supervisor.id
    assert revocation.details["token_ids"] == [token.id]


def test_session_cookie_flags(client, auth, make_user):
    user = make_user("advocate")
    cookie = auth.login(user).response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- throttling ------------------------------------------------------------------------------


def try_password(client, email, password):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client, "/login")},
    )


def from_address(app, address):
    """A browser at another client address."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def throttle_row(email, address="127.0.0.1") -> LoginThrottle | None:
    db.session.expire_all()
    return db.session.scalar(
        select(LoginThrottle).where(
            LoginThrottle.email == email, LoginThrottle.ip_address == address
        )
    )


def end_the_wait(email, address="127.0.0.1"):
    db.session.execute(
        update(LoginThrottle)
        .where(
            LoginThrottle.email == email,
            LoginThrottle.ip_address == address,
        )
        .values(blocked_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_failures_make_that_address_wait_not_the_account(app, client, make_user):
    user, bystander = make_user("advocate"), make_user("advocate")
    for _ in range(app.config["LOGIN_THROTTLE_AFTER"]):
        assert try_password(client, user.email, "wrong password 123").status_code == 200
    waiting = try_password(client, user.email, PASSWORD)
    assert waiting.status_code == 429  # the right password is not even checked while it waits
    assert int(waiting.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins for this e-mail from your address" in waiting.get_data(
        as_text=True
    )
    # No lockout: the owner at another address, and others at this one, sign in.
    assert try_password(from_address(app, "192.0.2.7"), user.email, PASSWORD).status_code == 302
    assert try_password(app.test_client(), bystander.email, PASSWORD).status_code == 302
    db.session.expire_all()
    [event] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login_throttled"))
    assert event.subject_user_id == user.id and event.details["failures"] == 5
    # Once the wait is over the right password works again, and the count is forgotten.
    end_the_wait(user.email)
    assert try_password(client, user.email, PASSWORD).status_code == 302
    assert throttle_row(user.email) is None


def test_each_failure_doubles_the_wait_up_to_the_ceiling(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_LOGIN_FAILURES", "100 per minute")
    user = make_user("advocate")
    after = app.config["LOGIN_THROTTLE_AFTER"]
    base, ceiling = app.config["LOGIN_THROTTLE_BASE"], app.config["LOGIN_THROTTLE_MAX"]
    assert ceiling < base * 2**6  # the ceiling is reached below
    waits = []
    for failure in range(1, after + 8):
        assert try_password(client, user.email, "wrong password 123").status_code == 200
        row = throttle_row(user.email)
        assert row.failures == failure
        waits.append(row.blocked_until - row.last_failure_at if row.blocked_until else None)
        end_the_wait(user.email)
    doubling = [base * 2**k for k in range(6)]
    assert waits == [None] * (after - 1) + doubling + [ceiling, ceiling]


def test_an_unknown_email_waits_exactly_like_a_known_one(app, make_user):
    """No oracle: the same answers, in the same order, whether the account exists or not."""
    known = make_user("advocate").email
    answers = {}
    for email, address in ((known, "192.0.2.1"), ("nobody-at-all@example.org", "192.0.2.2")):
        browser = from_address(app, address)
        answers[email] = [
            (response.status_code, "Retry-After" in response.headers)
            for response in (
                try_password(browser, email, "wrong password 123")
                for _ in range(app.config["LOGIN_THROTTLE_AFTER"] + 1)
            )
        ]
    assert answers[known] == answers["nobody-at-all@example.org"]
    assert answers[known][-1] == (429, True)


def test_failures_are_forgotten_after_a_while(app, client, make_user):
    user = make_user("advocate")
    for _ in range(app.config["LOGIN_THROTTLE_AFTER"] - 1):
        try_password(client, user.email, "wrong password 123")
    memory = app.config["LOGIN_FAILURE_MEMORY"]
    db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.email == user.email)
        .values(last_failure_at=utcnow() - memory - timedelta(minutes=1))
    )
    db.session.commit()
    try_password(client, user.email, "wrong password 123")
    assert throttle_row(user.email).failures == 1
    assert try_password(client, user.email, PASSWORD).status_code == 302


def test_a_temporary_password_clears_the_waits(app, client, make_user):
    user, supervisor = make_user("advocate"), make_user("supervisor")
    for _ in range(app.config["LOGIN_THROTTLE_AFTER"]):
        try_password(client, user.email, "wrong password 123")
    auth_services.set_temporary_password(supervisor, user, "temporary password 42")
    db.session.commit()
    assert throttle_row(user.email) is None
    assert try_password(client, user.email, "temporary password 42").status_code == 302


def test_unknown_email_costs_a_password_check(client, monkeypatch):
    checked = []
    real = passwords.verify_password
    monkeypatch.setattr(
        passwords,
        "verify_password",
        lambda hashed, password: checked.append(hashed) or real(hashed, password),
    )
    try_password(client, "nobody@example.org", "some password 123")
    assert len(checked) == 1
    assert checked[0].startswith("$argon2id$")


# --- passwords -------------------------------------------------------------------------------


def test_production_argon2_parameters_meet_owasp(app, monkeypatch):
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM"):
        monkeypatch.setitem(app.config, name, getattr(ProductionConfig, name))
    with app.app_context():
        parameters = extract_parameters(passwords.hash_password("x" * 12))
    assert parameters.type.name == "ID"
    assert parameters.memory_cost >= 19 * 1024
    assert parameters.time_cost >= 2


def test_hash_is_upgraded_at_login_when_parameters_rise(app, client, make_user, monkeypatch):
    user = make_user("advocate")
    old_hash = user.password_hash
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", app.config["ARGON2_TIME_COST"] + 1)
    assert try_password(client, user.email, PASSWORD).status_code == 302
    db.session.expire_all()
    new_hash = db.session.get(User, user.id).password_hash
    assert new_hash != old_hash
    assert extract_parameters(new_hash).time_cost == app.config["ARGON2_TIME_COST"]


@pytest.mark.parametrize(
    "password", ["short pass", "1234567890123", "abc123456789", "Stratocaster"]
)
def test_short_or_common_passwords_are_refused(app_ctx, password):
    assert passwords.password_problem(password) is not None


def test_common_password_list_is_large_enough(app_ctx):
    assert len(passwords.common_passwords()) >= 10_000
    assert passwords.password_problem("a sentence nobody has used 7") is None


@pytest.mark.parametrize("role", ["advocate", "supervisor"])
def test_the_signed_in_session_is_made_as_the_orm_would_load_it(
    app, client, login_as, count_statements, role
):
    """current_session reads the session, its user and their organization with Core and
    makes the objects from the row: what the ORM's loading gives, persistent with nothing to
    write, each holding the next, so the page's reads of them send no statement."""
    login_as(role)
    cookie = f"session={session_cookie(client)}"
    db.session.expunge_all()
    with app.test_request_context("/petitions", headers={"Cookie": cookie}):
        row = sessions.current_session()
        gc.collect()  # the session holds its clean instances weakly: what nothing holds is gone
        assert sa.inspect(row).persistent and not db.session.dirty and not db.session.new
        with count_statements() as statements:
            made = [column_values(o) for o in (row, row.user, row.user.organization)]
            db.session.flush()
        assert statements == []
    assert (made[2] is None) == (role != "advocate")
    db.session.expunge_all()
    loaded = db.session.get(UserSession, made[0]["id"])
    assert made == [column_values(o) for o in (loaded, loaded.user, loaded.user.organization)]
