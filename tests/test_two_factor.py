"""The second factor (TOTP) for reviewers and supervisors, with a real enrolled secret."""

import time

import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import (
    RECOVERY_CODE_PATTERN,
    SECRET_PATTERN,
    AuthActions,
    csrf_token,
    fresh_totp_code,
)
from tests.helpers import audit_entries, page_text
from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.auth.models import User, UserSession
from tracker.auth.two_factor import TIME_STEP
from tracker.extensions import db


def password_step(client, user, next_path=None):
    return AuthActions(client).password_step(user, next_path=next_path)


def enrol(client, user) -> tuple[str, list[str]]:
    """Walk the enrolment pages like a person with an authenticator app."""
    page = client.get("/account/two-factor/setup").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code
    secret = SECRET_PATTERN.search(page).group(1)
    response = client.post(
        "/account/two-factor/setup",
        data={
            "code": pyotp.TOTP(secret).now(),
            "csrf_token": csrf_token(client, "/account/two-factor/setup"),
        },
    )
    assert response.status_code == 200
    codes = RECOVERY_CODE_PATTERN.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def give_code(client, code, next_path=""):
    return client.post(
        f"/login/two-factor{next_path}",
        data={"code": code, "csrf_token": csrf_token(client, "/login/two-factor")},
    )


def next_code(secret):
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + totp.interval)


@pytest.fixture
def enrolled(app, make_user):
    """A reviewer who has set up the second factor (in another browser), and their secret."""
    user = make_user("reviewer")
    other = app.test_client()
    password_step(other, user)
    secret, codes = enrol(other, user)
    return user, secret, codes


@pytest.mark.parametrize("role", ["reviewer", "supervisor"])
def test_staff_must_enrol_before_any_case_page(client, make_user, make_petition, role):
    user = make_user(role)
    petition = make_petition()
    response = password_step(client, user, next_path=f"/petitions/{petition.case_number}")
    assert response.headers["Location"].startswith("/account/two-factor/setup")
    for path in ("/petitions", f"/petitions/{petition.case_number}", "/audit/", "/admin/users"):
        blocked = client.get(path)
        assert blocked.status_code == 302
        assert blocked.headers["Location"].startswith("/account/two-factor/setup")
    enrol(client, user)
    assert client.get(f"/petitions/{petition.case_number}").status_code == 200


def test_advocates_need_no_second_factor(client, make_user):
    response = password_step(client, make_user("advocate"))
    assert response.headers["Location"] == "/"


def test_enrolment_needs_a_matching_code(client, make_user):
    user = make_user("reviewer")
    password_step(client, user)
    client.get("/account/two-factor/setup")
    response = client.post(
        "/account/two-factor/setup",
        data={"code": "000000", "csrf_token": csrf_token(client, "/account/two-factor/setup")},
    )
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret is None


def test_login_with_code_then_replay_is_refused(client, app, enrolled, make_petition):
    user, secret, _ = enrolled
    petition = make_petition()
    response = password_step(client, user, next_path=f"/petitions/{petition.case_number}")
    assert response.headers["Location"].startswith("/login/two-factor")
    assert client.get("/petitions").headers["Location"].startswith("/login/two-factor")
    code = next_code(secret)
    response = give_code(client, code, f"?next=/petitions/{petition.case_number}")
    assert response.headers["Location"] == f"/petitions/{petition.case_number}"
    assert client.get("/petitions").status_code == 200

    replay = app.test_client()
    password_step(replay, user)
    response = give_code(replay, code)
    assert response.status_code == 422
    assert "already used" in response.get_data(as_text=True)
    assert replay.get("/petitions").status_code == 302


def test_recovery_code_works_once(client, app, enrolled):
    user, _, codes = enrolled
    password_step(client, user)
    assert give_code(client, codes[0]).status_code == 302
    again = app.test_client()
    password_step(again, user)
    assert give_code(again, codes[0]).status_code == 422
    assert give_code(again, codes[1]).status_code == 302


