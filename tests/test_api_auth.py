"""API tokens: made on the profile page or by an operator, stored as a hash, revocable;
the API accepts them and nothing else (no session cookie, no CSRF token needed)."""

import gc
import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.api_helpers import petition_json, problem_of
from tests.conftest import csrf_token
from tests.helpers import audit_entries, column_values, page_text
from tracker.auth import services as auth_services
from tracker.auth import tokens
from tracker.auth.models import ApiToken, User
from tracker.extensions import db

TOKEN_ON_PAGE = re.compile(r'id="new-token">(ct_[A-Za-z0-9_-]+)<')

pytest_plugins = ["tests.api_fixtures"]


def token_rows(user):
    db.session.expire_all()
    return tokens.user_tokens(user)


# --- the profile page ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "supervisor"])
def test_staff_find_their_tokens_on_the_account_page_not_in_the_menu(client, login_as, role):
    login_as(role)
    assert "API tokens" not in page_text(client.get("/petitions"))
    account = client.get("/account").get_data(as_text=True)
    assert 'href="/account/tokens"' in account


def test_an_advocate_who_holds_a_token_finds_it_on_the_account_page(client, login_as):
    user = login_as("advocate")
    tokens.create_token(user, "import script")
    db.session.commit()
    assert 'href="/account/tokens"' in client.get("/account").get_data(as_text=True)


def test_a_user_creates_a_token_on_the_profile_page_and_sees_it_once(client, login_as):
    user = login_as("advocate")
    # Advocates are not offered tokens (issue 16) until they hold one, but the page is theirs.
    assert "API tokens" not in page_text(client.get("/petitions"))
    assert "API tokens" not in page_text(client.get("/account"))

    response = client.post(
        "/account/tokens",
        data={
            "name": "weekly import",
            "csrf_token": csrf_token(client, "/account/tokens"),
        },
    )

    assert response.status_code == 200
    plaintext = TOKEN_ON_PAGE.search(response.get_data(as_text=True))[1]
    [token] = token_rows(user)
    assert token.name == "weekly import"
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(token.prefix) and len(plaintext) > 40
    assert response.headers["Cache-Control"] == "no-store"
    again = client.get("/account/tokens").get_data(as_text=True)
    assert plaintext not in again and token.prefix in again and "Never" in again
    [entry] = audit_entries(action="api_token_created")
    assert (entry.category, entry.actor_id, entry.subject_user_id) == ("security", user.id, user.id)
    assert entry.details == {"token_id": token.id, "name": "weekly import", "prefix": token.prefix}


def test_a_token_needs_a_name(client, login_as):
    user = login_as("reviewer")
    response = client.post(
        "/account/tokens",
        data={
            "name": "  ",
            "csrf_token": csrf_token(client, "/account/tokens"),
        },
    )
    assert response.status_code == 422
    assert token_rows(user) == []


def test_a_user_revokes_a_token_and_it_stops_working(client, login_as, issue_token):
    user = login_as("advocate")
    plaintext = issue_token(user, "old script")
    [token] = token_rows(user)

    response = client.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens")},
    )

    assert response.status_code == 302
    [token] = token_rows(user)
    assert token.revoked_at is not None
    assert "Revoked" in page_text(client.get("/account/tokens"))
    [entry] = audit_entries(action="api_token_revoked")
    assert (entry.actor_id, entry.subject_user_id, entry.details["token_ids"]) == (
        user.id,
        user.id,
        [token.id],
    )
    response = client.get("/api/v1/petitions", headers={"Authorization": f"Bearer {plaintext}"})
    problem_of(response, 401)


def test_nobody_revokes_another_users_token_from_the_page(client, login_as, make_user, issue_token):
    login_as("supervisor")
    other = make_user("advocate")
    issue_token(other)
    [token] = token_rows(other)
    response = client.post(
        f"/account/tokens/{token.id}/revoke",
        data={"csrf_token": csrf_token(client, "/account/tokens")},
    )
    assert response.status_code == 404
    assert token_rows(other)[0].revoked_at is None


def test_the_token_page_needs_a_login(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the operator's command ----------------------------------------------------------------------


def test_an_operator_issues_a_token(runner, make_user, client):
    user = make_user("reviewer", email="rev@example.org")

    result = runner.invoke(args=["create-token", "REV@example.org", "--name", "nightly"])

    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip().splitlines()[-1]
    [token] = token_rows(user)
    assert token.token_hash == tokens.token_hash(plaintext) and token.name == "nightly"
    [entry] = audit_entries(action="api_token_created")
    assert (entry.actor_id, entry.subject_user_id, entry.user_agent) == (None, user.id, "cli")
    response = client.get("/api/v1/petitions", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody@example.org", "--name", "x"], "No user with the e-mail"),
        (["{email}", "--name", "  "], "Name the token"),
    ],
)
def test_create_token_refuses(runner, make_user, args, message):
    user = make_user("advocate")
    result = runner.invoke(args=["create-token", *[a.format(email=user.email) for a in args]])
    assert result.exit_code != 0 and message in result.output
    assert token_rows(user) == []


# --- what a token is worth -----------------------------------------------------------------------


