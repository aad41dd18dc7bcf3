"""Dispositions, reliefs and recommendations (issue 11, items 3 to 5), on every interface."""

from decimal import Decimal

import pytest

from tests.conftest import AuthActions, csrf_token
from tests.helpers import audit_entries, form_with, petition_row
from tracker.errors import ValidationFailed
from tracker.extensions import db
from tracker.petitions import services
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]


def transitions_url(petition):
    return f"/api/v1/petitions/{petition.case_number}/transitions"


def error_fields(response) -> set[str]:
    return {error["field"] for error in response.get_json()["errors"]}


def post_web(client, petition, **fields):
    page = f"/petitions/{petition.case_number}"
    data = {f"transition-{name}": value for name, value in fields.items()}
    data |= {
        "transition-version": petition.version,
        "transition-csrf_token": csrf_token(client, page),
    }
    return client.post(f"{page}/transition", data=data)


# --- close and withdraw -------------------------------------------------------------------------


def test_close_records_the_disposition_through_the_api(api_as, make_petition):
    api = api_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)

    response = api.post(
        transitions_url(petition),
        json={
            "action": "close",
            "disposition": "deceased",
            "reason": "Death certificate received.",
        },
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["stage"], body["disposition"], body["relief"]) == ("closed", "deceased", None)
    [entry] = audit_entries(petition_id=petition.id, action="close")
    assert entry.changes == {"disposition": [None, "deceased"]}
    assert entry.reason == "Death certificate received."


@pytest.mark.parametrize(
    ("members", "field"),
    [
        ({"reason": "Closed."}, "disposition"),  # close needs one
        ({"reason": "Closed.", "disposition": "withdrawn"}, "disposition"),  # withdraw's
        ({"reason": "Closed.", "disposition": "granted"}, "disposition"),
        ({"reason": "Closed.", "disposition": "vanished"}, "disposition"),
        ({"reason": "Closed.", "disposition": "moot", "relief": "respite"}, "relief"),
    ],
)
def test_a_bad_close_is_a_422_naming_the_field(api_as, make_petition, members, field):
    api = api_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)

    response = api.post(transitions_url(petition), json={"action": "close", **members})

    assert response.status_code == 422
    assert field in error_fields(response)
    assert petition_row(petition.id)["stage"] == "under_review"


