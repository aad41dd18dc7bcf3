"""Bulk decisions: one transition for many cases, all or nothing, one audit entry per case,
a statement count that does not grow with the number of cases; from the queue (select,
confirm, apply) and from POST /api/v1/decisions."""

import re

import pytest

from tests.api_helpers import problem_of
from tests.conftest import csrf_token
from tests.helpers import (
    audit_entries,
    count,
    form_with,
    page_forms,
    page_text,
    petition_row,
)
from tracker.audit import services as audit_services
from tracker.audit.models import AuditEntry
from tracker.errors import BulkRefused, CasesChanged, PermissionDenied
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.workflow import ReasonRequired, Stage, TransitionForbidden

ENTRY_COLUMNS = ("action", "category", "actor_id", "from_stage", "to_stage", "reason", "details")

pytest_plugins = ["tests.api_fixtures"]


@pytest.fixture
def cases(make_petition, make_user):
    """``cases(n, stage)``: n petitions of one advocate in that stage."""
    advocate = make_user("advocate")

    def make(n, stage=Stage.UNDER_REVIEW):
        return [make_petition(stage=stage, advocate=advocate) for _ in range(n)]

    return make


def versions_of(petitions) -> dict[str, int]:
    return {p.case_number: p.version for p in petitions}


def snapshot(petitions) -> list[dict]:
    return [petition_row(p.id) for p in petitions]


# --- the service --------------------------------------------------------------------------------


def test_a_bulk_grant_decides_every_case_with_its_own_audit_entry(cases, make_user):
    reviewer = make_user("reviewer")
    petitions = cases(4)

    decided = petition_services.decide_petitions(
        reviewer, "grant", " Merit. ", versions_of(petitions)
    )
    db.session.commit()

    assert decided == {p.case_number: 3 for p in petitions}
    for petition in petitions:
        row = petition_row(petition.id)
        assert (row["stage"], row["version"]) == ("granted", 3)
        assert (row["decided_by_id"], row["decision_reason"]) == (reviewer.id, "Merit.")
        assert row["decided_at"] is not None and row["updated_at"] == row["decided_at"]
        [entry] = audit_entries(petition_id=petition.id, action="grant")
        assert (entry.actor_id, entry.from_stage, entry.to_stage, entry.reason, entry.details) == (
            reviewer.id,
            "under_review",
            "granted",
            "Merit.",
            {"version": 3},
        )
    assert audit_services.verify_chain().intact


def test_a_bulk_entry_has_the_shape_of_a_single_transitions_entry(cases, make_user):
    reviewer = make_user("reviewer")
    single, bulk = cases(2)
    petition_services.apply_transition(single, reviewer, "deny", "No.")
    petition_services.decide_petitions(reviewer, "deny", "No.", {bulk.case_number: bulk.version})
    db.session.commit()
    [a] = audit_entries(petition_id=single.id, action="deny")
    [b] = audit_entries(petition_id=bulk.id, action="deny")
    assert [getattr(a, c) for c in ENTRY_COLUMNS] == [getattr(b, c) for c in ENTRY_COLUMNS]


def test_reopening_in_bulk_clears_the_decisions(cases, make_user):
    supervisor = make_user("supervisor")
    petitions = cases(2, Stage.DENIED)
    petition_services.decide_petitions(
        supervisor, "reopen", "New evidence.", versions_of(petitions)
    )
    db.session.commit()
    for petition in petitions:
        row = petition_row(petition.id)
        assert row["stage"] == "under_review"
        assert row["decided_at"] is row["decided_by_id"] is row["decision_reason"] is None


def test_any_offending_case_refuses_them_all_and_each_is_named(cases, make_user):
    reviewer = make_user("reviewer")
    good = cases(3)
    received, granted = cases(1, Stage.RECEIVED)[0], cases(1, Stage.GRANTED)[0]
    selection = versions_of([*good, received, granted]) | {"CP-1999-000001": None}
    before = snapshot([*good, received, granted])
    entries_before = count(AuditEntry)

    with pytest.raises(BulkRefused) as caught:
        petition_services.decide_petitions(reviewer, "grant", "Merit.", selection)
    db.session.rollback()

    error = caught.value
    assert error.status == 409 and not isinstance(error, CasesChanged)
    assert "3 of the 6 selected cases" in error.message
    assert [(o["case_number"], o["problem"]) for o in error.offenders] == [
        (received.case_number, "wrong_stage"),
        (granted.case_number, "wrong_stage"),
        ("CP-1999-000001", "not_found"),
    ]
    assert "'received'" in error.offenders[0]["message"]
    assert "'granted'" in error.offenders[1]["message"]
    assert snapshot([*good, received, granted]) == before
    assert count(AuditEntry) == entries_before


