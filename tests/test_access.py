"""Who may reach what: another organization's case is a 404 on every petition route, logged
out users go to the login page, supervisor pages are 403 for everyone else, a POST without
a CSRF token changes nothing, and fields a user may not set are ignored.

The routes are read from the URL map, so a route added later is covered without editing
these tests.
"""

import re
from urllib.parse import urlsplit

import pytest

from tests.conftest import csrf_token
from tests.helpers import (
    accounts_snapshot,
    audit_entries,
    count,
    edit_form,
    notes_of,
    page_text,
    petition_by_case_number,
    petition_form,
    petition_row,
)
from tracker import create_app
from tracker.audit.models import AuditVerification
from tracker.petitions.models import Petition
from tracker.workflow import Stage

#: The URL map of an app built like the suite's (creating an app touches no database).
URL_MAP = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://").url_map


def routes(selected) -> list:
    """(endpoint, method, argument names) of every rule ``selected`` accepts, one per method."""
    return [
        pytest.param(rule.endpoint, method, frozenset(rule.arguments), id=f"{method} {rule.rule}")
        for rule in sorted(URL_MAP.iter_rules(), key=lambda r: r.rule)
        if selected(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


PETITION_ROUTES = routes(lambda rule: rule.rule.startswith("/petitions/<case_number>"))
SUPERVISOR_ROUTES = routes(lambda rule: rule.rule.startswith(("/audit/", "/admin/")))
#: Pages anyone may read without signing in (issue 14: the public statistics).
PUBLIC_ENDPOINTS = frozenset({"statistics.public", "statistics.public_csv"})
#: Every page of the web app but the login page, the public pages and static files (the JSON
#: API answers anonymous callers with 401 instead, and is tested with the API).
LOGIN_REQUIRED_ROUTES = routes(
    lambda rule: (
        not rule.endpoint.endswith("static")
        and rule.endpoint != "auth.login"
        and rule.endpoint not in PUBLIC_ENDPOINTS
        and not rule.rule.startswith("/api/")
    )
)


def build_url(app, endpoint, method, arguments, values) -> str:
    missing = arguments - values.keys()
    assert not missing, f"give these tests a value for the URL argument(s) {sorted(missing)}"
    return app.url_map.bind("localhost").build(
        endpoint, {name: values[name] for name in arguments}, method=method
    )


def test_the_route_lists_cover_the_known_routes():
    """A guard on the discovery itself: an empty or partial list would prove nothing."""
    assert {(p.values[0], p.values[1]) for p in PETITION_ROUTES} >= {
        ("petitions.show", "GET"),
        ("petitions.edit", "GET"),
        ("petitions.edit", "POST"),
        ("petitions.transition", "POST"),
        ("petitions.take", "POST"),
        ("petitions.assign", "POST"),
        ("petitions.add_note", "POST"),
    }
    assert {p.values[0] for p in SUPERVISOR_ROUTES} >= {
        "audit.log",
        "audit.verify",
        "admin.users",
        "admin.user",
        "admin.change_role",
        "admin.set_password",
        "admin.deactivate",
        "admin.reactivate",
        "admin.organizations",
        "admin.set_organization_active",
    }
    assert {p.values[0] for p in LOGIN_REQUIRED_ROUTES} >= {
        "petitions.home",
        "petitions.queue",
        "petitions.new",
        "auth.logout",
        "auth.change_password",
    }


# --- another organization's case --------------------------------------------------------------


def everything_a_form_could_post(petition, token) -> dict:
    """The fields of every petition form, so each POST route would act if it were allowed."""
    version = str(petition.version)
    return petition_form(sentence="1 day") | {
        "version": version,
        "csrf_token": token,
        "transition-action": "start_review",
        "transition-reason": "Crossing over.",
        "transition-version": version,
        "take-version": version,
        "assign-assignee": "",
        "assign-version": version,
        "note-body": "Written from another organization.",
        "note-visibility": "shared",
    }


@pytest.mark.parametrize(("endpoint", "method", "arguments"), PETITION_ROUTES)
def test_another_organizations_case_is_404_everywhere(
    app, client, login_as, make_petition, endpoint, method, arguments
):
    advocate = login_as("advocate")
    petition = make_petition(petitioner_name="Other Organization's Petitioner")
    assert petition.organization_id != advocate.organization_id
    token = csrf_token(client)
    before, history, notes = (
        petition_row(petition.id),
        audit_entries(petition_id=petition.id),
        notes_of(petition.id),
    )
    refusals_before = len(audit_entries(action="access_refused"))
    url = build_url(app, endpoint, method, arguments, {"case_number": petition.case_number})

    response = client.open(url, method=method, data=everything_a_form_could_post(petition, token))

    assert response.status_code == 404
    assert "Other Organization's Petitioner" not in page_text(response)
    [refusal] = audit_entries(action="access_refused")[refusals_before:]
    assert (refusal.category, refusal.actor_id) == ("security", advocate.id)
    assert refusal.details["case_number"] == petition.case_number
    assert petition_row(petition.id) == before
    assert audit_entries(petition_id=petition.id) == history
    assert notes_of(petition.id) == notes


def test_another_organizations_case_looks_like_a_missing_one(client, login_as, make_petition):
    login_as("advocate")
    petition = make_petition()
    missing = "CP-1999-999999"

    refused = client.get(f"/petitions/{petition.case_number}")
    absent = client.get(f"/petitions/{missing}")

    assert refused.status_code == absent.status_code == 404

    def without_csrf_token(text: str) -> str:
        # The token is signed with a time stamp: two requests a second apart differ there.
        return re.sub(r'(name="csrf_token" value=")[^"]*"', r'\1"', text)

    assert without_csrf_token(
        page_text(refused).replace(petition.case_number, missing)
    ) == without_csrf_token(page_text(absent))


def test_advocate_sees_their_own_organizations_cases(client, login_as, make_user, make_petition):
    advocate = login_as("advocate")
    colleague = make_user("advocate", organization=advocate.organization)
    petition = make_petition(advocate=colleague)
    assert client.get(f"/petitions/{petition.case_number}").status_code == 200
    assert audit_entries(action="access_refused") == []


# --- logged out -------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "method", "arguments"), LOGIN_REQUIRED_ROUTES)
def test_anonymous_users_are_sent_to_the_login_page(
    app, client, make_petition, make_user, endpoint, method, arguments
):
    petition = make_petition()
    values = {
        "case_number": petition.case_number,
        "user_id": make_user("reviewer").id,
        "organization_id": petition.organization_id,
        "change": "deactivate",
        "file_format": "csv",
        "token_id": 1,
        "document_id": 1,
        "notification_id": 1,
        "referral_id": 1,
        "act_id": 1,
        "name": "stages",
        "table": "fiscal-year",
    }
    url = build_url(app, endpoint, method, arguments, values)
    data = {"csrf_token": csrf_token(client, "/login")} if method == "POST" else None
    before = petition_row(petition.id)

    response = client.open(url, method=method, data=data)

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert petition_row(petition.id) == before


def test_login_page_remembers_where_the_user_was_going(client, make_user, make_petition, auth):
    petition = make_petition()
    response = client.get(f"/petitions/{petition.case_number}")
    login_url = response.headers["Location"]
    user = make_user("advocate", organization=petition.organization)

    response = client.post(
        login_url,
        data={
            "email": user.email,
            "password": "correct horse battery staple",
            "csrf_token": csrf_token(client, login_url),
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/petitions/{petition.case_number}"


# --- supervisor pages -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["advocate", "reviewer"])
@pytest.mark.parametrize(("endpoint", "method", "arguments"), SUPERVISOR_ROUTES)
def test_supervisor_pages_are_403_for_others(
    app, client, login_as, make_user, make_organization, role, endpoint, method, arguments
):
    user = login_as(role)
    values = {
        "user_id": make_user("supervisor").id,
        "organization_id": make_organization().id,
        "change": "deactivate",
        "file_format": "csv",
    }
    url = build_url(app, endpoint, method, arguments, values)
    data = {
        "csrf_token": csrf_token(client),
        "name": "Smuggled Org",
        "email": "new@example.org",
        "role": "supervisor",
        "organization": "",
        "password": "a-long-enough-password",
    }
    accounts, verifications = accounts_snapshot(), count(AuditVerification)
    refusals_before = len(audit_entries(action="access_refused"))

    response = client.open(url, method=method, data=data if method == "POST" else None)

    assert response.status_code == 403
    [refusal] = audit_entries(action="access_refused")[refusals_before:]
    assert (refusal.category, refusal.actor_id) == ("security", user.id)
    assert refusal.details["path"] == url
    assert accounts_snapshot() == accounts
    assert count(AuditVerification) == verifications


# --- CSRF -------------------------------------------------------------------------------------

#: name: (role, how to build the URL and the form data without a token)
FORGED_POSTS = {
    "submit": ("advocate", lambda p: ("/petitions/new", petition_form() | {"version": "0"})),
    "edit": (
        "advocate",
        lambda p: (
            f"/petitions/{p.case_number}/edit",
            edit_form(p, sentence="1 day") | {"version": p.version},
        ),
    ),
    "transition": (
        "reviewer",
        lambda p: (
            f"/petitions/{p.case_number}/transition",
            {"transition-action": "start_review", "transition-version": p.version},
        ),
    ),
    "take": (
        "reviewer",
        lambda p: (f"/petitions/{p.case_number}/take", {"take-version": p.version}),
    ),
    "note": (
        "reviewer",
        lambda p: (
            f"/petitions/{p.case_number}/notes",
            {"note-body": "Forged note.", "note-visibility": "shared"},
        ),
    ),
}


@pytest.mark.parametrize("token", ["missing", "another session's"])
@pytest.mark.parametrize("name", FORGED_POSTS)
def test_a_post_without_a_valid_csrf_token_changes_nothing(
    app, client, login_as, make_petition, name, token
):
    role, build = FORGED_POSTS[name]
    user = login_as(role)
    petition = make_petition(advocate=user if role == "advocate" else None)
    url, data = build(petition)
    if token != "missing":
        stranger = app.test_client()
        data["csrf_token"] = csrf_token(stranger, "/login")
    before, history, petitions = (
        petition_row(petition.id),
        audit_entries(petition_id=petition.id),
        count(Petition),
    )

    response = client.post(url, data=data)

    assert response.status_code == 400
    assert "The form expired or was not sent by this site" in page_text(response)
    assert petition_row(petition.id) == before
    assert audit_entries(petition_id=petition.id) == history
    assert notes_of(petition.id) == []
    assert count(Petition) == petitions


def test_account_changes_need_a_csrf_token(client, login_as, make_user):
    login_as("supervisor")
    reviewer = make_user("reviewer")
    accounts = accounts_snapshot()
    for action, data in [
        ("deactivate", {}),
        ("role", {"role": "supervisor"}),
        ("password", {"password": "a-long-enough-password"}),
    ]:
        response = client.post(f"/admin/users/{reviewer.id}/{action}", data=data)
        assert response.status_code == 400, action
    assert client.post("/admin/organizations", data={"name": "Forged Org"}).status_code == 400
    assert accounts_snapshot() == accounts


def test_logout_needs_a_csrf_token(client, login_as):
    login_as("reviewer")
    assert client.post("/logout").status_code == 400
    assert client.get("/petitions").status_code == 200  # still logged in
    assert audit_entries(action="logout") == []


# --- fields nobody sets through the petition form ---------------------------------------------


@pytest.fixture
def smuggled(make_user, make_organization):
    """Values for columns the petition form does not offer, pointing somewhere they should not."""
    other_organization = make_organization()
    return {
        "stage": "granted",
        "organization_id": str(other_organization.id),
        "case_number": "CP-1999-999999",
        "assignee_id": str(make_user("reviewer").id),
        "advocate_id": str(make_user("advocate", organization=other_organization).id),
        "decision_reason": "Granted by a form field.",
        "decided_by_id": str(make_user("supervisor").id),
    }


def test_submit_ignores_fields_the_user_may_not_set(client, login_as, smuggled):
    advocate = login_as("advocate")
    data = petition_form() | smuggled | {"version": "0", "csrf_token": csrf_token(client)}

    response = client.post("/petitions/new", data=data)

    assert response.status_code == 302
    petition = petition_by_case_number(response.headers["Location"].removeprefix("/petitions/"))
    assert petition.case_number != smuggled["case_number"]
    assert petition.stage == Stage.RECEIVED
    assert petition.organization_id == advocate.organization_id
    assert petition.advocate_id == advocate.id
    assert petition.assignee_id is None
    assert (petition.decision_reason, petition.decided_by_id) == (None, None)


@pytest.mark.parametrize("role", ["advocate", "reviewer"])
def test_edit_ignores_fields_the_user_may_not_set(client, login_as, make_petition, smuggled, role):
    user = login_as(role)
    petition = make_petition(advocate=user if role == "advocate" else None)
    before = petition_row(petition.id)
    data = (
        edit_form(petition, sentence="96 months' imprisonment")
        | smuggled
        | {
            "version": str(petition.version),
            "csrf_token": csrf_token(client),
        }
    )

    response = client.post(f"/petitions/{petition.case_number}/edit", data=data)

    assert response.status_code == 302
    after = petition_row(petition.id)
    assert after["sentence"] == "96 months' imprisonment"
    unchanged = (
        "stage",
        "organization_id",
        "case_number",
        "assignee_id",
        "advocate_id",
        "decision_reason",
        "decided_by_id",
    )
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    [edit] = audit_entries(petition_id=petition.id, action="edit")
    assert set(edit.changes) == {"sentence"}