def test_close_needs_a_reason_but_withdraw_does_not(api_as, make_petition, make_user):
    petition = make_petition(stage=Stage.RECEIVED)
    reviewer = api_as("reviewer")
    refused = reviewer.post(
        transitions_url(petition), json={"action": "close", "disposition": "moot"}
    )
    assert refused.status_code == 422

    advocate = api_as(user=petition.advocate)
    response = advocate.post(transitions_url(petition), json={"action": "withdraw"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["disposition"] == "withdrawn"
    row = petition_row(petition.id)
    assert (row["stage"], row["decision_reason"], row["decided_by_id"]) == (
        "closed",
        None,
        petition.advocate_id,
    )


def test_an_advocate_withdraws_from_the_case_page(client, auth, make_petition):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    assert auth.login(petition.advocate).destination
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert 'value="withdraw"' in page and 'value="close"' not in page

    response = post_web(client, petition, action="withdraw", reason="")

    assert response.status_code == 302
    assert petition_row(petition.id)["disposition"] == "withdrawn"
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Withdrawn by the petitioner" in page


def test_an_advocate_cannot_withdraw_another_organizations_case(api_as, make_petition):
    petition = make_petition(stage=Stage.RECEIVED)
    stranger = api_as("advocate")
    response = stranger.post(transitions_url(petition), json={"action": "withdraw"})
    assert response.status_code == 404
    assert petition_row(petition.id)["stage"] == "received"


def test_an_advocate_may_not_withdraw_in_bulk(api_as, make_petition):
    petition = make_petition(stage=Stage.RECEIVED)
    advocate = api_as(user=petition.advocate)
    response = advocate.post(
        "/api/v1/decisions", json={"action": "withdraw", "case_numbers": [petition.case_number]}
    )
    assert response.status_code == 403


def test_reopen_of_a_closed_case_clears_the_disposition_and_the_history_keeps_it(
    api_as, make_petition
):
    petition = make_petition(stage=Stage.CLOSED)
    supervisor = api_as("supervisor")

    response = supervisor.post(
        transitions_url(petition), json={"action": "reopen", "reason": "The petitioner is alive."}
    )

    assert response.status_code == 200
    assert response.get_json()["disposition"] is None
    [entry] = audit_entries(petition_id=petition.id, action="reopen")
    assert entry.changes == {"disposition": ["closed_without_action", None]}


def test_the_queue_pending_filter_leaves_closed_cases_out(client, login_as, make_petition):
    login_as("reviewer")
    open_case = make_petition(stage=Stage.UNDER_REVIEW)
    closed = make_petition(stage=Stage.CLOSED)
    page = client.get("/petitions?stage=closed").get_data(as_text=True)
    assert closed.case_number in page and open_case.case_number not in page


# --- reliefs ------------------------------------------------------------------------------------


def test_a_grant_records_the_relief_and_its_details(api_as, make_petition):
    api = api_as("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW)

    response = api.post(
        transitions_url(petition),
        json={
            "action": "grant",
            "reason": "Extraordinary rehabilitation.",
            "relief": "commutation_reduced",
            "new_release_date": "2026-06-30",
            "terms": "The term of supervised release remains.",
        },
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["disposition"], body["relief"], body["new_release_date"], body["terms"]) == (
        "granted",
        "commutation_reduced",
        "2026-06-30",
        "The term of supervised release remains.",
    )


def test_an_omitted_relief_is_recorded_as_unspecified_on_the_api(api_as, make_petition, client):
    api = api_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    response = api.post(transitions_url(petition), json={"action": "grant", "reason": "Yes."})
    assert response.status_code == 200
    assert response.get_json()["relief"] == "unspecified"


def test_a_remission_records_its_amount(app_ctx, make_petition, make_user):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    services.apply_transition(
        petition,
        make_user("reviewer"),
        "grant",
        "Paid in part.",
        outcome=Outcome(relief="remission", remission_amount=Decimal("1500.50")),
    )
    db.session.commit()
    assert db.session.get(Petition, petition.id).remission_amount == Decimal("1500.50")


@pytest.mark.parametrize(
    ("kind", "members", "field"),
    [
        ("pardon", {"relief": "commutation_time_served"}, "relief"),  # does not fit the kind
        ("commutation", {"relief": "full_pardon"}, "relief"),
        ("commutation", {"relief": "unspecified"}, "relief"),  # recorded, never chosen
        ("commutation", {"relief": "commutation_reduced"}, "commuted_sentence"),
        ("commutation", {"relief": "remission"}, "remission_amount"),
        ("commutation", {"relief": "remission", "remission_amount": "-5"}, "remission_amount"),
        ("commutation", {"relief": "remission", "remission_amount": "1.005"}, "remission_amount"),
        ("commutation", {"relief": "respite", "remission_amount": "10"}, "remission_amount"),
        (
            "commutation",
            {"relief": "respite", "new_release_date": "2026-02-30"},
            "new_release_date",
        ),
    ],
)
def test_a_bad_relief_is_a_422_naming_the_field(api_as, make_petition, kind, members, field):
    api = api_as("reviewer")
    extra = (
        {"register_number": None, "projected_release_date": None, "custody_status": "released"}
        if kind == "pardon"
        else {}
    )
    petition = make_petition(stage=Stage.UNDER_REVIEW, kind=kind, **extra)

    response = api.post(
        transitions_url(petition), json={"action": "grant", "reason": "Yes.", **members}
    )

    assert response.status_code == 422, response.get_json()
    assert field in error_fields(response)
    assert petition_row(petition.id)["stage"] == "under_review"


def test_a_bulk_grant_with_a_relief_that_misfits_one_case_applies_nothing(api_as, make_petition):
    api = api_as("reviewer")
    commutation = make_petition(stage=Stage.UNDER_REVIEW)
    pardon = make_petition(
        stage=Stage.UNDER_REVIEW,
        kind="pardon",
        register_number=None,
        projected_release_date=None,
        custody_status="released",
    )

    response = api.post(
        "/api/v1/decisions",
        json={
            "action": "grant",
            "reason": "Yes.",
            "relief": "respite",
            "terms": "None.",
            "case_numbers": [commutation.case_number, pardon.case_number],
        },
    )

    assert response.status_code == 409
    [offender] = response.get_json()["offenders"]
    assert offender["case_number"] == pardon.case_number
    assert "does not fit" in offender["message"]
    assert petition_row(commutation.id)["stage"] == "under_review"


def test_the_web_form_requires_the_relief(client, login_as, make_petition):
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)

    response = post_web(client, petition, action="grant", reason="Typed reason.")

    assert response.status_code == 422
    assert "Choose the relief granted." in response.get_data(as_text=True)
    kept = form_with(response, "transition-reason")
    assert kept.fields["transition-reason"] == "Typed reason."
    assert petition_row(petition.id)["stage"] == "under_review"


def test_the_web_grant_shows_the_relief_on_the_case_page(client, auth, make_petition, make_user):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    assert auth.login(make_user("reviewer")).destination
    response = post_web(
        client,
        petition,
        action="grant",
        reason="Yes.",
        relief="commutation_reduced",
        commuted_sentence="120 months",
        terms="Supervised release remains.",
    )
    assert response.status_code == 302
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Commutation: sentence reduced" in page and "120 months" in page

    advocate_client = client.application.test_client()
    assert AuthActions(advocate_client).login(petition.advocate).destination
    page = advocate_client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Commutation: sentence reduced" in page


def test_web_bulk_grant_carries_the_relief_to_every_case(client, login_as, make_petition):
    login_as("reviewer")
    cases = [make_petition(stage=Stage.UNDER_REVIEW) for _ in range(2)]
    confirm = client.post(
        "/petitions/bulk",
        data={
            "csrf_token": csrf_token(client, "/petitions"),
            "case_numbers": [p.case_number for p in cases],
            "action": "grant",
            "reason": "Yes.",
            "relief": "remission",
            "remission_amount": "2,500.00",
            "terms": "Paid otherwise.",
        },
    )
    assert confirm.status_code == 200
    assert "Remission of a fine or restitution" in confirm.get_data(as_text=True)
    apply = form_with(confirm, "selection")
    assert client.post(apply.action, data=apply.fields).status_code == 302
    for petition in cases:
        row = petition_row(petition.id)
        assert (row["relief"], row["remission_amount"], row["relief_terms"]) == (
            "remission",
            Decimal("2500.00"),
            "Paid otherwise.",
        )


def test_reopen_clears_the_relief_and_the_history_keeps_it(app_ctx, make_petition, make_user):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    services.apply_transition(
        petition,
        make_user("reviewer"),
        "grant",
        "Yes.",
        outcome=Outcome(relief="respite", terms="Ninety days."),
    )
    services.apply_transition(petition, make_user("supervisor"), "reopen", "New facts.")
    db.session.commit()
    row = petition_row(petition.id)
    assert (row["relief"], row["relief_terms"], row["disposition"]) == (None, None, None)
    [reopen] = audit_entries(petition_id=petition.id, action="reopen")
    assert reopen.changes == {
        "disposition": ["granted", None],
        "relief": ["respite", None],
        "relief_terms": ["Ninety days.", None],
    }


def test_a_service_refuses_a_relief_on_a_denial(app_ctx, make_petition, make_user):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    with pytest.raises(ValidationFailed) as refused:
        services.apply_transition(
            petition, make_user("reviewer"), "deny", "No.", outcome=Outcome(relief="respite")
        )
    assert "relief" in refused.value.errors


# --- recommendations ----------------------------------------------------------------------------


def recommendations_url(petition):
    return f"/api/v1/petitions/{petition.case_number}/recommendations"


def test_staff_record_several_recommendations_and_read_them(api_as, make_petition):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    reviewer, supervisor = api_as("reviewer"), api_as("supervisor")

    first = reviewer.post(
        recommendations_url(petition),
        json={"recommendation": "favorable", "memo": "Strong record."},
    )
    second = supervisor.post(
        recommendations_url(petition), json={"recommendation": "no_position", "memo": "Defer."}
    )

    assert (first.status_code, second.status_code) == (201, 201)
    items = reviewer.get(recommendations_url(petition)).get_json()["items"]
    assert [(i["recommendation"], i["memo"], i["author"]) for i in items] == [
        ("favorable", "Strong record.", reviewer.user.email),
        ("no_position", "Defer.", supervisor.user.email),
    ]
    entries = audit_entries(petition_id=petition.id, action="recommend")
    assert [e.details["recommendation"] for e in entries] == ["favorable", "no_position"]


def test_advocates_are_refused_recommendations(api_as, make_petition):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    advocate = api_as(user=petition.advocate)
    assert advocate.get(recommendations_url(petition)).status_code == 403
    response = advocate.post(
        recommendations_url(petition), json={"recommendation": "favorable", "memo": "Please."}
    )
    assert response.status_code == 403
    assert audit_entries(petition_id=petition.id, action="recommend") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"recommendation": "maybe", "memo": "x"}, "recommendation"),
        ({"recommendation": "favorable", "memo": ""}, "memo"),
        ({"recommendation": "favorable"}, "memo"),
    ],
)
def test_a_bad_recommendation_is_a_422(api_as, make_petition, body, field):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    response = api_as("reviewer").post(recommendations_url(petition), json=body)
    assert response.status_code == 422
    assert field in error_fields(response)