def test_cases_changed_since_confirmed_refuse_them_all(cases, make_user):
    reviewer = make_user("reviewer")
    petitions = cases(3)
    selection = versions_of(petitions)
    petition_services.apply_transition(petitions[1], reviewer, "return_for_information", "Why?")
    petition_services.apply_transition(
        petitions[1], petitions[1].advocate, "provide_information", response="Here it is."
    )
    db.session.commit()
    before = snapshot(petitions)

    with pytest.raises(CasesChanged) as caught:
        petition_services.decide_petitions(reviewer, "grant", "Merit.", selection)
    db.session.rollback()

    [offender] = caught.value.offenders
    assert (offender["case_number"], offender["problem"], offender["version"]) == (
        petitions[1].case_number,
        "changed",
        4,
    )
    assert "you saw version 2; it is now version 4" in offender["message"]
    assert snapshot(petitions) == before


@pytest.mark.parametrize(
    "role, action, reason, error",
    [
        ("reviewer", "reopen", "x", TransitionForbidden),
        ("advocate", "grant", "x", PermissionDenied),
        ("supervisor", "submit", "x", PermissionDenied),
        ("reviewer", "grant", "  ", ReasonRequired),
    ],
)
def test_refusals_of_the_whole_request(cases, make_user, role, action, reason, error):
    user = make_user(role)
    petitions = cases(2, Stage.GRANTED if action == "reopen" else Stage.UNDER_REVIEW)
    before = snapshot(petitions)
    with pytest.raises(error):
        petition_services.decide_petitions(user, action, reason, versions_of(petitions))
    db.session.rollback()
    assert snapshot(petitions) == before


def test_an_empty_selection_is_refused(make_user):
    with pytest.raises(Exception, match="Some fields"):
        petition_services.decide_petitions(make_user("reviewer"), "grant", "x", {})


@pytest.mark.parametrize(
    "action, stage", [("grant", Stage.UNDER_REVIEW), ("start_review", Stage.RECEIVED)]
)
def test_the_statement_count_does_not_grow_with_the_number_of_cases(
    cases, make_user, count_statements, action, stage
):
    reviewer = make_user("reviewer")
    few, many = cases(3, stage), cases(30, stage)

    counts = []
    for petitions in (few, many):
        selection = versions_of(petitions)
        db.session.expire_all()
        with count_statements() as statements:
            petition_services.decide_petitions(reviewer, action, "Merit.", selection)
        counts.append(len(statements))
    db.session.commit()

    assert counts[0] == counts[1], counts
    # A grant reads the cases' facts and their petitioners' other petitions (eligibility: 2)
    # and their open referrals (1), and adds one INSERT … SELECT into the outbox (1); a grant
    # or denial reads the cases' latest recommendations too (1). Every move adds to the
    # dashboards' summary: one upsert per summary table (3).
    assert counts[0] <= (14 if action in ("grant", "deny") else 10), counts
    assert all(petition_row(p.id)["stage"] != stage.value for p in few + many)


# --- the web: queue, confirmation, apply ---------------------------------------------------------


