"""Conflicts and refusals that keep the work (issue 9, items 5 and 6) and history that an
advocate may never see (issue 10, finding 1).

- Applying an edit again after a conflict is a three-way merge: base (the version the form
  was opened at, rebuilt from the audit history), theirs (the case now), mine (the form).
  Only the user's own changes are written; a field both changed needs the user's choice.
- A transition refused for a missing reason, or from a stage the case has left, shows the
  case page again with the message under its field and the typed reason kept.
- An edit refused because the case left an editable stage shows back what was typed.
- Every page and answer that lists a case's history shows an advocate only what the case
  page's rule allows (no internal note, no staff edit, no assignment); a version below 1 is
  refused instead of listing "what changed since" it.
"""

import re

import pytest

from tests.api_helpers import problem_of
from tests.conftest import csrf_token, petition_values
from tests.helpers import (
    audit_entries,
    field_html,
    form_with,
    page_text,
    petition_row,
    section,
    web_outcome_fields,
)
from tracker.extensions import db
from tracker.petitions import merging, queries
from tracker.petitions import services as petition_services
from tracker.petitions.models import EDITABLE_FIELDS
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

COURT = "Eastern District of Texas"
CORRECTED_SENTENCE = "180 months' imprisonment"
INTERNAL_NOTE = "INTERNAL: the AUSA privately opposes any relief."


def case_url(petition, action=""):
    return f"/petitions/{petition.case_number}" + (f"/{action}" if action else "")


def opened_edit_form(client, petition):
    """The edit form exactly as the browser loaded it (version, CSRF token, every field)."""
    response = client.get(case_url(petition, "edit"))
    assert response.status_code == 200
    return form_with(response, "sentencing_court")


def edit_meanwhile(petition, editor, **values):
    """A colleague saves an edit after the user opened the form."""
    petition_services.update_petition(petition, editor, values, petition.version)
    db.session.commit()


def case_history(petition):
    return [(e.action, e.actor_id, e.changes) for e in audit_entries(petition_id=petition.id)]


def keep_choices(form) -> dict:
    return {name: value for name, value in form.fields.items() if name.startswith("keep-")}


@pytest.fixture
def supervisor_and_reviewer(make_user):
    return (
        make_user("supervisor", name="Sam Supervisor"),
        make_user("reviewer", name="Rita Reviewer"),
    )


# --- the three-way merge ----------------------------------------------------------------------


def test_applying_again_keeps_a_colleagues_correction(
    client, auth, make_petition, supervisor_and_reviewer
):
    """The issue's scenario: the court changes, the reviewer's sentence correction stays."""
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE)
    form.fields["sentencing_court"] = COURT

    conflict = client.post(form.action or case_url(petition, "edit"), data=form.fields)

    assert conflict.status_code == 409
    body = page_text(conflict)
    assert "Rita Reviewer" in body  # staff see who changed what
    merged = form_with(conflict, "merge_version")
    assert keep_choices(merged) == {} and "keep-" not in body  # nothing to choose
    assert re.search(
        r"Sentencing court:\s*<del>District of Maryland</del> → <ins>Eastern District of Texas",
        body,
    )
    assert re.search(r"Sentence imposed:\s*<span [^>]*>180 months' imprisonment<", body)
    history_before = case_history(petition)

    response = client.post(merged.action, data=merged.fields)

    assert response.status_code == 302, page_text(response)
    row = petition_row(petition.id)
    assert (row["sentencing_court"], row["sentence"]) == (COURT, CORRECTED_SENTENCE)
    assert case_history(petition) == history_before + [
        ("edit", supervisor.id, {"sentencing_court": ["District of Maryland", COURT]})
    ]


