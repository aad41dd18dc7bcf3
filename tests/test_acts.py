"""Clemency acts (issue 14, part 1): drafted, filled by filters or register numbers,
previewed with their exclusions, recorded once, all or nothing, through the one decision path,
on the API and the web pages."""

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token
from tests.helpers import audit_entries, count, form_with, page_text, petition_row
from tracker.acts import services as acts
from tracker.acts.models import Act, ActCase
from tracker.audit import services as audit
from tracker.audit.services import verify_chain
from tracker.deadlines import services as deadline_services
from tracker.errors import BulkRefused, Conflict, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.notifications.models import Notification
from tracker.petitions import services as petition_services
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

ACT = {
    "title": "Commutations for people on home confinement",
    "signed_on": "2024-12-12",
    "authority": "President",
    "relief": "commutation_time_served",
    "terms": "The term of supervised release remains.",
    "note": "About 1,500 people placed on home confinement during the pandemic.",
}


@pytest.fixture
def supervisor(make_user):
    return make_user("supervisor", name="Sam Supervisor")


@pytest.fixture
def cohort(make_petition, make_user):
    """Three commutations under review on home confinement, of one organization."""
    advocate = make_user("advocate")
    return [
        make_petition(Stage.UNDER_REVIEW, advocate=advocate, custody_status="home_confinement")
        for _ in range(3)
    ]


def drafted(supervisor, **overrides) -> Act:
    act = acts.draft_act(supervisor, ACT | overrides)
    db.session.commit()
    return act


# --- the API, end to end --------------------------------------------------------------------------


def test_an_act_is_drafted_filled_previewed_and_recorded_through_the_api(
    api_as, supervisor, cohort, make_petition
):
    api = api_as(user=supervisor)
    in_prison = make_petition(Stage.UNDER_REVIEW, custody_status="in_prison")

    created = api.post("/api/v1/acts", json=ACT)
    assert created.status_code == 201, created.get_json()
    act_id = created.get_json()["id"]
    assert created.headers["Location"].endswith(f"/api/v1/acts/{act_id}")
    assert created.get_json()["state"] == "draft"

    added = api.post(
        f"/api/v1/acts/{act_id}/cases",
        json={"filter": {"stage": "under_review", "custody_status": "home_confinement"}},
    )
    assert added.status_code == 200, added.get_json()
    assert added.get_json() == {"added": 3, "cases": 3}

    preview = api.get(f"/api/v1/acts/{act_id}/preview")
    assert preview.get_json() == {"included": 3, "excluded": []}

    recorded = api.post(f"/api/v1/acts/{act_id}/record", json={"expected_included": 3})
    assert recorded.status_code == 200, recorded.get_json()
    body = recorded.get_json()
    assert body["state"] == "recorded" and body["granted"] == 3
    assert sorted(body["case_numbers"]) == sorted(p.case_number for p in cohort)
    for petition in cohort:
        row = petition_row(petition.id)
        assert (row["stage"], row["relief"]) == ("granted", "commutation_time_served")
        assert row["relief_terms"] == ACT["terms"]
        assert row["decision_reason"] == f"Granted by the act of 2024-12-12: {ACT['title']}."
    assert petition_row(in_prison.id)["stage"] == "under_review"

    again = api.post(f"/api/v1/acts/{act_id}/record")
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"

    shown = api.get(f"/api/v1/acts/{act_id}").get_json()
    assert shown["granted"] == 3 and shown["recorded_by"] == supervisor.email
    listed = api.get("/api/v1/acts").get_json()["items"]
    assert [item["id"] for item in listed] == [act_id]