def test_a_reviewer_selects_confirms_and_applies(client, login_as, cases):
    reviewer = login_as("reviewer")
    petitions = cases(3)
    queue = client.get("/petitions?stage=under_review")
    form = form_with(queue, "reason")
    assert form.action == "/petitions/bulk"
    chosen = petitions[:2]

    confirm = client.post(
        "/petitions/bulk",
        data=form.fields
        | {
            "case_numbers": [p.case_number for p in chosen],
            "action": "grant",
            "relief": "commutation_time_served",
            "reason": "Merit.",
        },
    )

    assert confirm.status_code == 200
    text = page_text(confirm)
    assert "Grant 2 cases?" in text and "Merit." in text
    apply_form = form_with(confirm, "selection")
    assert apply_form.fields["selection"].split() == [f"{p.case_number}:2" for p in chosen]
    response = client.post("/petitions/bulk/apply", data=apply_form.fields)
    assert response.status_code == 302
    assert response.headers["Location"] == "/petitions?stage=under_review"
    assert "Grant: 2 cases are now granted." in page_text(client.get(response.headers["Location"]))
    assert [petition_row(p.id)["stage"] for p in petitions] == [
        "granted",
        "granted",
        "under_review",
    ]
    assert {e.actor_id for e in audit_entries(action="grant")} == {reviewer.id}


def test_all_cases_matching_the_filter(client, login_as, cases):
    login_as("supervisor")
    reviewing, received = cases(3), cases(2, Stage.RECEIVED)
    form = form_with(client.get("/petitions?stage=received"), "reason")
    confirm = client.post(
        "/petitions/bulk",
        data=form.fields
        | {
            "all_matching": "y",
            "action": "start_review",
            "reason": "",
        },
    )
    assert "Start review 2 cases?" in page_text(confirm)
    response = client.post("/petitions/bulk/apply", data=form_with(confirm, "selection").fields)
    assert response.status_code == 302
    assert [petition_row(p.id)["stage"] for p in received] == ["under_review"] * 2
    assert [petition_row(p.id)["version"] for p in reviewing] == [2] * 3


def test_a_case_changed_after_the_confirmation_stops_the_apply(client, login_as, cases, make_user):
    login_as("reviewer")
    petitions = cases(3)
    form = form_with(client.get("/petitions"), "reason")
    confirm = client.post(
        "/petitions/bulk",
        data=form.fields
        | {
            "case_numbers": [p.case_number for p in petitions],
            "action": "deny",
            "reason": "No.",
        },
    )
    other = make_user("supervisor")
    petition_services.apply_transition(petitions[2], other, "grant", "Granted meanwhile.")
    db.session.commit()

    response = client.post("/petitions/bulk/apply", data=form_with(confirm, "selection").fields)

    assert response.status_code == 409
    text = page_text(response)
    assert "Nothing was applied" in text and petitions[2].case_number in text
    assert "changed since you confirmed it" in text
    assert [petition_row(p.id)["stage"] for p in petitions] == ["under_review"] * 2 + ["granted"]


def bulk_form(response):
    """The queue's bulk form as the browser would post it (ticked boxes included)."""
    [form] = [f for f in page_forms(response) if f.action == "/petitions/bulk"]
    return form


def ticked(form) -> list[str]:
    value = form.fields.get("case_numbers", [])
    return value if isinstance(value, list) else [value]


def marked_rows(response) -> list[str]:
    """The case numbers of the rows marked as having stopped the action."""
    body = response.get_data(as_text=True)
    return re.findall(r'<tr class="table-danger">.*?/petitions/(CP-[0-9-]+)"', body, re.S)


def test_cases_that_cannot_take_the_action_return_to_the_selection(client, login_as, cases):
    """Issue 9, item 6: the user is not sent back to re-tick every case."""
    login_as("reviewer")
    good, bad = cases(1)[0], cases(1, Stage.RECEIVED)[0]
    form = form_with(client.get("/petitions?kind=commutation"), "reason")
    chosen = {"case_numbers": [good.case_number, bad.case_number], "action": "grant"}
    chosen["relief"] = "commutation_time_served"
    response = client.post(
        "/petitions/bulk", data=form.fields | chosen | {"reason": "Exemplary record."}
    )

    assert response.status_code == 409
    text = page_text(response)
    assert "1 of these cases cannot take this action now" in text and bad.case_number in text
    again = bulk_form(response)
    assert ticked(again) == [good.case_number, bad.case_number]
    assert again.fields["action"] == "grant" and again.fields["reason"] == "Exemplary record."
    assert again.fields["kind"] == "commutation"
    assert marked_rows(response) == [bad.case_number]
    assert [petition_row(p.id)["stage"] for p in (good, bad)] == ["under_review", "received"]

    # Leaving the offender out, the kept selection goes on to the confirmation.
    again.fields["case_numbers"] = [good.case_number]
    confirm = client.post("/petitions/bulk", data=again.fields)
    assert confirm.status_code == 200 and "Grant 1 case?" in page_text(confirm)