def test_recovery_codes_are_stored_hashed(enrolled):
    user, _, codes = enrolled
    from tracker.auth.models import RecoveryCode

    stored = db.session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
    ).all()
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    assert all(len(h) == 64 for h in stored)


def test_wrong_codes_make_every_code_wait(client, app, enrolled):
    user, secret, _ = enrolled
    password_step(client, user)
    for _ in range(app.config["LOGIN_THROTTLE_AFTER"]):
        response = give_code(client, "123456")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    db.session.expire_all()
    assert db.session.get(User, user.id).second_factor_blocked_until is not None
    [wait] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "login_throttled"))
    assert (wait.subject_user_id, wait.details["step"]) == (user.id, "second_factor")
    # The password alone still gets nowhere: the code page ends the login while codes wait.
    fresh = app.test_client()
    assert password_step(fresh, user).headers["Location"].startswith("/login/two-factor")
    response = give_code(fresh, next_code(secret))
    assert response.headers["Location"].startswith("/login")
    assert fresh.get("/petitions").headers["Location"].startswith("/login")


def test_password_reset_does_not_bypass_the_second_factor(client, make_user, enrolled):
    user, secret, _ = enrolled
    supervisor = make_user("supervisor")
    auth_services.set_temporary_password(supervisor, user, "temporary password 42")
    db.session.commit()
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": "temporary password 42",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    assert response.headers["Location"].startswith("/login/two-factor")
    assert client.get("/account/password").headers["Location"].startswith("/login/two-factor")
    response = give_code(client, next_code(secret))
    assert response.headers["Location"] == "/account/password"


def test_supervisor_resets_a_second_factor(client, auth, make_user, enrolled):
    user, _, _ = enrolled
    supervisor = make_user("supervisor")
    auth.login(supervisor)
    response = client.post(
        f"/admin/users/{user.id}/two-factor/reset",
        data={"csrf_token": csrf_token(client, f"/admin/users/{user.id}")},
    )
    assert response.status_code == 302
    db.session.expire_all()
    account = db.session.get(User, user.id)
    assert account.totp_secret is None and account.totp_enabled_at is None
    event = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "two_factor_reset"))
    assert event.actor_id == supervisor.id and event.subject_user_id == user.id


def test_development_may_turn_it_off_and_says_so(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "TWO_FACTOR_REQUIRED", False)
    assert "Two-factor authentication is <strong>off</strong>" in client.get("/login").get_data(
        as_text=True
    )
    response = password_step(client, make_user("reviewer"))
    assert response.headers["Location"] == "/"


def test_only_development_reads_the_switch(monkeypatch):
    import importlib

    import config

    monkeypatch.setenv("TWO_FACTOR_REQUIRED", "0")
    reloaded = importlib.reload(config)
    try:
        assert reloaded.DevelopmentConfig.TWO_FACTOR_REQUIRED is False
        assert reloaded.TestingConfig.TWO_FACTOR_REQUIRED is True
        assert reloaded.ProductionConfig.TWO_FACTOR_REQUIRED is True
    finally:
        monkeypatch.delenv("TWO_FACTOR_REQUIRED")
        importlib.reload(config)


def test_logging_in_again_buys_no_more_code_guesses(app, enrolled):
    user, secret, _ = enrolled
    guesses = 0
    for _ in range(3):  # an attacker who knows the password, starting over each time
        attacker = app.test_client()
        password_step(attacker, user)
        for _ in range(2):
            give_code(attacker, "000000")
            guesses += 1
    assert guesses > app.config["LOGIN_THROTTLE_AFTER"]
    db.session.expire_all()
    assert auth_services.second_factor_wait_until(db.session.get(User, user.id)) is not None
    del secret