def test_each_granted_case_has_one_chained_entry_naming_the_act(supervisor, cohort):
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    acts.record_act(act, supervisor)
    db.session.commit()

    for petition in cohort:
        [entry] = audit_entries(petition_id=petition.id, action="grant")
        assert entry.details["act_id"] == act.id
        assert entry.details["act_title"] == ACT["title"]
        assert entry.actor_id == supervisor.id
    actions = [
        entry.action for entry in audit_entries(petition_id=None) if entry.action.startswith("act_")
    ]
    assert actions == ["act_drafted", "act_cases_added", "act_recorded"]
    [recorded] = audit_entries(action="act_recorded")
    assert recorded.details["act_id"] == act.id and recorded.details["granted"] == 3
    assert verify_chain().intact


def test_a_recorded_act_is_never_edited(supervisor, cohort, make_petition):
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    acts.record_act(act, supervisor)
    db.session.commit()
    other = make_petition(Stage.UNDER_REVIEW)

    with pytest.raises(acts.ActRecorded):
        acts.add_cases_by_register_numbers(
            act, supervisor, [acts.RegisterNumber(1, other.register_number)]
        )
    with pytest.raises(acts.ActRecorded):
        acts.record_act(act, supervisor)
    db.session.rollback()
    assert count(ActCase, ActCase.act_id == act.id) == 3


# --- exclusions -----------------------------------------------------------------------------------


def test_the_preview_excludes_each_case_a_grant_would_refuse_and_says_why(
    supervisor, make_petition, make_user
):
    reviewer = make_user("reviewer")
    fits = make_petition(Stage.UNDER_REVIEW)
    received = make_petition(Stage.RECEIVED)
    pardon = make_petition(
        Stage.UNDER_REVIEW,
        kind="pardon",
        projected_release_date=None,
        custody_status="released",
        release_date=date(2010, 1, 1),
    )
    referred = make_petition(Stage.UNDER_REVIEW)
    deadline_services.open_referral(referred, reviewer, {"agency": "fbi"})
    ineligible = make_petition(
        Stage.UNDER_REVIEW,
        custody_status="released",
        projected_release_date=None,
        release_date=date(2020, 1, 1),
        waiver_requested=True,
        waiver_justification="Serving a term of supervised release.",
    )
    db.session.commit()
    act = drafted(supervisor)
    numbers = [fits, received, pardon, referred, ineligible]
    acts.add_cases_by_register_numbers(
        act,
        supervisor,
        [acts.RegisterNumber(i, p.register_number) for i, p in enumerate(numbers, 1)],
    )

    preview = acts.preview(act, supervisor)

    assert preview.included == [fits.case_number]
    reasons = {item["case_number"]: item["reason"] for item in preview.excluded}
    assert reasons == {
        received.case_number: "not_under_review",
        pardon.case_number: "relief_does_not_fit_kind",
        referred.case_number: "open_referral",
        ineligible.case_number: "ineligible_without_waiver",
    }
    assert all(item["message"] for item in preview.excluded)

    acts.record_act(act, supervisor, expected_included=1)
    db.session.commit()
    assert petition_row(fits.id)["stage"] == "granted"
    for petition in numbers[1:]:
        assert petition_row(petition.id)["stage"] != "granted"
    # The excluded cases left the act; its entry lists them with their reasons.
    assert [p.case_number for p in acts.act_cases(act)] == [fits.case_number]
    [entry] = audit_entries(action="act_recorded")
    assert {e["case_number"]: e["reason"] for e in entry.details["excluded"]} == reasons


def test_an_approved_waiver_lets_the_act_grant_the_case(supervisor, make_petition):
    ineligible = make_petition(
        Stage.UNDER_REVIEW,
        custody_status="released",
        projected_release_date=None,
        release_date=date(2020, 1, 1),
        waiver_requested=True,
        waiver_justification="Serving a term of supervised release.",
    )
    petition_services.approve_waiver(ineligible, supervisor, "Supervision counts as serving.")
    act = drafted(supervisor)
    acts.add_cases_by_register_numbers(
        act, supervisor, [acts.RegisterNumber(1, ineligible.register_number)]
    )
    assert acts.preview(act, supervisor).included == [ineligible.case_number]


