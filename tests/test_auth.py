"""Logging in and out, changing one's password, temporary passwords, the ``next`` parameter,
and the security events each of these writes to the audit log."""

import re
from urllib.parse import urlencode

import pytest
from flask import template_rendered

from tests.conftest import PASSWORD, AuthActions, csrf_token
from tests.helpers import audit_entries, field_html, page_text
from tracker.auth import services as auth_services
from tracker.extensions import db

FAILED_LOGIN = "Wrong e-mail or password, or the account is inactive."
NEW_PASSWORD = "violet-harbor-lantern-58"
TEMPORARY_PASSWORD = "temporary-quartz-otter-19"
SHORT_PASSWORD = "eleven-char"  # 11 characters, one short of the minimum


def log_in(client, email, password, next_path=None):
    url = "/login" + (f"?{urlencode({'next': next_path})}" if next_path is not None else "")
    return client.post(
        url,
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_token(client, "/login"),
        },
    )


def error_messages(response) -> list[str]:
    return re.findall(r'class="invalid-feedback[^"]*">([^<]*)<', page_text(response))


def is_logged_in(client) -> bool:
    response = client.get("/petitions")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def security_events(user) -> list[str]:
    entries = audit_entries(category="security")
    return [e.action for e in entries if user.id in (e.actor_id, e.subject_user_id)]


@pytest.fixture
def other_client(app, client):
    """A second browser (``client`` first, so it is built with the same client class)."""
    return app.test_client()


# --- the sign-in page -------------------------------------------------------------------------


def _without_token(body: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "TOKEN", body)


def test_each_visitor_gets_the_kept_sign_in_page_with_their_own_token(
    client, other_client, make_user
):
    """The empty sign-in page is rendered once per language; each visitor's copy carries a
    token of their own, which their sign-in accepts and another visitor's does not."""
    first = client.get("/login")
    rendered = []
    with template_rendered.connected_to(lambda *_, template, **__: rendered.append(template)):
        second = other_client.get("/login")

    assert rendered == []  # the kept page, its token put in

    assert first.status_code == second.status_code == 200
    assert _without_token(page_text(first)) == _without_token(page_text(second))
    assert csrf_token(client, "/login") != csrf_token(other_client, "/login")
    user = make_user("advocate")
    stolen = csrf_token(other_client, "/login")
    refused = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": stolen}
    )
    assert refused.status_code == 400
    assert log_in(client, user.email, PASSWORD).status_code == 302


def test_the_kept_sign_in_page_is_one_per_language(client, other_client):
    english = page_text(client.get("/login", headers={"Accept-Language": "en"}))
    spanish = page_text(other_client.get("/login", headers={"Accept-Language": "es"}))
    again = page_text(client.get("/login", headers={"Accept-Language": "en"}))

    assert '<html lang="en">' in english and "Log in" in english
    assert '<html lang="es">' in spanish and "Log in" not in spanish
    assert _without_token(again) == _without_token(english)


def test_the_sign_in_page_still_shows_a_flashed_message(client):
    redirected = client.get("/petitions")
    assert redirected.status_code == 302

    shown = page_text(client.get("/login"))
    after = page_text(client.get("/login"))

    assert "Please log in to continue." in shown
    assert "Please log in to continue." not in after  # shown once, as any flash


# --- logging in -------------------------------------------------------------------------------