def test_recommendations_are_recorded_under_review_only(api_as, make_petition):
    petition = make_petition(stage=Stage.RECEIVED)
    response = api_as("reviewer").post(
        recommendations_url(petition), json={"recommendation": "favorable", "memo": "x"}
    )
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("recommendation", "action", "against"),
    [
        ("unfavorable", "grant", True),
        ("favorable", "grant", False),
        ("favorable", "deny", True),
        ("no_position", "deny", False),
    ],
)
def test_a_decision_against_the_latest_recommendation_is_marked(
    api_as, make_petition, recommendation, action, against
):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    reviewer = api_as("reviewer")
    reviewer.post(
        recommendations_url(petition),
        json={"recommendation": "favorable" if against else "unfavorable", "memo": "Earlier."},
    )
    reviewer.post(
        recommendations_url(petition), json={"recommendation": recommendation, "memo": "Latest."}
    )

    response = reviewer.post(transitions_url(petition), json={"action": action, "reason": "R."})

    assert response.status_code == 200
    [entry] = audit_entries(petition_id=petition.id, action=action)
    assert entry.details["against_recommendation"] is against
    history = (
        api_as(user=petition.advocate)
        .get(f"/api/v1/petitions/{petition.case_number}/history")
        .get_json()["items"]
    )
    decided = next(item for item in history if item["action"] == action)
    assert "against_recommendation" not in decided["details"]  # internal
    assert all(item["action"] != "recommend" for item in history)