# --- all or nothing ------------------------------------------------------------------------------


def test_a_preview_that_changed_since_confirmed_records_nothing(api_as, supervisor, cohort):
    api = api_as(user=supervisor)
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    db.session.commit()
    petition_services.apply_transition(cohort[0], supervisor, "deny", "Changed our mind.")
    db.session.commit()

    response = api.post(f"/api/v1/acts/{act.id}/record", json={"expected_included": 3})

    assert response.status_code == 409
    assert [petition_row(p.id)["stage"] for p in cohort[1:]] == ["under_review"] * 2
    assert count(Act, Act.state == "recorded") == 0


def test_a_failure_after_the_grants_were_written_grants_nothing(
    api_as, supervisor, cohort, monkeypatch
):
    """All or nothing: the grants, their entries and the act's own rows are one transaction;
    a refusal after the grants were written (here: at the act's own entry) undoes them all."""
    api = api_as(user=supervisor)
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    db.session.commit()
    entries_before = len(audit_entries())
    real_record = acts._record

    def failing_record(actor, action, act, details):
        if action == "act_recorded":
            raise Conflict("Simulated failure after the grants.")
        real_record(actor, action, act, details)

    monkeypatch.setattr(acts, "_record", failing_record)

    response = api.post(f"/api/v1/acts/{act.id}/record")

    assert response.status_code == 409, response.get_json()
    assert [petition_row(p.id)["stage"] for p in cohort] == ["under_review"] * 3
    assert audit_entries(action="grant", actor_id=supervisor.id) == []
    assert len([e for e in audit_entries() if e.category == "case"]) <= entries_before
    db.session.expire_all()
    assert db.session.get(Act, act.id).state == "draft"


def test_a_failure_in_the_middle_of_the_cohorts_write_leaves_nothing_and_notifies_no_one(
    api_as, supervisor, cohort, monkeypatch
):
    """All or nothing inside the cohort's write: the petitions are updated, the entries and
    their notifications inserted, then the write fails; the rollback takes all of it."""
    api = api_as(user=supervisor)
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    db.session.commit()
    notifications_before = count(Notification)
    real_enqueue = audit.notifications.enqueue
    enqueued = []

    def enqueue_then_fail(entries):
        real_enqueue(entries)
        enqueued.append(count_in_transaction(Notification))
        raise Conflict("Simulated failure after the notifications were queued.")

    monkeypatch.setattr(audit.notifications, "enqueue", enqueue_then_fail)

    response = api.post(f"/api/v1/acts/{act.id}/record")

    assert response.status_code == 409, response.get_json()
    assert enqueued[-1] > notifications_before  # the advocate's were written, then undone
    assert [petition_row(p.id)["stage"] for p in cohort] == ["under_review"] * 3
    assert audit_entries(action="grant") == []
    assert count(Notification) == notifications_before
    assert db.session.get(Act, act.id).state == "draft"
    assert verify_chain().intact


def count_in_transaction(model) -> int:
    """Rows of ``model`` as the current transaction sees them (``count`` expires first)."""
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_act_with_no_grantable_case_is_refused(supervisor, make_petition):
    received = make_petition(Stage.RECEIVED)
    act = drafted(supervisor)
    acts.add_cases_by_register_numbers(
        act, supervisor, [acts.RegisterNumber(1, received.register_number)]
    )
    with pytest.raises(Conflict):
        acts.record_act(act, supervisor)


# --- adding cases -------------------------------------------------------------------------------


def test_register_numbers_are_refused_by_line_and_value_and_nothing_is_added(supervisor, cohort):
    act = drafted(supervisor)
    content = f"register_number,name\n{cohort[0].register_number},A\n1234-56,B\n\n99999-999,C\n"

    with pytest.raises(BulkRefused) as refused:
        acts.add_cases_by_register_numbers(act, supervisor, acts.read_register_csv(content))

    assert refused.value.status == 422
    assert [(e["line"], e["value"]) for e in refused.value.offenders] == [
        (3, "1234-56"),
        (5, "99999-999"),
    ]
    assert count(ActCase, ActCase.act_id == act.id) == 0


