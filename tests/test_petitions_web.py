"""Petitions through the web: submitting, field validation, editing, version conflicts,
notes, taking and assigning cases, and what the case's history shows."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.conftest import csrf_token, petition_values
from tests.helpers import (
    audit_entries,
    count,
    edit_form,
    field_html,
    form_with,
    notes_of,
    page_text,
    petition_by_case_number,
    petition_form,
    petition_row,
    section,
    web_outcome_fields,
)
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import EDITABLE_FIELDS, Petition
from tracker.workflow import Stage

CASE_NUMBER = re.compile(r"^CP-(\d{4})-(\d{6})$")
FUTURE = date.today() + timedelta(days=30)


def case_url(petition, action=""):
    return f"/petitions/{petition.case_number}" + (f"/{action}" if action else "")


def submit(client, **overrides):
    data = petition_form(**overrides) | {
        "version": "0",
        "csrf_token": csrf_token(client, "/petitions/new"),
    }
    return client.post("/petitions/new", data=data)


def post_edit(client, petition, version=None, form=None, **overrides):
    data = (form or edit_form(petition, **overrides)) | {
        "version": str(petition.version if version is None else version),
        "csrf_token": csrf_token(client),
    }
    return client.post(case_url(petition, "edit"), data=data)


def post_transition(client, petition, action, reason="", version=None):
    return client.post(
        case_url(petition, "transition"),
        data={
            "transition-action": action,
            "transition-reason": reason,
            "transition-version": str(petition.version if version is None else version),
            "transition-csrf_token": csrf_token(client),
            **web_outcome_fields(action),
        },
    )


def post_note(client, petition, body, visibility):
    return client.post(
        case_url(petition, "notes"),
        data={
            "note-body": body,
            "note-visibility": visibility,
            "note-csrf_token": csrf_token(client),
        },
    )


def post_take(client, petition, version=None):
    return client.post(
        case_url(petition, "take"),
        data={
            "take-version": str(petition.version if version is None else version),
            "take-csrf_token": csrf_token(client),
        },
    )


def post_assign(client, petition, assignee, version=None):
    return client.post(
        case_url(petition, "assign"),
        data={
            "assign-assignee": str(assignee.id) if assignee else "",
            "assign-version": str(petition.version if version is None else version),
            "assign-csrf_token": csrf_token(client),
        },
    )


def case_entries(petition):
    return [(e.action, e.actor_id) for e in audit_entries(petition_id=petition.id, category="case")]


# --- submitting -------------------------------------------------------------------------------


def test_advocate_submits_a_petition(client, login_as):
    advocate = login_as("advocate")
    year_before = datetime.now(UTC).year

    response = submit(client)

    assert response.status_code == 302
    case_number = response.headers["Location"].removeprefix("/petitions/")
    match = CASE_NUMBER.match(case_number)
    assert match, case_number
    assert int(match[1]) in {year_before, datetime.now(UTC).year}
    petition = petition_by_case_number(case_number)
    assert petition.stage == Stage.RECEIVED
    assert petition.organization_id == advocate.organization_id
    assert petition.advocate_id == advocate.id
    assert petition.assignee_id is None
    assert petition.version == 1
    # The fields the form was given; the optional ones of issue 11 were left empty.
    assert {name: getattr(petition, name) for name in EDITABLE_FIELDS} == (
        dict.fromkeys(EDITABLE_FIELDS) | petition_values()
    )

    [entry] = audit_entries(petition_id=petition.id)
    assert (entry.action, entry.category, entry.actor_id) == ("submit", "case", advocate.id)
    assert entry.to_stage == "received"
    assert entry.details == {"version": 1, "case_number": case_number}
    assert entry.changes["register_number"] == [None, "12345-678"]
    assert entry.changes["date_of_birth"] == [None, "1975-04-02"]

    page = client.get(f"/petitions/{case_number}")
    assert page.status_code == 200
    assert f"Petition {case_number} submitted." in page_text(page)


def test_case_numbers_follow_each_other(client, login_as):
    login_as("advocate")
    first = submit(client).headers["Location"].removeprefix("/petitions/")
    second = submit(client, register_number="12345-679").headers["Location"]
    second = second.removeprefix("/petitions/")
    assert CASE_NUMBER.match(first) and CASE_NUMBER.match(second)
    assert int(second[-6:]) == int(first[-6:]) + 1
    assert second[:8] == first[:8]


def test_register_number_is_optional_for_a_pardon(client, login_as):
    login_as("advocate")
    response = submit(
        client,
        kind="pardon",
        register_number=None,
        projected_release_date=None,
        custody_status="released",
    )
    assert response.status_code == 302
    petition = petition_by_case_number(response.headers["Location"].removeprefix("/petitions/"))
    assert (petition.kind, petition.register_number) == ("pardon", None)


#: (typed values, the field that must carry the message, the message)
INVALID_FIELDS = [
    pytest.param(
        {"register_number": "1234-5678"},
        "register_number",
        "Use five digits, a dash, three digits (e.g. 12345-678).",
        id="register-dash-misplaced",
    ),
    pytest.param(
        {"register_number": "ABCDE-FGH"},
        "register_number",
        "Use five digits, a dash, three digits (e.g. 12345-678).",
        id="register-letters",
    ),
    pytest.param(
        {"kind": "commutation", "register_number": None},
        "register_number",
        "A commutation needs the federal register number.",
        id="commutation-no-register",
    ),
    pytest.param(
        {"date_of_birth": FUTURE},
        "date_of_birth",
        "The date of birth cannot be in the future.",
        id="born-in-the-future",
    ),
    pytest.param(
        {"date_of_birth": date(1980, 5, 1), "sentence_date": date(1980, 4, 30)},
        "sentence_date",
        "The date of sentence cannot be before the date of birth.",
        id="sentenced-before-birth",
    ),
    pytest.param(
        {"kind": "pardon", "projected_release_date": date(2030, 1, 1)},
        "projected_release_date",
        "Only a commutation has a projected release date.",
        id="pardon-with-release-date",
    ),
]


@pytest.mark.parametrize(("typed", "bad_field", "message"), INVALID_FIELDS)
def test_invalid_submission_shows_the_message_on_the_field_and_keeps_the_input(
    client, login_as, typed, bad_field, message
):
    login_as("advocate")
    petitions_before = count(Petition)
    typed = {"petitioner_name": "Typed Name Kept", "grounds": "Typed grounds kept.", **typed}

    response = submit(client, **typed)

    assert response.status_code == 422
    body = page_text(response)
    assert message in field_html(body, bad_field)
    assert "is-invalid" in field_html(body, bad_field)
    assert "is-invalid" not in field_html(body, "petitioner_name")
    shown = form_with(response, "petitioner_name").fields
    assert shown == {**shown, **petition_form(**typed)}  # every typed value is still there
    assert count(Petition) == petitions_before


@pytest.mark.parametrize(("typed", "bad_field", "message"), INVALID_FIELDS)
def test_invalid_edit_shows_the_message_on_the_field_and_changes_nothing(
    client, login_as, make_petition, typed, bad_field, message
):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    before = petition_row(petition.id)
    typed = {"petitioner_name": "Typed Name Kept", **typed}

    response = post_edit(client, petition, **typed)

    assert response.status_code == 422
    body = page_text(response)
    assert message in field_html(body, bad_field)
    shown = form_with(response, "petitioner_name").fields
    assert shown == {**shown, **edit_form(petition, **typed)}
    assert petition_row(petition.id) == before
    assert [e.action for e in audit_entries(petition_id=petition.id)] == ["submit"]


# --- editing ----------------------------------------------------------------------------------


def test_advocate_edits_a_received_petition(client, login_as, make_petition):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    assert client.get(case_url(petition, "edit")).status_code == 200

    response = post_edit(
        client, petition, sentence="120 months' imprisonment", date_of_birth=date(1976, 4, 2)
    )

    assert response.status_code == 302
    assert response.headers["Location"] == case_url(petition)
    row = petition_row(petition.id)
    assert row["sentence"] == "120 months' imprisonment"
    assert row["date_of_birth"] == date(1976, 4, 2)
    assert row["version"] == 2
    [edit] = audit_entries(petition_id=petition.id, action="edit")
    assert edit.actor_id == advocate.id
    assert edit.changes == {
        "sentence": ["240 months' imprisonment", "120 months' imprisonment"],
        "date_of_birth": ["1975-04-02", "1976-04-02"],
    }
    assert edit.details["version"] == 2


def test_an_edit_that_changes_nothing_records_nothing(client, login_as, make_petition):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    before = petition_row(petition.id)
    response = post_edit(client, petition)
    assert response.status_code == 302
    assert "Nothing changed." in page_text(client.get(case_url(petition)))
    assert petition_row(petition.id) == before
    assert audit_entries(petition_id=petition.id, action="edit") == []


@pytest.mark.parametrize(
    "stage", [Stage.UNDER_REVIEW, Stage.GRANTED, Stage.DENIED], ids=lambda s: s.value
)
def test_advocate_may_not_edit_once_review_started(client, login_as, make_petition, stage):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate, stage=stage)
    before = petition_row(petition.id)

    assert client.get(case_url(petition, "edit")).status_code == 403
    response = post_edit(client, petition, sentence="1 day")

    assert response.status_code == 403
    assert petition_row(petition.id) == before
    assert audit_entries(petition_id=petition.id, action="edit") == []
    assert case_url(petition, "edit") not in page_text(client.get(case_url(petition)))


@pytest.mark.parametrize("role", ["reviewer", "supervisor"])
@pytest.mark.parametrize(
    ("stage", "allowed"),
    [
        (Stage.RECEIVED, True),
        (Stage.UNDER_REVIEW, True),
        (Stage.GRANTED, False),
        (Stage.DENIED, False),
    ],
    ids=["received", "under_review", "granted", "denied"],
)
def test_staff_correct_fields_until_decided(client, login_as, make_petition, role, stage, allowed):
    staff = login_as(role)
    petition = make_petition(stage=stage)
    before = petition_row(petition.id)

    response = post_edit(client, petition, sentencing_court="Eastern District of Texas")

    row = petition_row(petition.id)
    edits = audit_entries(petition_id=petition.id, action="edit")
    if allowed:
        assert response.status_code == 302
        assert row["sentencing_court"] == "Eastern District of Texas"
        assert row["stage"] == stage
        assert [(e.actor_id, e.changes) for e in edits] == [
            (staff.id, {"sentencing_court": ["District of Maryland", "Eastern District of Texas"]})
        ]
    else:
        assert response.status_code == 403
        assert client.get(case_url(petition, "edit")).status_code == 403
        assert row == before
        assert edits == []


# --- version conflicts ------------------------------------------------------------------------


def edit_meanwhile(petition, editor, **values):
    """Someone else changes the case after the user opened it."""
    petition_services.update_petition(petition, editor, values, petition.version)
    db.session.commit()


def test_stale_edit_is_a_conflict_that_keeps_the_input(client, login_as, make_petition, make_user):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    seen_version = petition.version
    typed = edit_form(petition, petitioner_name="Typed While Stale")  # the form as it was opened
    edit_meanwhile(
        petition, make_user("reviewer", name="Rita Reviewer"), sentence="180 months' imprisonment"
    )
    before, history_before = petition_row(petition.id), case_entries(petition)

    response = post_edit(client, petition, version=seen_version, form=typed)

    assert response.status_code == 409
    body = page_text(response)
    assert "changed while you were working on it" in body
    merged = section(body, "merge-heading")
    kept_theirs = merged.partition("Changed since you opened it")[2]
    assert re.search(r"Sentence imposed:\s*<span [^>]*>180 months' imprisonment<", kept_theirs)
    assert re.search(
        r"Petitioner's full name:\s*<del>Jordan Q. Example</del> → <ins>Typed While Stale</ins>",
        merged,
    )
    # Who edited is staff-only history, as on the case page: the advocate sees the field only.
    assert "Rita Reviewer" not in body
    kept = form_with(response, "petitioner_name")
    assert kept.action == case_url(petition, "edit")
    assert kept.fields["petitioner_name"] == "Typed While Stale"
    assert kept.fields["sentence"] == "240 months' imprisonment"
    assert petition_row(petition.id) == before
    assert case_entries(petition) == history_before


def test_stale_transition_is_a_conflict_that_keeps_the_reason(
    client, login_as, make_petition, make_user
):
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    seen_version = petition.version
    edit_meanwhile(
        petition,
        make_user("supervisor", name="Sam Supervisor"),
        sentence="180 months' imprisonment",
    )
    before, history_before = petition_row(petition.id), case_entries(petition)

    response = post_transition(client, petition, "grant", "Typed reason kept.", seen_version)

    assert response.status_code == 409
    body = page_text(response)
    assert "Sam Supervisor" in body
    assert "Sentence imposed" in body and "180 months' imprisonment" in body
    kept = form_with(response, "transition-reason")
    assert kept.action == case_url(petition, "transition")
    assert kept.fields["transition-reason"] == "Typed reason kept."
    assert kept.fields["transition-action"] == "grant"
    assert petition_row(petition.id) == before
    assert case_entries(petition) == history_before


@pytest.mark.parametrize("action", ["take", "assign"])
def test_stale_take_or_assign_is_a_conflict(client, login_as, make_petition, make_user, action):
    staff = login_as("supervisor")
    petition = make_petition()
    seen_version = petition.version
    edit_meanwhile(petition, make_user("reviewer"), grounds="Changed meanwhile.")
    before, history_before = petition_row(petition.id), case_entries(petition)

    if action == "take":
        response = post_take(client, petition, seen_version)
    else:
        response = post_assign(client, petition, staff, seen_version)

    assert response.status_code == 409
    assert "Changed meanwhile." in page_text(response)
    assert petition_row(petition.id) == before
    assert case_entries(petition) == history_before


@pytest.mark.parametrize("kept_field", ["petitioner_name", "transition-reason"])
def test_conflict_page_applies_the_kept_input_to_the_current_version(
    client, login_as, make_petition, make_user, kept_field
):
    """The conflict page's form, sent as it is, applies the input to the case as it is now."""
    login_as("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    seen_version = petition.version
    typed = edit_form(petition, petitioner_name="Typed While Stale")
    edit_meanwhile(petition, make_user("reviewer"), sentence="180 months' imprisonment")
    if kept_field == "petitioner_name":
        conflict = post_edit(client, petition, version=seen_version, form=typed)
    else:
        conflict = post_transition(client, petition, "deny", "Typed reason kept.", seen_version)
    assert conflict.status_code == 409
    kept = form_with(conflict, kept_field)

    response = client.post(kept.action, data=kept.fields)

    assert response.status_code == 302, page_text(response)
    row = petition_row(petition.id)
    if kept_field == "petitioner_name":
        assert row["petitioner_name"] == "Typed While Stale"
        # Applied again as a merge: the colleague's sentence, which this user never touched,
        # stays (the whole stale form used to be written, reverting it).
        assert row["sentence"] == "180 months' imprisonment"
    else:
        assert (row["stage"], row["decision_reason"]) == ("denied", "Typed reason kept.")


def test_advocate_conflict_page_does_not_reveal_the_assignee(
    client, login_as, make_petition, make_user
):
    """Who works a case is staff-only; an advocate's conflict caused by a take must not show it."""
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    seen_version = petition.version
    reviewer = make_user("reviewer", name="Hidden Reviewer", email="hidden.reviewer@example.org")
    petition_services.assign_petition(petition, reviewer, reviewer, seen_version)
    db.session.commit()

    response = post_edit(client, petition, version=seen_version, grounds="New grounds.")

    assert response.status_code == 409
    body = page_text(response)
    assert "Hidden Reviewer" not in body
    assert "hidden.reviewer@example.org" not in body
    assert petition_row(petition.id)["grounds"] == petition_values()["grounds"]


# --- notes ------------------------------------------------------------------------------------

INTERNAL_NOTE = "INTERNAL: prior counsel may have been ineffective."
SHARED_NOTE = "SHARED: we received the support letters, thank you."


def test_internal_notes_are_never_shown_to_advocates(client, auth, make_user, make_petition):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(advocate=advocate, stage=Stage.UNDER_REVIEW)
    auth.login(reviewer)
    assert post_note(client, petition, INTERNAL_NOTE, "internal").status_code == 302
    assert post_note(client, petition, SHARED_NOTE, "shared").status_code == 302
    assert notes_of(petition.id) == [("internal", INTERNAL_NOTE), ("shared", SHARED_NOTE)]
    assert [e.action for e in audit_entries(petition_id=petition.id)][-2:] == [
        "note_internal",
        "note_shared",
    ]
    staff_page = page_text(client.get(case_url(petition)))
    for note in (INTERNAL_NOTE, SHARED_NOTE):
        assert note in section(staff_page, "notes-heading", "history-heading")
        assert note in section(staff_page, "history-heading")

    auth.logout()
    auth.login(advocate)
    page = page_text(client.get(case_url(petition)))

    assert SHARED_NOTE in section(page, "notes-heading", "history-heading")
    assert SHARED_NOTE in section(page, "history-heading")
    assert INTERNAL_NOTE not in page  # neither among the notes nor in the history
    assert "Internal" not in section(page, "notes-heading", "history-heading")


def test_advocates_cannot_write_notes(client, login_as, make_petition):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    assert 'name="note-body"' not in page_text(client.get(case_url(petition)))

    response = post_note(client, petition, "An advocate's note.", "shared")

    assert response.status_code == 403
    assert notes_of(petition.id) == []
    assert [e.action for e in audit_entries(petition_id=petition.id)] == ["submit"]


def test_a_note_needs_a_body(client, login_as, make_petition):
    login_as("reviewer")
    petition = make_petition()
    response = post_note(client, petition, "   ", "internal")
    assert response.status_code == 422
    assert "This field is required." in field_html(page_text(response), "note-body")
    assert notes_of(petition.id) == []


# --- taking and assigning ---------------------------------------------------------------------


def test_reviewer_takes_a_case(client, login_as, make_petition):
    reviewer = login_as("reviewer")
    petition = make_petition()
    assert 'action="' + case_url(petition, "take") in page_text(client.get(case_url(petition)))

    response = post_take(client, petition)

    assert response.status_code == 302
    row = petition_row(petition.id)
    assert (row["assignee_id"], row["version"]) == (reviewer.id, 2)
    [take] = audit_entries(petition_id=petition.id, action="take")
    assert (take.actor_id, take.subject_user_id) == (reviewer.id, reviewer.id)
    assert take.changes == {"assignee": [None, reviewer.email]}
    page = page_text(client.get(case_url(petition)))
    assert case_url(petition, "take") not in page  # it is already theirs


@pytest.mark.parametrize("stage", [Stage.GRANTED, Stage.DENIED], ids=lambda s: s.value)
def test_a_decided_case_cannot_be_taken(client, login_as, make_petition, stage):
    login_as("reviewer")
    petition = make_petition(stage=stage)
    before = petition_row(petition.id)
    assert post_take(client, petition).status_code == 403
    assert petition_row(petition.id) == before


def test_reviewer_may_not_assign_to_someone_else(client, login_as, make_petition, make_user):
    login_as("reviewer")
    colleague = make_user("reviewer")
    petition = make_petition()
    before = petition_row(petition.id)
    assert 'name="assign-assignee"' not in page_text(client.get(case_url(petition)))

    response = post_assign(client, petition, colleague)

    assert response.status_code == 403
    assert petition_row(petition.id) == before
    assert audit_entries(petition_id=petition.id, action="assign") == []


def test_supervisor_assigns_reassigns_and_unassigns(client, login_as, make_petition, make_user):
    supervisor = login_as("supervisor")
    first, second = make_user("reviewer"), make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)

    assert post_assign(client, petition, first).status_code == 302
    assert petition_row(petition.id)["assignee_id"] == first.id
    assert post_assign(client, petition, second).status_code == 302
    assert petition_row(petition.id)["assignee_id"] == second.id
    assert post_assign(client, petition, None).status_code == 302
    assert petition_row(petition.id)["assignee_id"] is None

    assigns = audit_entries(petition_id=petition.id, action="assign")
    assert [(e.actor_id, e.subject_user_id, e.changes["assignee"]) for e in assigns] == [
        (supervisor.id, first.id, [None, first.email]),
        (supervisor.id, second.id, [first.email, second.email]),
        (supervisor.id, None, [second.email, None]),
    ]


