"""The whole workflow table, through the web: every role × transition × stage."""

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token
from tests.helpers import web_outcome_fields
from tracker.audit.models import AuditEntry
from tracker.extensions import db
from tracker.petitions.models import Petition
from tracker.workflow import PETITION_TRANSITIONS, Stage, mermaid_diagram

ROLES = ("advocate", "reviewer", "supervisor")
STAGES = tuple(Stage)
ACTIONS = tuple(t.name for t in PETITION_TRANSITIONS)

#: Written out by hand from the issue, not derived from tracker.workflow, so it can disagree.
ALLOWED = {
    ("reviewer", "start_review", "received"): "under_review",
    ("supervisor", "start_review", "received"): "under_review",
    ("reviewer", "return_for_information", "under_review"): "information_requested",
    ("supervisor", "return_for_information", "under_review"): "information_requested",
    ("advocate", "provide_information", "information_requested"): "under_review",
    ("reviewer", "grant", "under_review"): "granted",
    ("supervisor", "grant", "under_review"): "granted",
    ("reviewer", "deny", "under_review"): "denied",
    ("supervisor", "deny", "under_review"): "denied",
    ("supervisor", "reopen", "granted"): "under_review",
    ("supervisor", "reopen", "denied"): "under_review",
    ("supervisor", "reopen", "closed"): "under_review",
    # The advocate withdraws their own case; staff on the petitioner's written request.
    ("advocate", "withdraw", "received"): "closed",
    ("advocate", "withdraw", "under_review"): "closed",
    ("reviewer", "withdraw", "received"): "closed",
    ("reviewer", "withdraw", "under_review"): "closed",
    ("supervisor", "withdraw", "received"): "closed",
    ("supervisor", "withdraw", "under_review"): "closed",
    # ... at any stage it waits in: an advocate may withdraw rather than answer.
    ("advocate", "withdraw", "information_requested"): "closed",
    ("reviewer", "withdraw", "information_requested"): "closed",
    ("supervisor", "withdraw", "information_requested"): "closed",
    ("reviewer", "close", "received"): "closed",
    ("reviewer", "close", "under_review"): "closed",
    ("supervisor", "close", "received"): "closed",
    ("supervisor", "close", "under_review"): "closed",
    # An information request left unanswered may be closed (issue 12).
    ("reviewer", "close", "information_requested"): "closed",
    ("supervisor", "close", "information_requested"): "closed",
}
ROLES_ALLOWED = {
    "start_review": {"reviewer", "supervisor"},
    "return_for_information": {"reviewer", "supervisor"},
    "grant": {"reviewer", "supervisor"},
    "deny": {"reviewer", "supervisor"},
    "withdraw": {"advocate", "reviewer", "supervisor"},
    "close": {"reviewer", "supervisor"},
    "reopen": {"supervisor"},
    "provide_information": {"advocate"},
}
#: The disposition each allowed move records (null: the case is open after it).
DISPOSITION_AFTER = {"grant": "granted", "deny": "denied", "withdraw": "withdrawn", "close": "moot"}


def case_history(petition_id):
    return db.session.execute(
        select(AuditEntry.id, AuditEntry.action)
        .where(AuditEntry.petition_id == petition_id, AuditEntry.category == "case")
        .order_by(AuditEntry.id)
    ).all()


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.value)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("role", ROLES)
def test_transition_table(client, login_as, make_petition, role, action, stage):
    user = login_as(role)
    organization = user.organization if role == "advocate" else None
    petition = make_petition(stage=stage, organization=organization)
    before_fields = {c.key: getattr(petition, c.key) for c in Petition.__table__.columns}
    before_history = case_history(petition.id)

    response = client.post(
        f"/petitions/{petition.case_number}/transition",
        data={
            "transition-action": action,
            "transition-reason": "Reviewed the full record.",
            "transition-response": "The disciplinary record is attached.",
            "transition-version": petition.version,
            "transition-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
            **web_outcome_fields(action),
        },
    )
    db.session.expire_all()
    expected_target = ALLOWED.get((role, action, stage.value))
    if expected_target:
        assert response.status_code == 302
        after = db.session.get(Petition, petition.id)
        assert after.stage == expected_target
        assert after.disposition == DISPOSITION_AFTER.get(action)
        history = case_history(petition.id)
        assert len(history) == len(before_history) + 1
        assert history[-1].action == action
        return
    expected_status = 403 if role not in ROLES_ALLOWED[action] else 409
    assert response.status_code == expected_status
    body = response.get_data(as_text=True)
    if expected_status == 409:
        assert f"({stage.value})" in body  # names the current stage
    else:
        assert "may not take the action" in body
    after = db.session.get(Petition, petition.id)
    assert {c.key: getattr(after, c.key) for c in Petition.__table__.columns} == before_fields
    assert case_history(petition.id) == before_history


@pytest.mark.parametrize("action", ["return_for_information", "grant", "deny", "close"])
def test_reason_is_required(client, login_as, make_petition, action):
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    response = client.post(
        f"/petitions/{petition.case_number}/transition",
        data={
            "transition-action": action,
            "transition-reason": "   ",
            "transition-version": petition.version,
            "transition-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
            **web_outcome_fields(action),
        },
    )
    assert response.status_code == 422
    assert "requires a written reason" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Petition, petition.id).stage == "under_review"


def test_unknown_action_is_refused(client, login_as, make_petition):
    login_as("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    response = client.post(
        f"/petitions/{petition.case_number}/transition",
        data={
            "transition-action": "pardon_everyone",
            "transition-reason": "x",
            "transition-version": petition.version,
            "transition-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
        },
    )
    assert response.status_code == 400
    assert "Unknown action" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "stage", "offered"),
    [
        ("advocate", Stage.RECEIVED, ["withdraw"]),
        ("advocate", Stage.GRANTED, []),
        ("reviewer", Stage.RECEIVED, ["start_review", "withdraw", "close"]),
        (
            "reviewer",
            Stage.UNDER_REVIEW,
            ["return_for_information", "grant", "deny", "withdraw", "close"],
        ),
        ("advocate", Stage.INFORMATION_REQUESTED, ["provide_information", "withdraw"]),
        ("reviewer", Stage.INFORMATION_REQUESTED, ["withdraw", "close"]),
        ("supervisor", Stage.INFORMATION_REQUESTED, ["withdraw", "close"]),
        ("reviewer", Stage.GRANTED, []),
        ("reviewer", Stage.CLOSED, []),
        ("supervisor", Stage.DENIED, ["reopen"]),
        ("supervisor", Stage.CLOSED, ["reopen"]),
    ],
)
def test_case_page_offers_only_allowed_actions(
    client, login_as, make_petition, role, stage, offered
):
    user = login_as(role)
    petition = make_petition(stage=stage, organization=user.organization)
    body = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    for action in ACTIONS:
        assert (f'value="{action}"' in body) == (action in offered), action


def test_decided_petition_records_decision(app_ctx, make_petition):
    petition = make_petition(stage=Stage.GRANTED)
    assert petition.decided_at is not None
    assert petition.decided_by_id is not None
    assert petition.decision_reason == "Because."


def test_readme_diagram_matches_the_table():
    with open("README.md", encoding="utf-8") as readme:
        assert mermaid_diagram() in readme.read()


def test_grant_count_matches_audit(app_ctx, make_petition):
    make_petition(stage=Stage.GRANTED)
    grants = db.session.scalar(select(func.count()).where(AuditEntry.action == "grant"))
    assert grants == 1