def test_register_numbers_without_a_header_and_twice_count_once(supervisor, cohort):
    act = drafted(supervisor)
    content = "\n".join(
        [cohort[0].register_number, cohort[1].register_number, cohort[0].register_number]
    )
    assert acts.add_cases_by_register_numbers(act, supervisor, acts.read_register_csv(content)) == 2
    assert acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"}) == 1


def test_the_api_names_a_bad_register_number_by_position(api_as, supervisor, cohort):
    api = api_as(user=supervisor)
    act = drafted(supervisor)
    response = api.post(
        f"/api/v1/acts/{act.id}/cases",
        json={"register_numbers": [cohort[0].register_number, "nope"]},
    )
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert (error["line"], error["value"]) == (2, "nope")


def test_the_api_refuses_an_unknown_filter_and_two_selectors(api_as, supervisor):
    api = api_as(user=supervisor)
    act = drafted(supervisor)
    unknown = api.post(f"/api/v1/acts/{act.id}/cases", json={"filter": {"colour": "red"}})
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"][0]["field"] == "colour"
    both = api.post(
        f"/api/v1/acts/{act.id}/cases", json={"filter": {}, "register_numbers": ["12345-678"]}
    )
    assert both.status_code == 422


def test_the_facts_filters_choose_the_cohort(supervisor, make_petition):
    drug = make_petition(
        Stage.UNDER_REVIEW, offense_category="drug", nonviolent=True, sentence_date=date(2010, 3, 1)
    )
    make_petition(Stage.UNDER_REVIEW, offense_category="violent", nonviolent=False)
    make_petition(
        Stage.UNDER_REVIEW, offense_category="drug", nonviolent=True, sentence_date=date(2001, 1, 1)
    )
    act = drafted(supervisor)
    added = acts.add_cases_by_filter(
        act,
        supervisor,
        {
            "offense_category": "drug",
            "nonviolent": "true",
            "sentence_date_from": "2009-01-01",
            "sentence_date_to": "2011-12-31",
        },
    )
    assert added == 1
    assert [p.case_number for p in acts.act_cases(act)] == [drug.case_number]


def test_a_date_range_that_ends_before_it_starts_is_refused(supervisor):
    act = drafted(supervisor)
    with pytest.raises(ValidationFailed) as refused:
        acts.add_cases_by_filter(
            act, supervisor, {"release_date_from": "2024-01-01", "release_date_to": "2023-01-01"}
        )
    assert set(refused.value.errors) == {"release_date_to"}


# --- drafting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"signed_on": "2024-13-01"}, "signed_on"),
        ({"signed_on": "2999-01-01"}, "signed_on"),
        ({"relief": "remission"}, "relief"),
        ({"authority": "x" * 101}, "authority"),
    ],
)
def test_a_bad_draft_names_its_field(supervisor, change, field):
    with pytest.raises(ValidationFailed) as refused:
        acts.draft_act(supervisor, ACT | change)
    assert field in refused.value.errors


def test_only_a_supervisor_drafts_and_records(make_user):
    reviewer = make_user("reviewer")
    with pytest.raises(PermissionDenied):
        acts.draft_act(reviewer, ACT)


# --- who sees what ------------------------------------------------------------------------------


def test_the_api_refuses_advocates_and_lets_reviewers_read(api_as, supervisor):
    act = drafted(supervisor)
    advocate = api_as("advocate")
    for path in ("/api/v1/acts", f"/api/v1/acts/{act.id}", f"/api/v1/acts/{act.id}/preview"):
        assert advocate.get(path).status_code == 403
    assert advocate.post("/api/v1/acts", json=ACT).status_code == 403
    reviewer = api_as("reviewer")
    assert reviewer.get(f"/api/v1/acts/{act.id}/preview").status_code == 200
    assert reviewer.post(f"/api/v1/acts/{act.id}/record").status_code == 403
    assert reviewer.get("/api/v1/acts/999999").status_code == 404