def test_a_case_is_not_assigned_to_an_advocate(client, login_as, make_petition, make_user):
    login_as("supervisor")
    petition = make_petition()
    before = petition_row(petition.id)
    response = post_assign(client, petition, make_user("advocate"))
    assert response.status_code == 302
    assert "Cases are assigned to active reviewers or supervisors." in page_text(
        client.get(response.headers["Location"])
    )
    assert petition_row(petition.id) == before


# --- the case's history -----------------------------------------------------------------------


def test_history_shows_field_changes_old_to_new(client, login_as, make_petition):
    login_as("reviewer")
    petition = make_petition()
    response = post_edit(
        client, petition, sentence="180 months' imprisonment", custody_status="home_confinement"
    )
    assert response.status_code == 302

    history = section(page_text(client.get(case_url(petition))), "history-heading")

    assert re.search(
        r"Sentence imposed:\s*<del>240 months' imprisonment</del> → "
        r"<ins>180 months' imprisonment</ins>",
        history,
    )
    assert re.search(
        r"Custody status:\s*<del>In prison</del> → <ins>Home confinement</ins>", history
    )


def test_advocate_sees_why_the_case_was_returned(client, auth, make_user, make_petition):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(advocate=advocate, stage=Stage.UNDER_REVIEW)
    auth.login(reviewer)
    reason = "Please add the institutional disciplinary record."
    assert post_transition(client, petition, "return_for_information", reason).status_code == 302
    auth.logout()
    auth.login(advocate)

    page = page_text(client.get(case_url(petition)))

    history = section(page, "history-heading")
    assert "Return for information" in history
    assert f"Reason: {reason}" in history
    # Issue 12: the advocate answers the request, fixing fields in the same step.
    assert case_url(petition, "information") in page
    assert "Information requested" in section(page, "information-heading")


def test_a_reviewer_cannot_take_a_colleagues_case(client, login_as, make_user, make_petition):
    reviewer = login_as("reviewer")
    colleague = make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    petition_services.assign_petition(petition, colleague, colleague)
    db.session.commit()
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Take this case" not in page
    response = client.post(
        f"/petitions/{petition.case_number}/take",
        data={
            "take-version": petition.version,
            "take-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
        },
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(type(petition), petition.id).assignee_id == colleague.id
    del reviewer


def test_advocates_cannot_filter_by_assignee(client, login_as, make_user, make_petition):
    advocate = login_as("advocate")
    reviewer = make_user("reviewer")
    taken = make_petition(stage=Stage.UNDER_REVIEW, organization=advocate.organization)
    make_petition(organization=advocate.organization)
    petition_services.assign_petition(taken, reviewer, reviewer)
    db.session.commit()
    for value in (str(reviewer.id), "none", "me"):
        page = client.get(f"/petitions?assignee={value}").get_data(as_text=True)
        assert "2 cases" in page, value