def test_staff_see_recommendations_on_the_case_page_and_advocates_do_not(
    client, auth, make_petition, make_user
):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    assert auth.login(make_user("reviewer")).destination
    page = f"/petitions/{petition.case_number}"
    response = client.post(
        f"{page}/recommendations",
        data={
            "recommendation-recommendation": "unfavorable",
            "recommendation-memo": "Too recent.",
            "recommendation-csrf_token": csrf_token(client, page),
        },
    )
    assert response.status_code == 302
    assert "Too recent." in client.get(page).get_data(as_text=True)

    advocate_client = client.application.test_client()
    assert AuthActions(advocate_client).login(petition.advocate).destination
    assert "Too recent." not in advocate_client.get(page).get_data(as_text=True)


def test_the_pending_filter_is_every_stage_not_decided_or_closed(api_as, make_petition):
    api = api_as("reviewer")
    cases = {stage: make_petition(stage=stage) for stage in Stage}

    response = api.get("/api/v1/petitions", query_string={"stage": "pending", "limit": 100})

    assert response.status_code == 200, response.get_json()
    found = {item["case_number"] for item in response.get_json()["items"]}
    mine = {petition.case_number for petition in cases.values()}
    assert found & mine == {
        cases[Stage.RECEIVED].case_number,
        cases[Stage.UNDER_REVIEW].case_number,
        cases[Stage.INFORMATION_REQUESTED].case_number,
    }


def test_the_web_queue_offers_pending_and_closed(client, login_as, make_petition):
    login_as("supervisor")
    closed, received = make_petition(stage=Stage.CLOSED), make_petition(stage=Stage.RECEIVED)
    page = client.get("/petitions?stage=pending").get_data(as_text=True)
    assert received.case_number in page and closed.case_number not in page
    assert 'value="closed"' in page and 'value="pending"' in page