def test_advocates_are_refused_the_acts_pages(client, login_as, supervisor):
    act = drafted(supervisor)
    login_as("advocate")
    for path in (
        "/acts",
        "/acts/new",
        f"/acts/{act.id}",
        f"/acts/{act.id}/preview",
        f"/acts/{act.id}/cases.csv",
    ):
        assert client.get(path).status_code == 403, path
    assert 'href="/acts"' not in client.get("/petitions").get_data(as_text=True)


# --- the web, end to end -----------------------------------------------------------------------


def test_an_act_is_drafted_filled_previewed_and_recorded_on_the_pages(
    client, login_as, cohort, make_petition
):
    supervisor = login_as("supervisor")
    page = client.get("/acts/new")
    assert page.status_code == 200
    form = form_with(page, "title").fields | {
        "title": ACT["title"],
        "signed_on": ACT["signed_on"],
        "relief": ACT["relief"],
        "terms": ACT["terms"],
    }
    bad = client.post("/acts/new", data=form | {"signed_on": "12/12/2024"})
    assert bad.status_code == 422
    assert ACT["title"] in bad.get_data(as_text=True)  # what was typed is kept
    created = client.post("/acts/new", data=form)
    assert created.status_code == 302
    act_path = created.headers["Location"]
    act = db.session.query(Act).one()

    show = client.get(act_path)
    filters = form_with(show, "custody_status").fields | {
        "custody_status": "home_confinement",
        "stage": "under_review",
    }
    added = client.post(f"/acts/{act.id}/cases", data=filters)
    assert added.status_code == 302, page_text(added)
    extra = make_petition(Stage.RECEIVED)
    numbers = form_with(client.get(act_path), "numbers").fields
    uploaded = client.post(
        f"/acts/{act.id}/register-numbers",
        data=numbers
        | {"file": (io.BytesIO(f"register_number\n{extra.register_number}\n".encode()), "n.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302, page_text(uploaded)

    preview = client.get(f"/acts/{act.id}/preview")
    text = page_text(preview)
    assert "Recording grants 3 cases." in text
    assert extra.case_number in text and "Not under review" in text
    confirm = form_with(preview, "expected_included")
    assert confirm.fields["expected_included"] == "3"
    recorded = client.post(confirm.action, data=confirm.fields)
    assert recorded.status_code == 302
    assert "3 cases granted" in page_text(client.get(act_path))
    assert petition_row(cohort[0].id)["stage"] == "granted"

    csv_text = client.get(f"/acts/{act.id}/cases.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("case_number,register_number")
    assert len(csv_text.strip().splitlines()) == 4

    case_page = page_text(client.get(f"/petitions/{cohort[0].case_number}"))
    assert "Granted by the act of 2024-12-12" in case_page
    assert f"By the act #{act.id}: {ACT['title']}" in case_page  # the history's grant entry
    audit_log = client.get("/audit/")
    assert audit_log.status_code == 200 and "act_recorded" in page_text(audit_log)
    again = client.post(
        confirm.action, data=confirm.fields | {"csrf_token": csrf_token(client, act_path)}
    )
    assert again.status_code == 409
    assert supervisor is not None


def test_the_advocate_sees_their_case_was_granted_by_the_act(
    client, login_as, make_user, supervisor, make_petition
):
    advocate = login_as("advocate")
    petition = make_petition(Stage.UNDER_REVIEW, advocate=advocate)
    act = drafted(supervisor)
    acts.add_cases_by_register_numbers(
        act, supervisor, [acts.RegisterNumber(1, petition.register_number)]
    )
    acts.record_act(act, supervisor)
    db.session.commit()

    page = page_text(client.get(f"/petitions/{petition.case_number}"))

    assert "Granted by the act of 2024-12-12" in page
    assert ACT["title"] in page


def test_a_case_page_reads_an_act_only_for_a_case_an_act_granted(
    client, login_as, supervisor, make_petition, count_statements
):
    """Whether an act holds the case's grant comes with the case's own query: the page of a
    case granted alone reads no act; the page of a case an act granted reads it and names it."""
    login_as("reviewer")
    alone = make_petition(Stage.GRANTED)
    by_act = make_petition(Stage.UNDER_REVIEW)
    act = drafted(supervisor)
    acts.add_cases_by_register_numbers(
        act, supervisor, [acts.RegisterNumber(1, by_act.register_number)]
    )
    acts.record_act(act, supervisor)
    db.session.commit()

    for petition, granted_by_act in ((alone, False), (by_act, True)):
        path = f"/petitions/{petition.case_number}"
        assert client.get(path).status_code == 200
        with count_statements() as statements:
            page = page_text(client.get(path))
        act_reads = [s for s in statements if s.startswith("SELECT act.")]
        assert len(act_reads) == granted_by_act, statements
        assert ("Granted by the act of 2024-12-12" in page) is granted_by_act
        assert (ACT["title"] in page) is granted_by_act


def test_a_reopened_case_is_no_longer_the_acts(supervisor, cohort):
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    acts.record_act(act, supervisor)
    db.session.commit()
    petition = db.session.get(type(cohort[0]), cohort[0].id)
    assert acts.granting_act(petition) == act
    petition_services.apply_transition(petition, supervisor, "reopen", "Wrong cohort: correction.")
    db.session.commit()
    assert acts.granting_act(petition) is None


# --- public rows ---------------------------------------------------------------------------------


def test_public_acts_are_counts_only_by_fiscal_year(supervisor, cohort):
    act = drafted(supervisor)
    acts.add_cases_by_filter(act, supervisor, {"custody_status": "home_confinement"})
    acts.record_act(act, supervisor)
    drafted(supervisor, title="Still a draft")
    db.session.commit()

    assert acts.public_acts(2025) == [
        {
            "title": ACT["title"],
            "signed_on": "2024-12-12",
            "relief": "commutation_time_served",
            "count": 3,
        }
    ]
    assert acts.public_acts(2024) == []


def test_the_demo_has_a_recorded_home_confinement_act(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    [act] = db.session.query(Act).all()
    assert act.is_recorded and act.granted_count == len(acts.act_cases(act)) > 0
    assert {p.custody_status for p in acts.act_cases(act)} == {"home_confinement"}


# --- the facts filters on the queue's other interfaces -------------------------------------------


def test_the_facts_filters_work_on_the_api_list_and_round_trip(api_as, make_petition):
    from tracker.petitions import filters as queue_filters

    home = make_petition(Stage.UNDER_REVIEW, custody_status="home_confinement")
    make_petition(Stage.UNDER_REVIEW, custody_status="in_prison")
    api = api_as("reviewer")

    listed = api.get("/api/v1/petitions?custody_status=home_confinement&nonviolent=false")
    assert listed.status_code == 200
    numbers = [item["case_number"] for item in listed.get_json()["items"]]
    assert home.case_number not in numbers  # nonviolent is not recorded: not "violent" either
    listed = api.get("/api/v1/petitions?custody_status=home_confinement")
    assert [item["case_number"] for item in listed.get_json()["items"]] == [home.case_number]
    bad = api.get("/api/v1/petitions?custody_status=moon&projected_release_date_to=2030-02-30")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.get_json()["errors"]} == {
        "custody_status",
        "projected_release_date_to",
    }

    parsed = queue_filters.QueueFilters(
        custody_status="home_confinement", nonviolent=False, sentence_date_from=date(2001, 2, 3)
    )
    assert parsed.query_args() == {
        "custody_status": "home_confinement",
        "nonviolent": "false",
        "sentence_date_from": "2001-02-03",
    }
