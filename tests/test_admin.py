"""Supervisors manage organizations and users: create, change role, deactivate and
reactivate, set a temporary password. Each change is audited; the last active supervisor
stays a supervisor."""

import pytest

from tests.conftest import PASSWORD, AuthActions, csrf_token
from tests.helpers import audit_entries, count, field_html, form_with, page_text
from tracker.auth import services as auth_services
from tracker.auth.models import Organization, User
from tracker.extensions import db

TEMPORARY_PASSWORD = "temporary-quartz-otter-19"
SHORT_PASSWORD = "eleven-char"  # 11 characters, one short of the minimum


@pytest.fixture
def supervisor(login_as):
    return login_as("supervisor", name="Sky Supervisor")


@pytest.fixture
def other_client(app, client):
    """A second browser, for the user whose account is being changed."""
    return app.test_client()


def post(client, path, **data):
    return client.post(path, data=data | {"csrf_token": csrf_token(client, "/admin/users")})


def user_row(user_id) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def is_logged_in(client) -> bool:
    return client.get("/petitions").status_code == 200


def can_log_in(app, user, password=PASSWORD) -> bool:
    return AuthActions(app.test_client()).login(user, password).destination is not None


def events_about(user, action):
    return audit_entries(category="security", action=action, subject_user_id=user.id)


# --- organizations ----------------------------------------------------------------------------


def test_supervisor_creates_an_organization(client, supervisor):
    response = post(client, "/admin/organizations", name="  Clemency Clinic  ")

    assert response.status_code == 302
    organization = auth_services.find_organization("Clemency Clinic")
    assert organization.name == "Clemency Clinic"  # stored without the spaces
    assert organization is not None and organization.active
    [created] = audit_entries(action="organization_created")
    assert (created.category, created.actor_id) == ("security", supervisor.id)
    assert created.details == {"organization_id": organization.id, "name": "Clemency Clinic"}
    assert "Clemency Clinic" in page_text(client.get("/admin/organizations"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        (
            "justice forward PROJECT",
            "An organization named 'justice forward PROJECT' already exists.",
        ),
    ],
    ids=["empty", "duplicate-in-another-case"],
)
def test_organization_form_errors(client, supervisor, make_organization, name, message):
    make_organization("Justice Forward Project")
    organizations = count(Organization)

    response = post(client, "/admin/organizations", name=name)

    assert response.status_code == 422
    assert message in field_html(page_text(response), "name")
    assert form_with(response, "name").fields["name"] == name
    assert count(Organization) == organizations
    assert audit_entries(action="organization_created", actor_id=supervisor.id) == []