def test_a_refusal_at_the_apply_step_returns_to_the_selection(client, login_as, cases, make_user):
    login_as("reviewer")
    petitions = cases(3)
    form = form_with(client.get("/petitions?stage=pending"), "reason")
    chosen = {"case_numbers": [p.case_number for p in petitions], "action": "deny"}
    confirm = client.post("/petitions/bulk", data=form.fields | chosen | {"reason": "Not now."})
    petition_services.assign_petition(petitions[1], make_user("supervisor"), make_user("reviewer"))
    db.session.commit()

    response = client.post("/petitions/bulk/apply", data=form_with(confirm, "selection").fields)

    assert response.status_code == 409
    assert "Nothing was applied" in page_text(response)
    again = bulk_form(response)
    assert ticked(again) == [p.case_number for p in petitions]
    assert again.fields["action"] == "deny" and again.fields["reason"] == "Not now."
    assert again.fields["stage"] == "pending"
    assert marked_rows(response) == [petitions[1].case_number]
    assert [petition_row(p.id)["stage"] for p in petitions] == ["under_review"] * 3


def test_a_reason_is_asked_for_before_the_confirmation(client, login_as, cases):
    login_as("reviewer")
    petitions = cases(2)
    form = form_with(client.get("/petitions"), "reason")
    chosen = {"case_numbers": [p.case_number for p in petitions], "action": "grant"}
    relief = {
        "relief": "commutation_reduced",
        "commuted_sentence": "120 months",
        "new_release_date": "2030-01-31",
        "terms": "Supervised release remains.",
    }
    response = client.post("/petitions/bulk", data=form.fields | chosen | relief | {"reason": " "})
    assert response.status_code == 422
    assert "Grant needs a written reason." in page_text(response)
    again = bulk_form(response)
    assert ticked(again) == [p.case_number for p in petitions]
    assert again.fields["action"] == "grant"
    # The relief and its details are kept too, not only the action.
    assert {name: again.fields[name] for name in relief} == relief
    assert marked_rows(response) == []


def test_all_matching_is_kept_when_the_selection_is_refused(client, login_as, cases):
    login_as("reviewer")
    cases(1)
    form = form_with(client.get("/petitions"), "reason")
    chosen = {"all_matching": "y", "action": "deny", "reason": ""}
    response = client.post("/petitions/bulk", data=form.fields | chosen)
    assert response.status_code == 422
    assert bulk_form(response).fields["all_matching"] == "y"


def test_all_matching_takes_several_stages(client, login_as, cases):
    login_as("supervisor")
    granted, denied = cases(1, Stage.GRANTED), cases(1, Stage.DENIED)
    cases(2)
    form = form_with(client.get("/petitions?stage=granted&stage=denied"), "reason")
    assert form.fields["stage"] == ["granted", "denied"]
    chosen = {"all_matching": "y", "action": "reopen", "reason": "New evidence."}
    confirm = client.post("/petitions/bulk", data=form.fields | chosen)
    assert "Reopen 2 cases?" in page_text(confirm)
    response = client.post("/petitions/bulk/apply", data=form_with(confirm, "selection").fields)
    assert response.headers["Location"] == "/petitions?stage=granted&stage=denied"
    assert [petition_row(p.id)["stage"] for p in granted + denied] == ["under_review"] * 2


@pytest.mark.parametrize("stage", ["limbo", "pendin"])
def test_all_matching_an_unknown_stage_selects_nothing(client, login_as, cases, stage):
    """Before, an unknown stage was ignored: "all matching" meant every case."""
    login_as("supervisor")
    petitions = cases(2)
    form = form_with(client.get("/petitions"), "reason")
    chosen = {"all_matching": "y", "action": "deny", "reason": "x", "stage": stage}
    response = client.post("/petitions/bulk", data=form.fields | chosen)
    assert response.status_code == 422
    assert f"Unknown stage '{stage}'" in page_text(response)
    assert [petition_row(p.id)["stage"] for p in petitions] == ["under_review"] * 2


