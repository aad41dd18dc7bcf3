"""What deactivating means: a reviewer's open cases are reassigned in the same step, and a
deactivated organization's advocates are cut off on every interface until it is reactivated."""

import re

import pytest

from tests.conftest import PASSWORD, AuthActions, csrf_token
from tests.helpers import audit_entries, page_text, petition_row
from tracker.auth import tokens
from tracker.auth.models import User, UserSession
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.workflow import Stage

FAILED_LOGIN = "Wrong e-mail or password, or the account is inactive."


@pytest.fixture
def supervisor(login_as):
    return login_as("supervisor", name="Sky Supervisor")


@pytest.fixture
def leaving(make_user, make_petition, supervisor):
    """A reviewer with two open cases and a decided one."""
    reviewer = make_user("reviewer", name="Rae Leaving")
    open_cases = [make_petition(stage=Stage.RECEIVED), make_petition(stage=Stage.UNDER_REVIEW)]
    decided = make_petition(stage=Stage.UNDER_REVIEW)
    for petition in [*open_cases, decided]:
        petition_services.assign_petition(petition, supervisor, reviewer)
    petition_services.apply_transition(decided, supervisor, "grant", "Granted before leaving.")
    db.session.commit()
    return reviewer, open_cases, decided


def confirmation(client, user):
    response = client.get(f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 200
    return response


def shown_cases(response) -> str:
    return re.search(r'name="cases"[^>]*value="([^"]*)"', response.get_data(as_text=True)).group(1)


def deactivate(client, user, **data):
    token = csrf_token(client, f"/admin/users/{user.id}/deactivate")
    return client.post(f"/admin/users/{user.id}/deactivate", data=data | {"csrf_token": token})


def test_confirmation_lists_the_open_cases_only(client, leaving):
    reviewer, open_cases, decided = leaving
    page = confirmation(client, reviewer)
    text = page_text(page)
    assert all(p.case_number in text for p in open_cases)
    assert decided.case_number not in text
    assert shown_cases(page) == ",".join(p.case_number for p in open_cases)
    assert "Rae Leaving" not in page.get_data(as_text=True).split('id="reassign_to"')[1]


@pytest.mark.parametrize("to", ["colleague", "the unassigned queue"])
def test_open_cases_are_reassigned_in_the_same_step(client, supervisor, make_user, leaving, to):
    reviewer, open_cases, decided = leaving
    colleague = make_user("reviewer", name="Cole League")
    page = confirmation(client, reviewer)
    response = deactivate(
        client,
        reviewer,
        cases=shown_cases(page),
        reassign_to=str(colleague.id) if to == "colleague" else "",
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, reviewer.id).active is False
    new_assignee = colleague.id if to == "colleague" else None
    for petition in open_cases:
        assert petition_row(petition.id)["assignee_id"] == new_assignee
        [entry] = audit_entries(petition_id=petition.id, action="assign")[-1:]
        assert entry.actor_id == supervisor.id
        assert entry.changes == {
            "assignee": [reviewer.email, colleague.email if new_assignee else None]
        }
    assert petition_row(decided.id)["assignee_id"] == reviewer.id  # history is not rewritten
    [event] = audit_entries(action="user_deactivated", subject_user_id=reviewer.id)
    assert event.details == {"cases_reassigned": 2}
    page = client.get(f"/admin/users/{reviewer.id}").get_data(as_text=True)
    assert "Reactivate account" in page and f"/admin/users/{reviewer.id}/deactivate" not in page


def test_cases_assigned_since_the_confirmation_stop_it(client, supervisor, leaving, make_petition):
    reviewer, open_cases, _ = leaving
    page = confirmation(client, reviewer)
    late = make_petition(stage=Stage.UNDER_REVIEW)
    petition_services.assign_petition(late, supervisor, reviewer)
    db.session.commit()

    response = deactivate(client, reviewer, cases=shown_cases(page), reassign_to="")
    assert response.status_code == 409
    assert "open cases changed since you confirmed them" in page_text(response)
    assert late.case_number in shown_cases(response)  # the page now lists what the next click does
    db.session.expire_all()
    assert db.session.get(User, reviewer.id).active is True
    assert all(petition_row(p.id)["assignee_id"] == reviewer.id for p in [*open_cases, late])
    assert audit_entries(action="user_deactivated", subject_user_id=reviewer.id) == []


def test_cases_go_only_to_an_active_colleague(client, supervisor, make_user, leaving):
    reviewer, open_cases, _ = leaving
    gone = make_user("reviewer")
    from tracker.auth import services as auth_services

    auth_services.set_user_active(supervisor, gone, False)
    db.session.commit()
    page = confirmation(client, reviewer)
    for target in (gone, reviewer):
        response = deactivate(client, reviewer, cases=shown_cases(page), reassign_to=str(target.id))
        assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, reviewer.id).active is True
    assert all(petition_row(p.id)["assignee_id"] == reviewer.id for p in open_cases)