@pytest.mark.parametrize(
    ("choice", "sentence"),
    [("theirs", CORRECTED_SENTENCE), ("mine", "200 months' imprisonment")],
)
def test_a_field_both_changed_is_shown_side_by_side_and_must_be_chosen(
    client, auth, make_petition, supervisor_and_reviewer, choice, sentence
):
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE)
    form.fields |= {"sentence": "200 months' imprisonment", "sentencing_court": COURT}
    conflict = client.post(case_url(petition, "edit"), data=form.fields)
    assert conflict.status_code == 409
    fieldset = section(page_text(conflict), "conflict-sentence")
    assert "<legend" in fieldset and "Sentence imposed" in fieldset
    assert CORRECTED_SENTENCE in fieldset and "200 months' imprisonment" in fieldset
    # Two radios, labelled, none chosen for the user.
    assert re.findall(r'<input [^>]*type="radio" name="keep-sentence"[^>]*>', fieldset) == [
        '<input class="form-check-input" type="radio" name="keep-sentence" '
        f'id="keep-sentence-{value}" value="{value}" required>'
        for value in ("theirs", "mine")
    ]
    assert 'for="keep-sentence-theirs"' in fieldset and 'for="keep-sentence-mine"' in fieldset
    merged = form_with(conflict, "merge_version")
    assert keep_choices(merged) == {}
    before, history_before = petition_row(petition.id), case_history(petition)

    unchosen = client.post(merged.action, data=merged.fields)

    assert unchosen.status_code == 422
    assert "Choose which value to keep" in section(page_text(unchosen), "conflict-sentence")
    assert petition_row(petition.id) == before and case_history(petition) == history_before

    response = client.post(merged.action, data=merged.fields | {"keep-sentence": choice})

    assert response.status_code == 302, page_text(response)
    row = petition_row(petition.id)
    assert (row["sentencing_court"], row["sentence"]) == (COURT, sentence)


def test_both_making_the_same_change_is_no_conflict(
    client, auth, make_petition, supervisor_and_reviewer
):
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition()
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE)
    form.fields |= {"sentence": CORRECTED_SENTENCE, "grounds": "Better grounds."}

    merged = form_with(client.post(case_url(petition, "edit"), data=form.fields), "merge_version")

    assert keep_choices(merged) == {} and 'name="keep-' not in str(merged)
    assert client.post(merged.action, data=merged.fields).status_code == 302
    row = petition_row(petition.id)
    assert (row["sentence"], row["grounds"]) == (CORRECTED_SENTENCE, "Better grounds.")


def test_a_change_made_while_merging_is_shown_before_anything_is_written(
    client, auth, make_petition, supervisor_and_reviewer
):
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition()
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE)
    form.fields |= {"sentencing_court": COURT, "grounds": "Mine."}
    merged = form_with(client.post(case_url(petition, "edit"), data=form.fields), "merge_version")
    edit_meanwhile(petition, reviewer, grounds="Theirs, written while the user merged.")
    before, history_before = petition_row(petition.id), case_history(petition)

    again = client.post(merged.action, data=merged.fields)

    assert again.status_code == 409
    assert "changed again" in page_text(again)
    assert petition_row(petition.id) == before and case_history(petition) == history_before
    merged_again = form_with(again, "merge_version")
    assert int(merged_again.fields["merge_version"]) == before["version"]
    assert merged_again.fields["version"] == merged.fields["version"]  # still the opened one
    assert "Theirs, written while the user merged." in section(page_text(again), "conflict-grounds")

    response = client.post(
        merged_again.action, data=merged_again.fields | {"keep-grounds": "theirs"}
    )

    assert response.status_code == 302
    row = petition_row(petition.id)
    assert (row["sentencing_court"], row["sentence"], row["grounds"]) == (
        COURT,
        CORRECTED_SENTENCE,
        "Theirs, written while the user merged.",
    )


def test_an_unknown_opened_version_overwrites_nothing_unchosen(
    client, auth, make_petition, supervisor_and_reviewer
):
    """A version the history does not have (ahead of the case): every field that differs
    from the case as it is now must be chosen; nothing is written blindly."""
    supervisor, _ = supervisor_and_reviewer
    petition = make_petition()
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    form.fields |= {"version": "99", "sentencing_court": COURT}

    conflict = client.post(case_url(petition, "edit"), data=form.fields)

    assert conflict.status_code == 409
    merged = form_with(conflict, "merge_version")
    body = page_text(conflict)
    assert 'id="conflict-sentencing_court"' in body and 'id="conflict-sentence"' not in body
    before = petition_row(petition.id)
    assert client.post(merged.action, data=merged.fields).status_code == 422
    assert petition_row(petition.id) == before