def test_a_huge_search_is_refused_not_echoed_into_the_redirect(client, login_as, cases):
    """Issue 10: a 100 KB search term became a 64 KB+ Location header after a decision."""
    login_as("reviewer")
    petition = cases(1)[0]
    form = form_with(client.get("/petitions"), "reason")
    chosen = {"case_numbers": [petition.case_number], "action": "grant", "reason": "x"}
    chosen["relief"] = "commutation_time_served"
    huge = {"q": "x" * 100_000}

    refused = client.post("/petitions/bulk", data=form.fields | chosen | huge)
    assert refused.status_code == 422 and "At most 200 characters." in page_text(refused)

    confirm = client.post("/petitions/bulk", data=form.fields | chosen)
    response = client.post(
        "/petitions/bulk/apply", data=form_with(confirm, "selection").fields | huge
    )
    assert response.status_code == 422 and "Location" not in response.headers
    assert "At most 200 characters." in page_text(response)
    assert petition_row(petition.id)["stage"] == "under_review"


def test_the_redirect_after_a_decision_carries_the_parsed_filters_only(client, login_as, cases):
    login_as("reviewer")
    petition = cases(1)[0]
    form = form_with(client.get("/petitions?q=Jordan&stage=pending&sort=newest"), "reason")
    chosen = {"case_numbers": [petition.case_number], "action": "grant", "reason": "x"}
    chosen["relief"] = "commutation_time_served"
    confirm = client.post("/petitions/bulk", data=form.fields | chosen)
    tampered = {"endpoint": "x", "_anchor": "y", "_external": "1", "next": "//evil.example"}
    apply_fields = form_with(confirm, "selection").fields | tampered
    response = client.post("/petitions/bulk/apply", data=apply_fields)
    assert response.status_code == 302
    assert response.headers["Location"] == "/petitions?q=Jordan&stage=pending&sort=newest"


def test_nul_characters_are_refused_not_a_server_error(client, login_as, cases):
    login_as("reviewer")
    petitions = cases(1)
    form = form_with(client.get("/petitions"), "reason")
    for data in (
        {"case_numbers": [petitions[0].case_number + "\x00"], "action": "grant", "reason": "x"},
        {"all_matching": "y", "q": "a\x00", "action": "grant", "reason": "x"},
        {"all_matching": "y", "action": "grant", "reason": "x\x00"},
    ):
        assert client.post("/petitions/bulk", data=form.fields | data).status_code == 400
    apply = {
        "csrf_token": form.fields["csrf_token"],
        "action": "grant",
        "reason": "x\x00",
        "selection": f"{petitions[0].case_number}:2",
    }
    assert client.post("/petitions/bulk/apply", data=apply).status_code == 400
    assert petition_row(petitions[0].id)["stage"] == "under_review"


def test_advocates_have_no_bulk_decisions(client, login_as, cases):
    login_as("advocate")
    assert 'id="bulk-form"' not in client.get("/petitions").get_data(as_text=True)
    response = client.post(
        "/petitions/bulk",
        data={
            "csrf_token": csrf_token(client),
            "all_matching": "y",
            "action": "grant",
            "relief": "commutation_time_served",
            "reason": "x",
        },
    )
    assert response.status_code == 403


def test_a_reviewer_cannot_choose_a_supervisors_action(client, login_as, cases):
    login_as("reviewer")
    petitions = cases(1, Stage.GRANTED)
    form = form_with(client.get("/petitions"), "reason")
    response = client.post(
        "/petitions/bulk",
        data=form.fields
        | {
            "case_numbers": [petitions[0].case_number],
            "action": "reopen",
            "reason": "x",
        },
    )
    assert response.status_code == 403


# --- the API ------------------------------------------------------------------------------------