def test_no_token_is_401_with_a_challenge(client):
    body = problem_of(client.get("/api/v1/petitions"), 401)
    assert "Bearer" in body["detail"]
    assert client.get("/api/v1/petitions").headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ct_not-a-real-token-at-all",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer \u00e9t\u00e9",
        "ct_without_scheme",
    ],
)
def test_a_bad_token_is_401(client, header):
    response = client.get("/api/v1/petitions", headers={"Authorization": header})
    problem_of(response, 401)


def test_a_session_cookie_alone_is_401_everywhere_on_the_api(client, login_as, make_petition):
    user = login_as("advocate")
    petition = make_petition(advocate=user)
    assert client.get(f"/petitions/{petition.case_number}").status_code == 200  # logged in
    for method, path in [
        ("GET", "/api/v1/petitions"),
        ("POST", "/api/v1/petitions"),
        ("GET", f"/api/v1/petitions/{petition.case_number}"),
        ("PATCH", f"/api/v1/petitions/{petition.case_number}"),
        ("POST", f"/api/v1/petitions/{petition.case_number}/transitions"),
        ("GET", f"/api/v1/petitions/{petition.case_number}/history"),
        ("POST", "/api/v1/petitions/import"),
        ("POST", "/api/v1/decisions"),
    ]:
        problem_of(client.open(path, method=method, json={}), 401)


def test_the_api_needs_no_csrf_token(api_as):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json())
    assert response.status_code == 201, response.get_json()


def test_a_deactivated_users_token_stops_working(api_as, make_user):
    api = api_as("advocate")
    assert api.get("/api/v1/petitions").status_code == 200
    supervisor = make_user("supervisor")
    auth_services.set_user_active(supervisor, api.user, False)
    db.session.commit()
    problem_of(api.get("/api/v1/petitions"), 401)


def test_revoke_user_tokens_revokes_them_all_in_one_audit_entry(api_as, issue_token):
    api = api_as("reviewer")
    issue_token(api.user, "second")
    assert tokens.revoke_user_tokens(api.user) == 2
    db.session.commit()
    assert all(t.revoked_at is not None for t in token_rows(api.user))
    [entry] = audit_entries(action="api_token_revoked")
    assert entry.subject_user_id == api.user.id and len(entry.details["token_ids"]) == 2
    problem_of(api.get("/api/v1/petitions"), 401)
    assert tokens.revoke_user_tokens(api.user) == 0


def test_last_use_is_noted_at_most_once_a_minute(api_as):
    api = api_as("advocate")
    [token] = token_rows(api.user)
    assert token.last_used_at is None
    api.get("/api/v1/petitions")
    [token] = token_rows(api.user)
    first_use = token.last_used_at
    assert first_use is not None
    api.get("/api/v1/petitions")
    assert token_rows(api.user)[0].last_used_at == first_use
    token.last_used_at = first_use - timedelta(minutes=2)
    db.session.commit()
    api.get("/api/v1/petitions")
    assert token_rows(api.user)[0].last_used_at > first_use


def test_a_token_acts_with_its_users_organization(api_as, make_petition):
    api = api_as("advocate")
    ours = make_petition(advocate=api.user)
    theirs = make_petition()
    listed = [p["case_number"] for p in api.get("/api/v1/petitions").get_json()["items"]]
    assert listed == [ours.case_number]
    problem_of(api.get(f"/api/v1/petitions/{theirs.case_number}"), 404)
    [refusal] = audit_entries(action="access_refused")
    assert refusal.actor_id == api.user.id and refusal.details["case_number"] == theirs.case_number


def test_tokens_are_stored_only_as_hashes(api_as):
    api = api_as("supervisor")
    db.session.expire_all()
    stored = db.session.get(ApiToken, token_rows(api.user)[0].id)
    assert api.token not in {stored.token_hash, stored.prefix, stored.name}
    assert len(stored.prefix) < len(api.token) // 3


# --- the token's user, made from its row ------------------------------------------------------


@pytest.mark.parametrize("role", ["advocate", "reviewer"])
def test_a_tokens_user_is_made_as_the_orm_would_load_it(
    role, make_user, issue_token, count_statements
):
    """authenticate_token reads the token, its user and their organization with Core and
    makes the User and Organization from the row: they must be what the ORM's loading gives,
    persistent in the session with nothing to write, the organization held by the user."""
    plaintext = issue_token(make_user(role))
    db.session.expunge_all()
    user = tokens.authenticate_token(plaintext)
    gc.collect()  # the session holds its clean instances weakly: what nothing holds is gone
    assert sa.inspect(user).persistent and user in db.session
    assert not db.session.dirty and not db.session.new
    with count_statements() as statements:
        made = column_values(user), column_values(user.organization)
        db.session.flush()
    assert statements == []
    assert (made[1] is None) == (role != "advocate")
    db.session.expunge_all()
    loaded = db.session.get(User, made[0]["id"])
    assert made == (column_values(loaded), column_values(loaded.organization))


def test_a_tokens_user_already_in_the_session_is_that_instance(make_user, issue_token):
    user = make_user("advocate")
    plaintext = issue_token(user)
    assert tokens.authenticate_token(plaintext) is user
    assert tokens.authenticate_token(plaintext).organization is user.organization