def test_the_base_is_rebuilt_from_the_audit_history_at_every_version(
    make_petition, supervisor_and_reviewer
):
    """``field_values_at`` gives the fields exactly as they were at each version."""
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition()
    snapshots = {}

    def snapshot():
        db.session.refresh(petition)
        snapshots[petition.version] = {
            name: merging.form_text(getattr(petition, name)) for name in EDITABLE_FIELDS
        }

    snapshot()
    writes = [
        lambda: edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE),
        lambda: petition_services.assign_petition(petition, reviewer, reviewer),
        lambda: petition_services.add_note(petition, reviewer, INTERNAL_NOTE, "internal"),
        lambda: edit_meanwhile(
            petition, supervisor, grounds="Line one.\nLine two.", projected_release_date=None
        ),
        lambda: petition_services.apply_transition(petition, reviewer, "start_review"),
        lambda: edit_meanwhile(petition, supervisor, sentence="Back again", kind="commutation"),
    ]
    for write in writes:
        write()
        db.session.commit()
        snapshot()

    assert len(snapshots) == 6
    for version, expected in snapshots.items():
        rebuilt = queries.field_values_at(petition, version)
        assert {name: merging.form_text(value) for name, value in rebuilt.items()} == expected
    assert queries.field_values_at(petition, 0) is None
    assert queries.field_values_at(petition, petition.version + 1) is None


def test_line_endings_alone_are_no_change():
    """Browsers post textareas with CRLF: that is not an edit of text stored with LF."""
    base = dict.fromkeys(EDITABLE_FIELDS, "x") | {"grounds": "One.\nTwo."}
    merge = merging.EditMerge(
        base_version=1,
        theirs_version=2,
        base=base,
        theirs=base | {"sentence": "Changed by a colleague."},
        mine=base | {"grounds": "One.\r\nTwo."},
    )
    assert (merge.mine_changed, merge.theirs_changed, merge.conflicts) == ((), ("sentence",), ())
    assert merge.resolve({}) == ({}, {})


def test_the_api_answers_a_stale_if_match_with_412_and_changes_nothing(
    api_as, make_petition, supervisor_and_reviewer
):
    """No merge in the API: the client reads the case again (its ETag) and decides."""
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition()
    opened = petition.version
    edit_meanwhile(petition, reviewer, sentence=CORRECTED_SENTENCE)
    before = petition_row(petition.id)

    response = api_as(user=supervisor).patch(
        f"/api/v1/petitions/{petition.case_number}",
        json={"sentencing_court": COURT},
        headers={"If-Match": f'"{opened}"'},
    )

    assert problem_of(response, 412)["current_version"] == before["version"]
    assert petition_row(petition.id) == before


# --- errors that keep the work ----------------------------------------------------------------


def post_transition(client, petition, action, reason, version=None):
    form = form_with(client.get(case_url(petition)), "transition-reason")
    return client.post(
        case_url(petition, "transition"),
        data=form.fields
        | {
            "transition-action": action,
            "transition-reason": reason,
            **({"transition-version": str(version)} if version is not None else {}),
            **web_outcome_fields(action),
        },
    )


def test_a_missing_reason_shows_the_case_page_with_the_error_under_the_field(
    client, login_as, make_petition
):
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    before = petition_row(petition.id)

    response = post_transition(client, petition, "grant", "  \r\n ")

    assert response.status_code == 422
    body = page_text(response)
    assert 'id="history-heading"' in body  # the case page, not a bare error page
    assert "requires a written reason" in field_html(body, "transition-reason")
    assert form_with(response, "transition-reason").fields["transition-action"] == "grant"
    assert petition_row(petition.id) == before


def test_a_case_that_left_the_stage_keeps_the_typed_reason(
    client, login_as, make_petition, make_user
):
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    opened = petition.version
    petition_services.apply_transition(petition, make_user("supervisor"), "deny", "Denied.")
    db.session.commit()
    typed = "A long reason the reviewer typed.\r\nSecond paragraph."

    response = client.post(
        case_url(petition, "transition"),
        data={
            "transition-action": "grant",
            "transition-reason": typed,
            "transition-version": str(opened),
            "transition-csrf_token": csrf_token(client),
            **web_outcome_fields("grant"),
        },
    )

    assert response.status_code == 409
    body = page_text(response)
    assert 'id="history-heading"' in body
    assert "(denied)" in field_html(body, "transition-action")
    kept = form_with(response, "transition-reason")
    assert kept.fields["transition-reason"] == typed
    assert kept.fields["transition-version"] == str(petition_row(petition.id)["version"])
    assert petition_row(petition.id)["stage"] == "denied"