def test_the_api_decides_listed_cases(api_as, cases):
    api = api_as("reviewer")
    petitions = cases(3)
    response = api.post(
        "/api/v1/decisions",
        json={
            "action": "grant",
            "reason": "Merit.",
            "case_numbers": [p.case_number for p in petitions],
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["action"] == "grant" and body["count"] == 3
    assert body["items"][0] == {
        "case_number": petitions[0].case_number,
        "stage": "granted",
        "version": 3,
    }


def test_the_api_decides_cases_matching_a_filter(api_as, cases):
    api = api_as("supervisor")
    received = cases(2, Stage.RECEIVED)
    cases(2)
    response = api.post(
        "/api/v1/decisions",
        json={
            "action": "start_review",
            "filter": {"stage": "received"},
        },
    )
    assert response.get_json()["count"] == 2
    assert {petition_row(p.id)["stage"] for p in received} == {"under_review"}


@pytest.mark.parametrize("stage", ["pending", ["received", "under_review"]])
def test_the_api_decides_cases_of_several_stages(api_as, cases, stage):
    api = api_as("supervisor")
    pending = cases(1, Stage.RECEIVED) + cases(1)
    granted = cases(1, Stage.GRANTED)
    response = api.post(
        "/api/v1/decisions", json={"action": "deny", "reason": "x", "filter": {"stage": stage}}
    )
    # Deny takes only cases under review: the received one stops them all, the granted one
    # was never selected.
    body = problem_of(response, 409)
    assert [o["case_number"] for o in body["offenders"]] == [pending[0].case_number]
    assert petition_row(granted[0].id)["stage"] == "granted"


def test_the_api_lists_offenders_with_409(api_as, cases):
    api = api_as("reviewer")
    good, bad = cases(1)[0], cases(1, Stage.DENIED)[0]
    response = api.post(
        "/api/v1/decisions",
        json={
            "action": "grant",
            "reason": "x",
            "case_numbers": [good.case_number, bad.case_number],
        },
    )
    body = problem_of(response, 409)
    assert [(o["case_number"], o["problem"], o["stage"]) for o in body["offenders"]] == [
        (bad.case_number, "wrong_stage", "denied")
    ]
    assert petition_row(good.id)["stage"] == "under_review"


def test_the_api_refuses_stale_versions_with_412(api_as, cases):
    api = api_as("reviewer")
    petitions = cases(2)
    response = api.post(
        "/api/v1/decisions",
        json={
            "action": "deny",
            "reason": "x",
            "versions": {petitions[0].case_number: 2, petitions[1].case_number: 1},
        },
    )
    body = problem_of(response, 412)
    assert [o["case_number"] for o in body["offenders"]] == [petitions[1].case_number]
    assert petition_row(petitions[0].id)["stage"] == "under_review"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "grant", "reason": "x"}, "case_numbers"),
        ({"action": "grant", "reason": "x", "case_numbers": [], "filter": {}}, "case_numbers"),
        ({"action": "grant", "reason": "x", "case_numbers": "CP-2026-000001"}, "case_numbers"),
        ({"action": "grant", "reason": "x", "case_numbers": []}, "case_numbers"),
        ({"action": "grant", "reason": "x", "filter": {"colour": "red"}}, "colour"),
        ({"action": "grant", "reason": "x", "filter": {"stage": "limbo"}}, "stage"),
        ({"action": "grant", "reason": "x", "filter": {"stage": ["received", "limbo"]}}, "stage"),
        ({"action": "grant", "reason": "x", "filter": {"stage": 3}}, "stage"),
        ({"action": "grant", "reason": "x", "filter": {"q": ["a"]}}, "q"),
        ({"action": "grant", "reason": "x", "versions": {"CP-2026-000001": "2"}}, "versions"),
        ({"action": "fly", "case_numbers": ["CP-2026-000001"]}, "action"),
        ({"action": "grant", "case_numbers": ["CP-2026-000001"], "why": "x"}, "why"),
    ],
)
def test_bad_decision_bodies_are_422(api_as, body, field):
    response = api_as("supervisor").post("/api/v1/decisions", json=body)
    assert field in {e["field"] for e in problem_of(response, 422)["errors"]}


def test_advocates_may_not_decide_through_the_api(api_as, cases):
    petitions = cases(1)
    response = api_as("advocate").post(
        "/api/v1/decisions",
        json={
            "action": "grant",
            "reason": "x",
            "case_numbers": [petitions[0].case_number],
        },
    )
    problem_of(response, 403)
