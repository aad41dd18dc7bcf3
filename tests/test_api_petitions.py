"""The petitions API: list, create, read, PATCH with If-Match, transitions, history — and
every error status as problem+json (400, 401, 403, 404, 409, 412, 415, 422, 428)."""

import pytest

from tests.api_helpers import PROBLEM_JSON, petition_json, problem_of
from tests.helpers import audit_entries, petition_by_case_number, petition_row
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.fields import EDITABLE_FIELDS
from tracker.petitions.importing import READ_ONLY_FIELDS
from tracker.workflow import Stage

PETITION_KEYS = {
    "case_number",
    "kind",
    "stage",
    "petitioner_name",
    "register_number",
    "date_of_birth",
    "offenses",
    "sentencing_court",
    "sentence",
    "sentence_date",
    "custody_status",
    "projected_release_date",
    "grounds",
    "organization",
    "advocate",
    "assignee",
    "version",
    "created_at",
    "updated_at",
    # issue 11: the federal forms' facts and the waiver's approval
    *EDITABLE_FIELDS[11:],
    "waiver_approved",
    # issue 12: the clocks and the information loop
    "received_at",
    "stage_entered_at",
    "days_pending",
    "days_in_stage",
    "information_request",
    "information_provided",
    "referral_overdue",
    "disposition",
    "relief",
    "commuted_sentence",
    "new_release_date",
    "remission_amount",
    "terms",
}

pytest_plugins = ["tests.api_fixtures"]


def url(petition, action=""):
    return f"/api/v1/petitions/{petition.case_number}" + (f"/{action}" if action else "")


# --- create and read -----------------------------------------------------------------------------


def test_an_advocate_creates_a_petition(api_as):
    api = api_as("advocate")

    response = api.post("/api/v1/petitions", json=petition_json())

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == PETITION_KEYS
    assert response.headers["Location"] == f"/api/v1/petitions/{body['case_number']}"
    assert response.headers["ETag"] == '"1"'
    assert body["stage"] == "received" and body["version"] == 1
    assert body["advocate"] == api.user.email and body["assignee"] is None
    assert body["organization"] == api.user.organization.name
    assert body["date_of_birth"] == "1975-04-02" and body["created_at"].endswith("Z")
    petition = petition_by_case_number(body["case_number"])
    assert petition.organization_id == api.user.organization_id
    [entry] = audit_entries(petition_id=petition.id)
    assert (entry.action, entry.actor_id) == ("submit", api.user.id)
    assert api.get(response.headers["Location"]).get_json() == body


@pytest.mark.parametrize("field", READ_ONLY_FIELDS)
def test_read_only_fields_are_refused_on_create(api_as, field):
    api = api_as("advocate")
    body = problem_of(api.post("/api/v1/petitions", json=petition_json() | {field: "x"}), 422)
    assert {"field": field, "message": f"'{field}' is read-only."} in body["errors"]


def test_invalid_fields_are_422_naming_each(api_as):
    api = api_as("advocate")
    response = api.post(
        "/api/v1/petitions",
        json=petition_json(
            register_number="1234-5678",
            date_of_birth="yesterday",
            colour="blue",
            grounds=7,
        ),
    )
    errors = {e["field"]: e["message"] for e in problem_of(response, 422)["errors"]}
    # Every refused field at once (a type error no longer hides a pattern error).
    assert errors == {
        "register_number": "Use five digits, a dash, three digits (e.g. 12345-678).",
        "date_of_birth": "Use a date like 2024-12-31.",
        "colour": "Unknown field.",
        "grounds": "Must be a string.",
    }
    response = api.post("/api/v1/petitions", json=petition_json(register_number="1234-5678"))
    errors = {e["field"]: e["message"] for e in problem_of(response, 422)["errors"]}
    assert errors == {"register_number": "Use five digits, a dash, three digits (e.g. 12345-678)."}


def test_staff_may_not_create(api_as):
    problem_of(api_as("reviewer").post("/api/v1/petitions", json=petition_json()), 403)


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ('"text"', "application/json", 400),
        ("[" * 100_000, "application/json", 400),
        ("kind=pardon", "application/x-www-form-urlencoded", 415),
        ('{"grounds": "a\\u0000b"}', "application/json", 422),
        ('{"grounds": "\\ud800"}', "application/json", 422),
    ],
)
def test_malformed_bodies(api_as, data, content_type, status):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", data=data, headers={"Content-Type": content_type})
    problem_of(response, status)