def test_deactivated_staff_stay_in_the_queue_assignee_filter(client, leaving):
    reviewer, open_cases, decided = leaving
    deactivate(client, reviewer, cases=shown_cases(confirmation(client, reviewer)))
    queue = client.get("/petitions")
    assert f'<option value="{reviewer.id}">Rae Leaving (deactivated)</option>' in queue.get_data(
        as_text=True
    )
    their_cases = page_text(client.get(f"/petitions?assignee={reviewer.id}"))
    assert decided.case_number in their_cases
    assert not any(p.case_number in their_cases for p in open_cases)


# --- organizations ----------------------------------------------------------------------------


def api_status(app, plaintext) -> int:
    response = app.test_client().get(
        "/api/v1/petitions", headers={"Authorization": f"Bearer {plaintext}"}
    )
    return response.status_code


def test_a_deactivated_organization_is_cut_off_everywhere_until_reactivated(
    app, client, supervisor, make_organization, make_user, make_petition
):
    organization = make_organization()
    advocate = make_user("advocate", organization=organization)
    petition = make_petition(advocate=advocate)
    _, plaintext = tokens.create_token(advocate, "nightly import")
    db.session.commit()
    browser = app.test_client()
    AuthActions(browser).login(advocate)
    assert browser.get(f"/petitions/{petition.case_number}").status_code == 200
    before = petition_row(petition.id)

    response = client.post(
        f"/admin/organizations/{organization.id}/deactivate",
        data={"csrf_token": csrf_token(client, "/admin/organizations")},
    )
    assert response.status_code == 302
    # The open session ended, the password and the token no longer work...
    assert (
        browser.get(f"/petitions/{petition.case_number}").headers["Location"].startswith("/login")
    )
    db.session.expire_all()
    assert db.session.query(UserSession).filter_by(user_id=advocate.id).one().end_reason == (
        "organization_deactivated"
    )
    refused = AuthActions(app.test_client()).login(advocate)
    assert refused.destination is None
    assert refused.response.status_code == 200 and FAILED_LOGIN in page_text(refused.response)
    assert api_status(app, plaintext) == 401
    [event] = audit_entries(action="organization_deactivated")
    assert event.actor_id == supervisor.id
    assert event.details | {} == {
        "organization_id": organization.id,
        "name": organization.name,
        "advocates": 1,
        "sessions_ended": 1,
    }
    assert audit_entries(action="login_failed")[-1].details["reason"] == "organization_inactive"
    # ...while staff still see its cases, unchanged.
    assert client.get(f"/petitions/{petition.case_number}").status_code == 200
    assert petition_row(petition.id) == before

    client.post(
        f"/admin/organizations/{organization.id}/reactivate",
        data={"csrf_token": csrf_token(client, "/admin/organizations")},
    )
    assert AuthActions(app.test_client()).login(advocate, PASSWORD).destination is not None
    assert api_status(app, plaintext) == 200