def test_a_locked_account_refuses_even_a_good_code(app, enrolled):
    user, secret, _ = enrolled
    waiting = app.test_client()
    password_step(waiting, user)  # a second browser, past the password already
    attacker = app.test_client()
    password_step(attacker, user)
    for _ in range(app.config["LOGIN_THROTTLE_AFTER"]):
        give_code(attacker, "000000")
    response = give_code(waiting, next_code(secret))
    assert response.headers["Location"].startswith("/login")
    assert waiting.get("/petitions").headers["Location"].startswith("/login")
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_last_step is not None  # from enrolment only


def test_the_secret_being_enrolled_is_not_in_the_cookie(client, make_user):
    user = make_user("reviewer")
    password_step(client, user)
    page = client.get("/account/two-factor/setup").get_data(as_text=True)
    secret = SECRET_PATTERN.search(page).group(1)
    with client.session_transaction() as session:
        assert secret not in repr(dict(session))


# --- the tests' own sign-in helper goes through these pages -------------------------------------


def sessions_of(user) -> list[UserSession]:
    db.session.expire_all()
    statement = select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    return list(db.session.scalars(statement))


def stored(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_the_auth_helper_enrols_staff_then_gives_codes_through_the_real_pages(
    app, client, auth, make_user
):
    user = make_user("supervisor")

    assert auth.login(user).destination == "/"
    enrolled = stored(user)
    assert enrolled.totp_secret and enrolled.totp_enabled_at
    enrolment_step = enrolled.totp_last_step  # the step of the code the setup page accepted
    assert enrolment_step is not None
    assert [e.actor_id for e in audit_entries(action="two_factor_enrolled")] == [user.id]
    assert client.get("/petitions").status_code == 200

    # Two more browsers within the same half-minute, as a test often needs: the replay
    # rule refuses a code twice, so the helper never sends the same one.
    for _ in range(2):
        browser = app.test_client()
        assert AuthActions(browser).login(user).destination == "/"
        assert browser.get("/petitions").status_code == 200
    assert stored(user).totp_last_step > enrolment_step  # a TOTP code, taken by the code page
    assert [row.second_factor_at is not None for row in sessions_of(user)] == [True] * 3


def wrong_code(secret: str) -> str:
    """A six-digit code no step near now would accept."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + k * TIME_STEP) for k in range(-2, 3)}
    return next(code for code in (str(d) * 6 for d in range(10)) if code not in near)


def test_the_auth_helper_is_refused_a_wrong_code_by_the_real_pages(app, client, auth, make_user):
    user = make_user("reviewer")

    auth.password_step(user)
    pending = SECRET_PATTERN.search(page_text(client.get("/account/two-factor/setup"))).group(1)
    refused = auth.enrol(code=wrong_code(pending))
    assert refused.destination is None and refused.response.status_code == 422
    assert stored(user).totp_secret is None
    assert client.get("/petitions").headers["Location"].startswith("/account/two-factor/setup")

    assert auth.enrol().destination == "/"  # the same browser, past the password already
    browser = app.test_client()
    refused = AuthActions(browser).login(user, code=wrong_code(stored(user).totp_secret))
    assert refused.destination is None and refused.response.status_code == 422
    assert "not valid" in page_text(refused.response)
    assert sessions_of(user)[-1].second_factor_at is None
    assert browser.get("/petitions").headers["Location"].startswith("/login/two-factor")


def test_fresh_totp_codes_are_the_two_steps_the_app_surely_still_accepts():
    secret, now = pyotp.random_base32(), 1_700_000_000.0
    totp, step = pyotp.TOTP(secret), int(now // TIME_STEP)
    assert fresh_totp_code(secret, None, now) == totp.at(now)
    assert fresh_totp_code(secret, step - 1, now) == totp.at(now)
    assert fresh_totp_code(secret, step, now) == totp.at(now + TIME_STEP)
    assert fresh_totp_code(secret, step + 1, now) is None  # then a recovery code, or a new client