def test_login_succeeds_and_is_audited(client, make_user):
    user = make_user("advocate", name="Riley Reviewer")  # staff give a code too: test_two_factor

    response = log_in(client, user.email, PASSWORD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/petitions")
    assert page.status_code == 200
    assert "Riley Reviewer" in page_text(page)
    [login] = audit_entries(action="login")
    assert (login.category, login.actor_id) == ("security", user.id)


def test_login_ignores_the_case_of_the_email(client, make_user):
    user = make_user("advocate", email="mixed.case@example.org")
    assert log_in(client, "Mixed.Case@EXAMPLE.org", PASSWORD).status_code == 302
    assert is_logged_in(client)
    assert audit_entries(action="login")[-1].actor_id == user.id


@pytest.mark.parametrize("mistake", ["wrong password", "unknown e-mail"])
def test_failed_login_says_only_that_it_failed(client, make_user, mistake):
    user = make_user("advocate")
    email, password = {
        "wrong password": (user.email, "not-the-right-password"),
        "unknown e-mail": ("nobody-here@example.org", PASSWORD),
    }[mistake]

    response = log_in(client, email, password)

    assert response.status_code == 200
    assert error_messages(response) == [FAILED_LOGIN]
    assert FAILED_LOGIN in field_html(page_text(response), "password")
    assert not is_logged_in(client)
    [failure] = audit_entries(action="login_failed")
    assert failure.category == "security"
    assert failure.actor_id is None
    assert failure.details["email"] == email
    assert failure.subject_user_id == (user.id if mistake == "wrong password" else None)
    assert audit_entries(action="login") == []


def test_wrong_password_and_unknown_email_look_the_same(client, make_user):
    user = make_user("advocate", email="known@example.org")
    wrong_password = log_in(client, user.email, "not-the-right-password")
    unknown_email = log_in(client, "unknown@example.org", PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code
    assert error_messages(wrong_password) == error_messages(unknown_email) == [FAILED_LOGIN]
    without_email = [
        page_text(r).replace(email, "")
        for r, email in ((wrong_password, user.email), (unknown_email, "unknown@example.org"))
    ]
    without_tokens = [re.sub(r'value="[^"]{40,}"', "", text) for text in without_email]
    assert without_tokens[0] == without_tokens[1]


def test_deactivated_user_cannot_log_in(client, make_user):
    supervisor, user = make_user("supervisor"), make_user("reviewer")
    auth_services.set_user_active(supervisor, user, False)
    db.session.commit()

    response = log_in(client, user.email, PASSWORD)

    assert response.status_code == 200
    assert error_messages(response) == [FAILED_LOGIN]
    assert not is_logged_in(client)
    failure = audit_entries(action="login_failed")[-1]
    assert (failure.subject_user_id, failure.details["reason"]) == (user.id, "inactive")


def test_deactivating_a_user_ends_their_session(client, auth, make_user):
    supervisor, user = make_user("supervisor"), make_user("advocate")
    auth.login(user)
    assert is_logged_in(client)

    auth_services.set_user_active(supervisor, user, False)
    db.session.commit()

    response = client.get("/petitions")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- logging out ------------------------------------------------------------------------------


def test_logout_needs_a_post(client, login_as):
    login_as("reviewer")
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)
    assert audit_entries(action="logout") == []


def test_logout_ends_the_session_and_is_audited(client, auth, login_as):
    user = login_as("reviewer")

    response = auth.logout()

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not is_logged_in(client)
    [logout] = audit_entries(action="logout")
    assert (logout.category, logout.actor_id) == ("security", user.id)


def test_login_failure_login_and_logout_are_audited_in_order(client, auth, make_user):
    user = make_user("supervisor")
    log_in(client, user.email, "not-the-right-password")
    auth.login(user)
    auth.logout()
    assert security_events(user)[-4:] == ["login_failed", "login", "two_factor_enrolled", "logout"]


# --- the next parameter -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/petitions", "/petitions"),
        ("/petitions?stage=received", "/petitions?stage=received"),
        ("//evil.com", "/"),
        ("/\\evil.com", "/"),
        ("https://evil.com", "/"),
        ("http://localhost/petitions", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.com", "/"),
        ("", "/"),
    ],
)
def test_login_follows_only_local_next_paths(client, make_user, next_path, lands_on):
    user = make_user("advocate")  # no second factor: the password step redirects at once
    response = log_in(client, user.email, PASSWORD, next_path=next_path)
    assert response.status_code == 302
    assert response.headers["Location"] == lands_on


# --- changing one's password ------------------------------------------------------------------


def change_password(client, current, new, confirm=None):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            "csrf_token": csrf_token(client, "/account/password"),
        },
    )


def test_user_changes_their_password(client, other_client, auth, login_as):
    user = login_as("advocate")
    AuthActions(other_client).login(user)
    assert is_logged_in(other_client)

    response = change_password(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert is_logged_in(client)  # this session stays
    assert not is_logged_in(other_client)  # the others end
    assert security_events(user)[-1] == "password_changed"
    auth.logout()
    assert error_messages(log_in(client, user.email, PASSWORD)) == [FAILED_LOGIN]
    assert log_in(client, user.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        (
            "not-my-password-at-all",
            NEW_PASSWORD,
            None,
            "current_password",
            "That is not your current password.",
        ),
        (PASSWORD, SHORT_PASSWORD, None, "new_password", "12"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "confirm_password", "The passwords differ."),
        (PASSWORD, PASSWORD, None, "new_password", "different from the current one"),
    ],
    ids=["wrong-current", "too-short", "confirmation-differs", "same-as-before"],
)
def test_password_change_errors(client, auth, login_as, current, new, confirm, field, message):
    user = login_as("reviewer")

    response = change_password(client, current, new, confirm)

    assert response.status_code in (200, 422)
    assert message in field_html(page_text(response), field)
    assert "password_changed" not in security_events(user)
    auth.logout()
    assert log_in(client, user.email, PASSWORD).status_code == 302  # the old password still works


def test_temporary_password_must_be_changed_at_next_login(client, make_user, make_petition):
    supervisor = make_user("supervisor")
    petition = make_petition()
    user = make_user("advocate", organization=petition.organization)
    auth_services.set_temporary_password(supervisor, user, TEMPORARY_PASSWORD)
    db.session.commit()
    assert error_messages(log_in(client, user.email, PASSWORD)) == [FAILED_LOGIN]

    response = log_in(client, user.email, TEMPORARY_PASSWORD, next_path="/petitions")

    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    for path in ("/petitions", f"/petitions/{petition.case_number}", "/"):
        blocked = client.get(path)
        assert (blocked.status_code, blocked.headers.get("Location")) == (302, "/account/password")
    page = client.get("/account/password")
    assert "Choose your own to continue" in page_text(page)

    assert change_password(client, TEMPORARY_PASSWORD, NEW_PASSWORD).status_code == 302

    assert is_logged_in(client)
    db.session.expire_all()
    assert db.session.get(type(user), user.id).must_change_password is False