def test_organization_is_deactivated_and_reactivated(
    client, other_client, supervisor, make_user, make_organization
):
    organization = make_organization()
    advocate = make_user("advocate", organization=organization)
    AuthActions(other_client).login(advocate)
    assert other_client.get("/petitions/new").status_code == 200

    assert post(client, f"/admin/organizations/{organization.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, organization.id).active is False
    # Its advocates are cut off: their open session ended, and they cannot sign in again.
    assert other_client.get("/petitions/new").headers["Location"].startswith("/login")
    assert AuthActions(other_client).login(advocate).destination is None

    assert post(client, f"/admin/organizations/{organization.id}/reactivate").status_code == 302
    db.session.expire_all()
    assert db.session.get(Organization, organization.id).active is True
    assert AuthActions(other_client).login(advocate).destination is not None
    assert other_client.get("/petitions/new").status_code == 200
    changes = [e.action for e in audit_entries(category="security", actor_id=supervisor.id)]
    assert changes[-2:] == ["organization_deactivated", "organization_reactivated"]


# --- creating users ---------------------------------------------------------------------------


def new_user_form(**overrides):
    return {
        "email": "New.Advocate@Example.org",
        "name": "Nia Advocate",
        "role": "advocate",
        "organization": "",
        "password": TEMPORARY_PASSWORD,
    } | overrides


def test_supervisor_creates_a_user_with_a_temporary_password(
    app, client, supervisor, make_organization
):
    organization = make_organization("Justice Forward Project")

    response = post(client, "/admin/users", **new_user_form(organization=str(organization.id)))

    assert response.status_code == 302
    user = auth_services.find_user_by_email("new.advocate@example.org")
    assert user.email == "new.advocate@example.org"
    assert (user.name, user.role, user.organization_id) == (
        "Nia Advocate",
        "advocate",
        organization.id,
    )
    assert user.active and user.must_change_password
    [created] = events_about(user, "user_created")
    assert created.actor_id == supervisor.id
    assert created.details == {
        "email": "new.advocate@example.org",
        "role": "advocate",
        "organization": "Justice Forward Project",
    }
    first_login = AuthActions(app.test_client()).login(user, TEMPORARY_PASSWORD)
    assert first_login.destination == "/account/password"


def test_staff_are_created_without_an_organization(client, supervisor, make_organization):
    organization = make_organization()
    response = post(
        client,
        "/admin/users",
        **new_user_form(
            email="new.reviewer@example.org", role="reviewer", organization=str(organization.id)
        ),
    )
    assert response.status_code == 302
    user = auth_services.find_user_by_email("new.reviewer@example.org")
    assert (user.role, user.organization_id) == ("reviewer", None)


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter an e-mail address."),
        (
            {"email": "EXISTING.Person@example.ORG"},
            "email",
            "A user with the e-mail existing.person@example.org already exists.",
        ),
        ({"name": ""}, "name", "This field is required."),
        ({"password": SHORT_PASSWORD}, "password", "12"),
        ({"role": "janitor"}, "role", "Not a valid choice."),
        (
            {"role": "advocate", "organization": ""},
            "organization",
            "An advocate belongs to an organization.",
        ),
    ],
    ids=[
        "no-email",
        "not-an-email",
        "duplicate-email",
        "no-name",
        "short-password",
        "unknown-role",
        "advocate-without-organization",
    ],
)
def test_user_form_errors(client, supervisor, make_user, typed, field, message):
    make_user("reviewer", email="existing.person@example.org")
    users = count(User)
    data = new_user_form(**typed)

    response = post(client, "/admin/users", **data)

    assert response.status_code == 422
    body = page_text(response)
    assert message in field_html(body, field)
    shown = form_with(response, "email").fields
    assert (shown["email"], shown["name"]) == (data["email"], data["name"])
    assert TEMPORARY_PASSWORD not in body  # a password is never sent back
    assert count(User) == users
    assert audit_entries(action="user_created", actor_id=supervisor.id) == []


# --- changing a role --------------------------------------------------------------------------


def test_role_change_is_audited_and_ends_the_users_sessions(
    client, other_client, supervisor, make_user, make_organization
):
    reviewer = make_user("reviewer")
    organization = make_organization("Second Chance Clemency Clinic")
    AuthActions(other_client).login(reviewer)
    assert is_logged_in(other_client)
    assert reviewer.name in page_text(client.get(f"/admin/users/{reviewer.id}"))

    response = post(
        client,
        f"/admin/users/{reviewer.id}/role",
        role="advocate",
        organization=str(organization.id),
    )

    assert response.status_code == 302
    row = user_row(reviewer.id)
    assert (row.role, row.organization_id) == ("advocate", organization.id)
    [changed] = events_about(reviewer, "role_changed")
    assert changed.actor_id == supervisor.id
    assert changed.changes == {
        "role": ["reviewer", "advocate"],
        "organization": [None, "Second Chance Clemency Clinic"],
    }
    assert not is_logged_in(other_client)


def test_role_change_to_advocate_needs_an_organization(client, supervisor, make_user):
    reviewer = make_user("reviewer")
    response = post(client, f"/admin/users/{reviewer.id}/role", role="advocate", organization="")
    assert response.status_code == 422
    message = "An advocate belongs to an organization."
    assert message in field_html(page_text(response), "organization")
    assert user_row(reviewer.id).role == "reviewer"
    assert events_about(reviewer, "role_changed") == []


# --- deactivating and reactivating ------------------------------------------------------------