def test_an_unknown_or_foreign_case_is_404(api_as, make_petition):
    api = api_as("advocate")
    foreign = make_petition()
    problem_of(api.get("/api/v1/petitions/CP-2000-999999"), 404)
    problem_of(api.get("/api/v1/petitions/not-a-case%00"), 404)
    problem_of(api.get(url(foreign)), 404)
    problem_of(api.get(url(foreign, "history")), 404)


def test_unknown_paths_and_methods_are_problems_too(api_as):
    api = api_as("advocate")
    problem_of(api.get("/api/v1/nothing/here"), 404)
    response = api.request("DELETE", "/api/v1/petitions")
    problem_of(response, 405)
    assert "GET" in response.headers["Allow"]


def test_staff_see_the_assignee_advocates_do_not(api_as, make_petition, make_user):
    reviewer = api_as("reviewer")
    advocate = api_as("advocate")
    petition = make_petition(advocate=advocate.user)
    petition_services.assign_petition(petition, reviewer.user, reviewer.user)
    db.session.commit()
    assert reviewer.get(url(petition)).get_json()["assignee"] == reviewer.user.email
    assert advocate.get(url(petition)).get_json()["assignee"] is None


# --- list ---------------------------------------------------------------------------------------


def test_the_list_pages_with_a_cursor(api_as, make_petition):
    api = api_as("advocate")
    created = [make_petition(advocate=api.user).case_number for _ in range(5)]
    seen, cursor = [], None
    for _ in range(3):
        query = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/v1/petitions", query_string=query).get_json()
        seen += [p["case_number"] for p in page["items"]]
        cursor = page["next_cursor"]
    assert seen == created and cursor is None


def test_staff_page_through_a_kept_list_with_a_cursor(api_as, make_petition, make_user):
    """A staff member's unsearched list is a statement kept per process: each page after a
    cursor binds its own position, and each item's fields are in PETITION_FIELDS' order."""
    from tracker.api.serialization import PETITION_FIELDS

    reviewer = api_as("reviewer")
    advocate = make_user("advocate")
    created = [
        make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate).case_number for _ in range(5)
    ]
    for _ in range(2):  # the second time, every page's statement is a kept one
        seen, cursor = [], None
        for _ in range(3):
            query = {"stage": "under_review", "limit": 2} | ({"cursor": cursor} if cursor else {})
            page = reviewer.get("/api/v1/petitions", query_string=query).get_json()
            assert all(tuple(item) == PETITION_FIELDS for item in page["items"])
            seen += [p["case_number"] for p in page["items"]]
            cursor = page["next_cursor"]
        assert seen == created and cursor is None


def test_the_list_filters(api_as, make_petition, make_user):
    reviewer = api_as("reviewer")
    advocate = make_user("advocate")
    received = make_petition(advocate=advocate, petitioner_name="Ana Example")
    pardon = make_petition(
        advocate=advocate,
        kind="pardon",
        register_number=None,
        projected_release_date=None,
        custody_status="released",
        petitioner_name="Bo Other",
    )
    reviewing = make_petition(
        stage=Stage.UNDER_REVIEW, advocate=advocate, register_number="11111-222"
    )
    petition_services.assign_petition(reviewing, reviewer.user, reviewer.user)
    db.session.commit()

    def listed(**query):
        response = reviewer.get("/api/v1/petitions", query_string=query)
        assert response.status_code == 200, response.get_json()
        return {p["case_number"] for p in response.get_json()["items"]}

    assert listed(stage="under_review") == {reviewing.case_number}
    assert listed(kind="pardon") == {pardon.case_number}
    assert listed(q="ana ex") == {received.case_number}
    assert listed(q="11111-222") == {reviewing.case_number}
    assert listed(q=received.case_number.lower()) == {received.case_number}
    assert listed(assignee="me") == {reviewing.case_number}
    assert listed(assignee=reviewer.user.email.upper()) == {reviewing.case_number}
    assert received.case_number in listed(assignee="none")
    assert reviewing.case_number not in listed(assignee="none")
    assert listed(stage="pending") == {
        received.case_number,
        pardon.case_number,
        reviewing.case_number,
    }
    assert listed(stage=["under_review", "received"]) == listed(stage="pending")
    assert listed(stage=["granted", "denied"]) == set()


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"stage": "under_review"},
        {"stage": ["under_review", "received"], "kind": "pardon"},
        {"q": "ana ex"},
        {"q": "11111-222", "assignee": "me"},
        {"assignee": "none", "older_than_days": "30", "referral_overdue": "true"},
        {"custody_status": "released", "nonviolent": "true", "sentence_date_from": "2020-01-01"},
    ],
)
@pytest.mark.parametrize("role", ["reviewer", "advocate"])
def test_the_list_is_the_rows_of_its_queue_query(app, make_user, query, role):
    """The list's statement, built on the rows of every petition (queue_rows), is the SQL of
    the queue's own query made into rows (petition_rows)."""
    from werkzeug.datastructures import MultiDict

    from tracker.api import serialization
    from tracker.petitions import queries

    user = make_user(role)
    if role == "advocate":
        query = {k: v for k, v in query.items() if k not in ("assignee", "referral_overdue")}
    with app.test_request_context("/api/v1/petitions"):
        filters = serialization.queue_filters(user, MultiDict(query))
        statement = queries.queue_query(user, filters, load_flags=False)
        built = serialization.queue_rows(statement)
        dialect = db.session.get_bind().dialect
        expected = serialization.petition_rows(statement).compile(dialect=dialect)
        assert str(built.compile(dialect=dialect)) == str(expected)
        assert built.compile(dialect=dialect).params == expected.params