def test_an_advocate_whose_case_went_under_review_gets_their_input_back(
    client, login_as, make_petition, make_user
):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    form = opened_edit_form(client, petition)
    petition_services.apply_transition(petition, make_user("reviewer"), "start_review")
    db.session.commit()
    before, history_before = petition_row(petition.id), case_history(petition)
    refusals = len(audit_entries(action="access_refused"))
    form.fields |= {"grounds": "New grounds,\r\nline two.", "sentence": "Typed sentence."}

    response = client.post(case_url(petition, "edit"), data=form.fields)

    assert response.status_code == 403
    body = page_text(response)
    assert "is now under review, so it can no longer be edited by you" in body
    kept = section(body, "kept-heading")
    assert re.findall(r"<dt[^>]*>([^<]*)</dt>", kept) == [
        "Sentence imposed",
        "Grounds for clemency",
    ]
    assert "New grounds,\r\nline two." in kept and "Typed sentence." in kept
    assert petition_row(petition.id) == before and case_history(petition) == history_before
    assert len(audit_entries(action="access_refused")) == refusals + 1


# --- what an advocate may see of a case's history ---------------------------------------------


@pytest.fixture
def case_with_staff_only_history(make_petition, make_user):
    """An advocate's received case with an internal note, a staff edit and a take on it."""
    advocate = make_user("advocate")
    petition = make_petition(advocate=advocate)
    editor = make_user("reviewer", name="Hidden Editor", email="hidden.editor@example.org")
    petition_services.add_note(petition, editor, INTERNAL_NOTE, "internal")
    petition_services.update_petition(petition, editor, {"offenses": "Corrected"}, 1)
    petition_services.assign_petition(petition, editor, editor)
    db.session.commit()
    return advocate, petition


def assert_no_staff_only_history(text):
    for secret in (INTERNAL_NOTE, "Hidden Editor", "hidden.editor@example.org", "note internal"):
        assert secret not in text


@pytest.mark.parametrize("version", ["-1", "0"])
def test_a_version_below_1_is_refused_and_lists_no_history(
    client, auth, case_with_staff_only_history, version
):
    """The outside test's attack: an edit with version -1 used to list every entry since
    "version -1", the internal note's text included."""
    advocate, petition = case_with_staff_only_history
    auth.login(advocate)
    form = opened_edit_form(client, petition)
    before = petition_row(petition.id)

    response = client.post(
        case_url(petition, "edit"), data=form.fields | {"version": version, "grounds": "New."}
    )

    assert response.status_code == 422
    body = page_text(response)
    assert "names no version of the case" in body
    assert_no_staff_only_history(body)
    assert petition_row(petition.id) == before