def test_user_is_deactivated_and_reactivated(app, client, other_client, supervisor, make_user):
    advocate = make_user("advocate")
    AuthActions(other_client).login(advocate)
    assert is_logged_in(other_client)

    assert post(client, f"/admin/users/{advocate.id}/deactivate").status_code == 302

    assert user_row(advocate.id).active is False
    assert not is_logged_in(other_client)
    assert not can_log_in(app, advocate)
    [deactivated] = events_about(advocate, "user_deactivated")
    assert deactivated.actor_id == supervisor.id

    assert post(client, f"/admin/users/{advocate.id}/reactivate").status_code == 302

    assert user_row(advocate.id).active is True
    assert can_log_in(app, advocate)
    [reactivated] = events_about(advocate, "user_reactivated")
    assert reactivated.actor_id == supervisor.id


# --- the last active supervisor ---------------------------------------------------------------


@pytest.fixture(params=["alone", "other supervisor deactivated"])
def last_supervisor(request, supervisor, make_user):
    """The logged-in supervisor, the only *active* one."""
    if request.param != "alone":
        other = make_user("supervisor")
        auth_services.set_user_active(supervisor, other, False)
        db.session.commit()
    return supervisor


def test_last_active_supervisor_cannot_be_deactivated(client, last_supervisor):
    response = post(client, f"/admin/users/{last_supervisor.id}/deactivate")

    assert response.status_code == 409
    assert (
        f"{last_supervisor.email} is the last active supervisor and cannot be deactivated."
        in page_text(response)
    )
    assert user_row(last_supervisor.id).active is True
    assert events_about(last_supervisor, "user_deactivated") == []
    assert is_logged_in(client)


def test_last_active_supervisor_cannot_be_demoted(client, last_supervisor):
    response = post(
        client, f"/admin/users/{last_supervisor.id}/role", role="reviewer", organization=""
    )

    assert response.status_code == 422
    assert (
        f"{last_supervisor.email} is the last active supervisor and cannot be demoted."
        in field_html(page_text(response), "role")
    )
    assert user_row(last_supervisor.id).role == "supervisor"
    assert events_about(last_supervisor, "role_changed") == []
    assert is_logged_in(client)


@pytest.mark.parametrize("change", ["deactivate", "demote"])
def test_a_supervisor_may_go_while_another_remains(client, supervisor, make_user, change):
    other = make_user("supervisor")
    if change == "deactivate":
        response = post(client, f"/admin/users/{other.id}/deactivate")
    else:
        response = post(client, f"/admin/users/{other.id}/role", role="reviewer", organization="")
    assert response.status_code == 302
    row = user_row(other.id)
    assert (row.active, row.role) == (
        (False, "supervisor") if change == "deactivate" else (True, "reviewer")
    )


# --- temporary passwords ----------------------------------------------------------------------


def test_temporary_password_ends_sessions_and_must_be_changed(
    app, client, other_client, supervisor, make_user
):
    reviewer = make_user("reviewer")
    AuthActions(other_client).login(reviewer)
    assert is_logged_in(other_client)

    response = post(client, f"/admin/users/{reviewer.id}/password", password=TEMPORARY_PASSWORD)

    assert response.status_code == 302
    assert user_row(reviewer.id).must_change_password is True
    [reset] = events_about(reviewer, "password_reset")
    assert reset.actor_id == supervisor.id
    assert not is_logged_in(other_client)
    assert not can_log_in(app, reviewer)  # the old password is gone
    login = AuthActions(app.test_client()).login(reviewer, TEMPORARY_PASSWORD)
    assert login.destination == "/account/password"


def test_temporary_password_must_be_long_enough(app, client, supervisor, make_user):
    reviewer = make_user("reviewer")
    response = post(client, f"/admin/users/{reviewer.id}/password", password=SHORT_PASSWORD)
    assert response.status_code == 422
    assert "12" in field_html(page_text(response), "password")
    assert user_row(reviewer.id).must_change_password is False
    assert events_about(reviewer, "password_reset") == []
    assert can_log_in(app, reviewer)


@pytest.mark.parametrize("action", ["role", "password", "deactivate", "reactivate"])
def test_unknown_user_is_404(client, supervisor, action):
    assert client.get("/admin/users/999999").status_code == 404
    assert post(client, f"/admin/users/999999/{action}", role="reviewer").status_code == 404