@pytest.mark.parametrize(
    "query, status, field",
    [
        ({"stage": "limbo"}, 422, "stage"),
        ({"stage": ["received", "limbo"]}, 422, "stage"),
        ({"stage": ""}, 422, "stage"),
        ({"kind": ["pardon", "commutation"]}, 422, "kind"),
        ({"q": ["a", "b"]}, 422, "q"),
        ({"kind": "amnesty"}, 422, "kind"),
        ({"limit": "0"}, 422, "limit"),
        ({"limit": "101"}, 422, "limit"),
        ({"limit": "ten"}, 422, "limit"),
        ({"assignee": "nobody@example.org"}, 422, "assignee"),
        ({"q": "x" * 201}, 422, "q"),
        ({"cursor": "garbage!"}, 400, None),
        ({"cursor": "MjAyNg"}, 400, None),
        ({"q": "a\x00b"}, 400, None),
    ],
)
def test_bad_list_parameters(api_as, query, status, field):
    body = problem_of(api_as("supervisor").get("/api/v1/petitions", query_string=query), status)
    if field:
        assert [e["field"] for e in body["errors"]] == [field]


def test_advocates_may_not_filter_by_assignee(api_as):
    problem_of(api_as("advocate").get("/api/v1/petitions?assignee=me"), 403)


# --- PATCH with If-Match ------------------------------------------------------------------------