@pytest.mark.parametrize("version", ["-1", "0"])
def test_a_transition_or_take_naming_a_version_below_1_is_refused(
    client, login_as, make_petition, version
):
    login_as("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    before = petition_row(petition.id)

    transition = post_transition(client, petition, "grant", "Reason.", version=version)
    take = form_with(client.get(case_url(petition)), "take-version")
    taken = client.post(case_url(petition, "take"), data=take.fields | {"take-version": version})

    assert transition.status_code == 422
    assert "names no version of the case" in page_text(transition)
    assert taken.status_code == 400
    assert petition_row(petition.id) == before


@pytest.mark.parametrize("if_match", ['"0"', '"-1"', '-1, "1"'])
def test_the_api_refuses_an_if_match_below_1(api_as, case_with_staff_only_history, if_match):
    advocate, petition = case_with_staff_only_history
    before = petition_row(petition.id)
    api = api_as(user=advocate)
    url = f"/api/v1/petitions/{petition.case_number}"

    patched = api.patch(url, json={"grounds": "New."}, headers={"If-Match": if_match})
    moved = api.post(
        url + "/transitions", json={"action": "start_review"}, headers={"If-Match": if_match}
    )

    assert "below 1" in problem_of(patched, 400)["detail"]
    assert problem_of(moved, 400)
    assert petition_row(petition.id) == before


def test_an_advocate_sees_no_staff_only_history_on_any_page(
    client, auth, api_as, case_with_staff_only_history, make_user
):
    """The case page, the conflict page (a real stale edit) and the API's history all
    follow the case page's rule."""
    advocate, petition = case_with_staff_only_history
    auth.login(advocate)

    case_page = page_text(client.get(case_url(petition)))
    stale = client.post(
        case_url(petition, "edit"),
        # The form as the advocate opened it at version 1, before the staff's edit.
        data=opened_edit_form(client, petition).fields
        | {"version": "1", "offenses": petition_values()["offenses"], "grounds": "New."},
    )
    history = api_as(user=advocate).get(f"/api/v1/petitions/{petition.case_number}/history")

    assert stale.status_code == 409
    conflict_page = page_text(stale)
    assert "Changed since you opened it" in conflict_page  # the fields, not who changed them
    for text in (case_page, conflict_page, history.get_data(as_text=True)):
        assert_no_staff_only_history(text)
    # Issue 12: the staff's field change is shown, as the office's (not the editor's name).
    items = history.get_json()["items"]
    assert [item["action"] for item in items] == ["submit", "edit"]
    assert items[1]["actor"] == "staff" and items[1]["changes"]["offenses"][1] == "Corrected"
    assert set(queries.ADVOCATE_VISIBLE_ACTIONS).isdisjoint(
        {"note_internal", "take", "assign", "referral_opened", "reminder"}
    )


@pytest.mark.parametrize("choice", ["theirs", "mine"])
def test_a_merge_that_breaks_a_rule_stays_on_the_merge_page(
    client, auth, make_petition, supervisor_and_reviewer, choice
):
    """A pardon has no release date: choosing the colleague's new date while making the
    case a pardon is refused on the merge page, under the field, and nothing is written."""
    supervisor, reviewer = supervisor_and_reviewer
    petition = make_petition()
    auth.login(supervisor)
    form = opened_edit_form(client, petition)
    edit_meanwhile(petition, reviewer, projected_release_date=petition_values()["sentence_date"])
    form.fields |= {"kind": "pardon", "projected_release_date": "", "custody_status": "released"}
    merged = form_with(client.post(case_url(petition, "edit"), data=form.fields), "merge_version")
    before = petition_row(petition.id)

    response = client.post(
        merged.action, data=merged.fields | {"keep-projected_release_date": choice}
    )

    if choice == "mine":
        assert response.status_code == 302
        row = petition_row(petition.id)
        assert (row["kind"], row["projected_release_date"]) == ("pardon", None)
        return
    assert response.status_code == 422
    body = page_text(response)
    assert "break a rule together" in body
    rule = "Only a commutation has a projected release date."
    assert rule in section(body, "conflict-projected_release_date")
    assert form_with(response, "merge_version").fields["keep-projected_release_date"] == "theirs"
    assert petition_row(petition.id) == before


def test_an_advocate_whose_case_was_just_taken_applies_their_edit_after_seeing_why(
    client, login_as, make_petition, make_user
):
    """A take leaves the case received (still the advocate's to edit) but raises its version:
    the conflict page says so without naming the reviewer, and applying keeps the edit."""
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate)
    form = opened_edit_form(client, petition)
    reviewer = make_user("reviewer", name="Hidden Taker")
    petition_services.assign_petition(petition, reviewer, reviewer)
    db.session.commit()
    form.fields["grounds"] = "Typed while the case was being taken."

    conflict = client.post(case_url(petition, "edit"), data=form.fields)

    assert conflict.status_code == 409
    body = page_text(conflict)
    assert "Hidden Taker" not in body
    assert "No recorded change you can see is newer than the version you saw." in body
    merged = form_with(conflict, "merge_version")
    assert client.post(merged.action, data=merged.fields).status_code == 302
    row = petition_row(petition.id)
    assert (row["grounds"], row["assignee_id"]) == (form.fields["grounds"], reviewer.id)
