"""Sessions end on the server; logins are throttled; passwords are argon2id and not common."""

from datetime import timedelta

import pytest
from argon2 import extract_parameters
from sqlalchemy import select, update

from config import ProductionConfig
from tests.conftest import PASSWORD, csrf_token
from tracker.audit.models import AuditEntry
from tracker.auth import passwords
from tracker.auth import services as auth_services
from tracker.auth.models import User, UserSession
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
    [("last_seen_at", timedelta(minutes=31), "idle"),
     ("created_at", timedelta(hours=12, minutes=1), "expired")],
)  # fmt: skip
def test_idle_and_absolute_timeouts(client, auth, make_user, column, age, reason):
    user = make_user("advocate")
    auth.login(user)
    assert logged_in(client)
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values({column: utcnow() - age}))  # fmt: skip
    db.session.commit()
    assert not logged_in(client)
    assert sessions_of(user)[0].end_reason == reason


def test_timeouts_are_configurable(app, client, auth, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "PERMANENT_SESSION_LIFETIME", timedelta(minutes=5))
    user = make_user("advocate")
    auth.login(user)
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=utcnow() - timedelta(minutes=6)))  # fmt: skip
    db.session.commit()
    assert not logged_in(client)


def test_changing_own_password_ends_other_sessions_only(app, client, auth, make_user):
    user = make_user("advocate")
    other = app.test_client()
    type(auth)(other).login(user)
    auth.login(user)
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "a brand new passphrase",
        "confirm_password": "a brand new passphrase",
        "csrf_token": csrf_token(client, "/account/password")})  # fmt: skip
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
        select(AuditEntry).where(AuditEntry.action == "api_token_revoked",
                                 AuditEntry.subject_user_id == user.id)
    )  # fmt: skip
    assert revocation.actor_id == supervisor.id
    assert revocation.details["token_ids"] == [token.id]


def test_session_cookie_flags(client, auth, make_user):
    user = make_user("advocate")
    cookie = auth.login(user).response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# --- throttling ------------------------------------------------------------------------------


def try_password(client, email, password):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client, "/login")})  # fmt: skip


def test_five_failures_lock_the_account_for_a_while(app, client, make_user):
    user, bystander = make_user("advocate"), make_user("advocate")
    for _ in range(5):
        assert try_password(client, user.email, "wrong password 123").status_code == 200
    locked = try_password(client, user.email, PASSWORD)
    assert locked.status_code == 200  # the right password is refused while locked
    assert "locked or inactive" in locked.get_data(as_text=True)
    assert try_password(app.test_client(), bystander.email, PASSWORD).status_code == 302
    db.session.expire_all()
    account = db.session.get(User, user.id)
    assert account.locked_until - utcnow() > timedelta(minutes=14)
    [event] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "account_locked"))
    assert event.subject_user_id == user.id
    # After the lockout the right password works again.
    account.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert try_password(client, user.email, PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_add_up(app, client, make_user):
    user = make_user("advocate")
    for _ in range(4):
        try_password(client, user.email, "wrong password 123")
    db.session.execute(update(User).where(User.id == user.id).values(
        first_failed_login_at=utcnow() - timedelta(minutes=16)))  # fmt: skip
    db.session.commit()
    try_password(client, user.email, "wrong password 123")
    assert try_password(client, user.email, PASSWORD).status_code == 302


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


@pytest.mark.parametrize("password", ["short pass", "1234567890123", "abc123456789",
                                      "Stratocaster"])  # fmt: skip
def test_short_or_common_passwords_are_refused(app_ctx, password):
    assert passwords.password_problem(password) is not None


def test_common_password_list_is_large_enough(app_ctx):
    assert len(passwords.common_passwords()) >= 10_000
    assert passwords.password_problem("a sentence nobody has used 7") is None