def test_patch_with_the_current_version_changes_the_case(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)

    response = api.patch(
        url(petition), json={"grounds": "New grounds."}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["grounds"] == "New grounds." and response.headers["ETag"] == '"2"'
    assert petition_row(petition.id)["version"] == 2
    [edit] = audit_entries(petition_id=petition.id, action="edit")
    assert edit.changes == {
        "grounds": ["Would receive a far shorter sentence today.", "New grounds."]
    }


def test_patch_with_a_stale_version_is_412_and_changes_nothing(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    api.patch(url(petition), json={"grounds": "First."}, headers={"If-Match": '"1"'})
    before = petition_row(petition.id)

    response = api.patch(url(petition), json={"grounds": "Second."}, headers={"If-Match": '"1"'})

    body = problem_of(response, 412)
    assert body["current_version"] == 2 and response.headers["ETag"] == '"2"'
    assert petition_row(petition.id) == before
    problem_of(
        api.patch(url(petition), json={"grounds": "x"}, headers={"If-Match": "garbage"}), 412
    )


def test_patch_without_if_match_is_428(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    problem_of(api.patch(url(petition), json={"grounds": "x"}), 428)
    assert petition_row(petition.id)["version"] == 1


def test_patch_refuses_read_only_fields(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    response = api.patch(url(petition), json={"stage": "granted"}, headers={"If-Match": '"1"'})
    assert problem_of(response, 422)["errors"] == [
        {"field": "stage", "message": "'stage' is read-only."}
    ]


def test_an_advocate_may_not_patch_a_case_under_review(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=api.user)
    response = api.patch(url(petition), json={"grounds": "x"}, headers={"If-Match": '"2"'})
    problem_of(response, 403)


def test_patch_validates_the_merged_fields(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    response = api.patch(url(petition), json={"register_number": None}, headers={"If-Match": "1"})
    errors = problem_of(response, 422)["errors"]
    assert errors == [
        {"field": "register_number", "message": "A commutation needs the federal register number."}
    ]


# --- transitions and history --------------------------------------------------------------------


def test_a_reviewer_moves_a_case_along(api_as, make_petition):
    api = api_as("reviewer")
    petition = make_petition()
    response = api.post(url(petition, "transitions"), json={"action": "start_review"})
    assert response.status_code == 200 and response.get_json()["stage"] == "under_review"
    response = api.post(
        url(petition, "transitions"),
        json={"action": "grant", "reason": "Merit."},
        headers={"If-Match": '"2"'},
    )
    assert response.get_json()["stage"] == "granted" and response.headers["ETag"] == '"3"'
    row = petition_row(petition.id)
    assert (row["decision_reason"], row["decided_by_id"]) == ("Merit.", api.user.id)


def test_a_transition_from_the_wrong_stage_is_409_naming_the_stage(api_as, make_petition):
    petition = make_petition()
    response = api_as("reviewer").post(
        url(petition, "transitions"), json={"action": "grant", "reason": "x"}
    )
    body = problem_of(response, 409)
    assert body["current_stage"] == "received" and "received" in body["detail"]
    assert petition_row(petition.id)["stage"] == "received"


def test_a_role_that_may_not_is_403(api_as, make_petition):
    petition = make_petition(stage=Stage.GRANTED)
    response = api_as("reviewer").post(
        url(petition, "transitions"), json={"action": "reopen", "reason": "x"}
    )
    problem_of(response, 403)
    [refusal] = audit_entries(action="access_refused")
    assert refusal.details["status"] == 403 and refusal.details["via"] == "api"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "fly"}, "action"),
        ({"action": "submit"}, "action"),
        ({}, "action"),
        ({"action": "start_review", "reason": 5}, "reason"),
        ({"action": "start_review", "extra": 1}, "extra"),
    ],
)
def test_bad_transition_bodies_are_422(api_as, make_petition, body, field):
    petition = make_petition()
    response = api_as("supervisor").post(url(petition, "transitions"), json=body)
    assert field in {e["field"] for e in problem_of(response, 422)["errors"]}


def test_a_decision_without_a_reason_is_422(api_as, make_petition):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    response = api_as("reviewer").post(url(petition, "transitions"), json={"action": "deny"})
    assert problem_of(response, 422)["errors"][0]["field"] == "reason"


def test_a_stale_if_match_on_a_transition_is_412(api_as, make_petition):
    petition = make_petition()
    response = api_as("reviewer").post(
        url(petition, "transitions"), json={"action": "start_review"}, headers={"If-Match": '"7"'}
    )
    problem_of(response, 412)
    assert petition_row(petition.id)["stage"] == "received"


def test_history_shows_what_the_caller_may_see(api_as, make_petition):
    advocate = api_as("advocate")
    reviewer = api_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate.user)
    petition_services.add_note(petition, reviewer.user, "Internal only.", "internal")
    petition_services.add_note(petition, reviewer.user, "For the advocate.", "shared")
    db.session.commit()

    staff_view = reviewer.get(url(petition, "history")).get_json()["items"]
    advocate_view = advocate.get(url(petition, "history")).get_json()["items"]

    assert [e["action"] for e in staff_view] == [
        "submit",
        "start_review",
        "note_internal",
        "note_shared",
    ]
    assert [e["action"] for e in advocate_view] == ["submit", "start_review", "note_shared"]
    assert advocate_view[0]["actor"] == advocate.user.email
    assert advocate_view[1]["to_stage"] == "under_review"


def test_errors_are_never_html(api_as, client):
    for response in (
        client.get("/api/v1/petitions"),
        api_as("advocate").get("/api/v1/petitions/CP-2026-000001"),
        client.post("/api/v1/nowhere"),
    ):
        assert response.mimetype == PROBLEM_JSON
