"""Time on a case (issue 12): clocks, referrals, the information loop, reminders, and what
advocates see. Every age is computed with a fixed clock (``CLOCK``): nothing sleeps and
nothing depends on when the tests run."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tracker import clock
from tracker.audit.models import AuditEntry
from tracker.deadlines import services as deadlines
from tracker.deadlines.models import Referral, Reminder
from tracker.errors import BulkRefused
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

#: 2026-03-10 14:00 UTC is 10:00 in New York (the testing DISPLAY_TIMEZONE's default).
T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


class FixedClock:
    """The app's clock, moved by the test."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def fixed_clock(app, monkeypatch):
    fixed = FixedClock(T0)
    monkeypatch.setitem(app.config, "CLOCK", fixed)
    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "America/New_York")
    return fixed


def url(petition, action=""):
    return f"/api/v1/petitions/{petition.case_number}" + (f"/{action}" if action else "")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- clocks ------------------------------------------------------------------------------------


def test_every_transition_restarts_the_stage_clock_and_the_case_keeps_its_receipt(
    fixed_clock, make_petition, make_user
):
    reviewer = make_user("reviewer")
    petition = make_petition()
    assert petition.received_at == T0 and petition.stage_entered_at == T0
    assert (petition.days_pending, petition.days_in_stage) == (0, 0)

    fixed_clock.advance(days=3)
    petition_services.apply_transition(petition, reviewer, "start_review")
    assert petition.received_at == T0
    assert petition.stage_entered_at == T0 + timedelta(days=3)
    fixed_clock.advance(days=4)
    assert (petition.days_pending, petition.days_in_stage) == (7, 4)

    petition_services.apply_transition(petition, reviewer, "deny", "No.")
    fixed_clock.advance(days=30)
    # A decided case's days_pending stop at the decision; its stage clock runs on.
    assert (petition.days_pending, petition.days_in_stage) == (7, 30)


def test_ages_count_calendar_days_in_the_display_time_zone(fixed_clock, app_ctx):
    # 03:30 UTC on the 11th is still the 10th in New York: no day has passed there.
    late_evening = datetime(2026, 3, 11, 3, 30, tzinfo=UTC)
    fixed_clock.moment = late_evening
    assert clock.days_between(T0) == 0
    fixed_clock.moment = datetime(2026, 3, 11, 4, 30, tzinfo=UTC)  # 00:30 on the 11th
    assert clock.days_between(T0) == 1


def test_the_api_shows_the_clocks_and_filters_old_and_pending_cases(
    fixed_clock, make_petition, api_as
):
    old = make_petition(stage=Stage.UNDER_REVIEW)
    fixed_clock.advance(days=40)
    recent = make_petition()
    decided_old = None
    fixed_clock.moment = T0 - timedelta(days=5)
    decided_old = make_petition(stage=Stage.GRANTED)
    fixed_clock.moment = T0 + timedelta(days=50)
    api = api_as("reviewer")

    body = api.get(url(old)).get_json()
    assert (body["days_pending"], body["days_in_stage"]) == (50, 50)
    assert body["information_request"] is None and body["referral_overdue"] is False

    listed = api.get("/api/v1/petitions?older_than_days=45&stage=pending").get_json()
    numbers = {item["case_number"] for item in listed["items"]}
    assert old.case_number in numbers
    assert recent.case_number not in numbers and decided_old.case_number not in numbers
    everything_old = api.get("/api/v1/petitions?older_than_days=45").get_json()
    assert decided_old.case_number in {item["case_number"] for item in everything_old["items"]}
    refused = api.get("/api/v1/petitions?older_than_days=soon")
    assert refused.status_code == 422


def test_the_queue_shows_and_sorts_by_the_clocks(
    fixed_clock, client, login_as, make_petition, make_user
):
    reviewer = make_user("reviewer")
    first = make_petition()
    fixed_clock.advance(days=10)
    second = make_petition()
    fixed_clock.advance(days=1)
    petition_services.apply_transition(first, reviewer, "start_review")
    db.session.commit()
    fixed_clock.advance(days=2)
    login_as("reviewer")

    by_stage = client.get("/petitions?sort=days_in_stage").get_data(as_text=True)
    # second has been in received for 3 days; first entered review 2 days ago
    assert by_stage.index(second.case_number) < by_stage.index(first.case_number)
    by_pending = client.get("/petitions?sort=days_pending").get_data(as_text=True)
    assert by_pending.index(first.case_number) < by_pending.index(second.case_number)
    assert "Days pending" in by_pending
    only_old = client.get("/petitions?older_than_days=5").get_data(as_text=True)
    assert first.case_number in only_old and second.case_number not in only_old


def test_my_cases_shows_open_cases_by_default(client, login_as, make_petition):
    reviewer = login_as("reviewer")
    open_case, decided = make_petition(stage=Stage.UNDER_REVIEW), make_petition()
    for petition in (open_case, decided):
        petition_services.assign_petition(petition, reviewer, reviewer)
    petition_services.apply_transition(decided, reviewer, "start_review")
    petition_services.apply_transition(decided, reviewer, "grant", "Yes.")
    db.session.commit()
    home = client.get("/petitions").get_data(as_text=True)
    my_cases_link = "/petitions?assignee=me&amp;stage=pending"
    assert my_cases_link in home
    mine = client.get("/petitions?assignee=me&stage=pending").get_data(as_text=True)
    assert open_case.case_number in mine and decided.case_number not in mine


# --- referrals ---------------------------------------------------------------------------------


def test_a_referral_takes_the_agencys_default_period_and_is_overdue_after_it(
    fixed_clock, make_petition, api_as
):
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    api = api_as("reviewer")

    fbi = api.post(url(petition, "referrals"), json={"agency": "fbi"})
    judge = api.post(url(petition, "referrals"), json={"agency": "sentencing_judge"})
    other = api.post(url(petition, "referrals"), json={"agency": "other"})

    assert fbi.status_code == 201, fbi.get_json()
    assert fbi.get_json() == {
        "id": fbi.get_json()["id"],
        "agency": "fbi",
        "agency_name": None,
        "sent_on": "2026-03-10",
        "due_on": "2026-07-08",
        "answered_on": None,
        "summary": None,
        "overdue": False,
    }
    assert judge.get_json()["due_on"] == "2026-04-09"
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "agency_name"

    fixed_clock.advance(days=31)
    listed = api.get(url(petition, "referrals")).get_json()["items"]
    assert [item["overdue"] for item in listed] == [False, True]
    assert api.get(url(petition)).get_json()["referral_overdue"] is True
    overdue = api.get("/api/v1/petitions?referral_overdue=true").get_json()["items"]
    assert [item["case_number"] for item in overdue] == [petition.case_number]

    answered = api.patch(
        f"/api/v1/referrals/{judge.get_json()['id']}",
        json={"answered": True, "summary": "No objection."},
    )
    assert answered.get_json()["answered_on"] == "2026-04-10"
    assert answered.get_json()["overdue"] is False
    extended = api.patch(f"/api/v1/referrals/{fbi.get_json()['id']}", json={"due_on": "2026-09-01"})
    assert extended.status_code == 422  # an extension needs its reason
    extended = api.patch(
        f"/api/v1/referrals/{fbi.get_json()['id']}",
        json={"due_on": "2026-09-01", "reason": "FBI asked for more time."},
    )
    assert extended.get_json()["due_on"] == "2026-09-01"
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.petition_id == petition.id)
    ).all()
    assert actions.count("referral_opened") == 2
    assert "referral_answered" in actions and "referral_extended" in actions


def test_a_decided_case_is_not_referred(make_petition, api_as):
    petition = make_petition(stage=Stage.GRANTED)
    refused = api_as("reviewer").post(url(petition, "referrals"), json={"agency": "fbi"})
    assert refused.status_code == 409
    assert count(Referral, Referral.petition_id == petition.id) == 0


def test_referrals_are_refused_to_advocates(make_petition, api_as, make_user):
    advocate = make_user("advocate")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    deadlines.open_referral(petition, make_user("reviewer"), {"agency": "bop"})
    db.session.commit()
    api = api_as(user=advocate)
    assert api.get(url(petition, "referrals")).status_code == 403
    assert api.post(url(petition, "referrals"), json={"agency": "fbi"}).status_code == 403
    assert api.get(url(petition)).get_json()["referral_overdue"] is None
    assert count(Referral, Referral.petition_id == petition.id) == 1


def test_a_decision_is_refused_while_a_referral_is_open_unless_the_decider_closes_it(
    fixed_clock, make_petition, make_user, api_as
):
    reviewer = make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    referral = deadlines.open_referral(petition, reviewer, {"agency": "us_attorney"})
    db.session.commit()
    api = api_as(user=reviewer)

    refused = api.post(url(petition, "transitions"), json={"action": "grant", "reason": "Yes."})
    assert refused.status_code == 409
    assert f"#{referral.id} U.S. Attorney" in refused.get_json()["detail"]
    db.session.expire_all()
    assert db.session.get(Petition, petition.id).stage == "under_review"

    granted = api.post(
        url(petition, "transitions"),
        json={
            "action": "grant",
            "reason": "Yes.",
            "close_referrals_reason": "Answered by phone.",
        },
    )
    assert granted.status_code == 200, granted.get_json()
    db.session.expire_all()
    closed = db.session.get(Referral, referral.id)
    assert closed.answered_on == date(2026, 3, 10) and "Answered by phone." in closed.summary
    actions = db.session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.petition_id == petition.id)
        .order_by(AuditEntry.id)
    ).all()
    assert actions[-2:] == ["referral_closed", "grant"]


@pytest.mark.parametrize("stage", [Stage.UNDER_REVIEW, Stage.INFORMATION_REQUESTED], ids=str)
def test_an_advocate_withdraws_a_referred_case_without_learning_of_its_referrals(
    fixed_clock, make_petition, make_user, api_as, stage
):
    """A withdrawal ends the case whatever waits on other agencies: its open referrals are
    closed with it (referral_closed entries, staff-only) instead of a 409 that would name
    referrals the advocate may not see."""
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(stage=stage, advocate=advocate)
    referral = deadlines.open_referral(petition, reviewer, {"agency": "fbi"})
    db.session.commit()

    withdrawn = api_as(user=advocate).post(
        url(petition, "transitions"), json={"action": "withdraw"}
    )

    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert "fbi" not in withdrawn.get_data(as_text=True).lower()
    db.session.expire_all()
    assert db.session.get(Petition, petition.id).disposition == "withdrawn"
    closed = db.session.get(Referral, referral.id)
    assert closed.answered_on == date(2026, 3, 10) and "withdraw" in closed.summary
    entries = db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_id)
        .where(AuditEntry.petition_id == petition.id)
        .order_by(AuditEntry.id)
    ).all()
    assert [action for action, _ in entries[-2:]] == ["referral_closed", "withdraw"]
    history = api_as(user=advocate).get(url(petition, "history")).get_data(as_text=True)
    assert "referral" not in history


def test_a_bulk_decision_names_the_cases_with_open_referrals(make_petition, make_user):
    reviewer = make_user("reviewer")
    free = make_petition(stage=Stage.UNDER_REVIEW)
    referred = make_petition(stage=Stage.UNDER_REVIEW)
    deadlines.open_referral(referred, reviewer, {"agency": "fbi"})
    with pytest.raises(BulkRefused) as refusal:
        petition_services.decide_petitions(
            reviewer, "deny", "No.", {free.case_number: None, referred.case_number: None}
        )
    assert [o["case_number"] for o in refusal.value.offenders] == [referred.case_number]
    assert refusal.value.offenders[0]["problem"] == "referrals_open"


def kept_due_on(petition) -> date | None:
    """The case's referral_due_on as the database holds it (not the session's copy)."""
    return db.session.scalar(select(Petition.referral_due_on).where(Petition.id == petition.id))


def test_the_case_keeps_the_due_date_of_its_earliest_open_referral(
    fixed_clock, make_petition, make_user
):
    """Every referral write (open, extend, answer, close when deciding) sets the case's
    referral_due_on in its own transaction; referral_overdue is read from it."""
    reviewer = make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    other = make_petition(stage=Stage.UNDER_REVIEW)
    assert kept_due_on(petition) is None

    fbi = deadlines.open_referral(petition, reviewer, {"agency": "fbi"})  # due 2026-07-08
    assert kept_due_on(petition) == date(2026, 7, 8) and petition.referral_due_on == fbi.due_on
    judge = deadlines.open_referral(petition, reviewer, {"agency": "sentencing_judge"})
    assert kept_due_on(petition) == date(2026, 4, 9) == judge.due_on
    deadlines.change_referral(judge, petition, reviewer, {"due_on": "2026-08-01", "reason": "R"})
    assert kept_due_on(petition) == date(2026, 7, 8)
    deadlines.change_referral(fbi, petition, reviewer, {"answered": True})
    assert kept_due_on(petition) == date(2026, 8, 1)
    assert kept_due_on(other) is None  # only the referral's case is touched

    fixed_clock.moment = datetime(2026, 8, 2, 3, 0, tzinfo=UTC)  # still Aug 1 in New York
    assert not petition.referral_overdue
    fixed_clock.moment = datetime(2026, 8, 2, 5, 0, tzinfo=UTC)  # Aug 2 in New York
    assert petition.referral_overdue and not other.referral_overdue

    deadlines.change_referral(judge, petition, reviewer, {"answered": True})
    assert kept_due_on(petition) is None and not petition.referral_overdue
    deadlines.open_referral(petition, reviewer, {"agency": "bop", "sent_on": "2026-06-01"})
    assert kept_due_on(petition) == date(2026, 7, 1) and petition.referral_overdue
    petition_services.decide_petitions(
        reviewer, "deny", "No.", {petition.case_number: None}, close_referrals_reason="Moot."
    )
    assert kept_due_on(petition) is None and not petition.referral_overdue


def test_the_queue_filters_overdue_referrals_by_the_clock(
    fixed_clock, make_petition, make_user, api_as
):
    """Overdue the day after the due date in the display time zone, not before; answered or
    extended, no longer."""
    reviewer = make_user("reviewer")
    late, early, none = (make_petition(stage=Stage.UNDER_REVIEW) for _ in range(3))
    referral = deadlines.open_referral(late, reviewer, {"agency": "bop"})  # due 2026-04-09
    deadlines.open_referral(early, reviewer, {"agency": "fbi"})  # due 2026-07-08
    db.session.commit()
    api = api_as(user=reviewer)

    def overdue() -> list[str]:
        items = api.get("/api/v1/petitions?referral_overdue=true").get_json()["items"]
        return [item["case_number"] for item in items]

    fixed_clock.moment = datetime(2026, 4, 10, 3, 59, tzinfo=UTC)  # 23:59 on Apr 9, New York
    assert overdue() == []
    fixed_clock.moment = datetime(2026, 4, 10, 4, 0, tzinfo=UTC)  # midnight: Apr 10
    assert overdue() == [late.case_number]
    assert api.get(url(none)).get_json()["referral_overdue"] is False
    extended = api.patch(
        f"/api/v1/referrals/{referral.id}", json={"due_on": "2026-05-01", "reason": "Asked."}
    )
    assert extended.status_code == 200 and overdue() == []
    fixed_clock.moment = datetime(2026, 7, 9, 14, 0, tzinfo=UTC)
    assert overdue() == [late.case_number, early.case_number]


# --- the information loop ----------------------------------------------------------------------


def test_the_information_loop_through_the_api(fixed_clock, make_petition, make_user, api_as):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.assign_petition(petition, reviewer, reviewer)
    db.session.commit()
    staff_api, advocate_api = api_as(user=reviewer), api_as(user=advocate)

    returned = staff_api.post(
        url(petition, "transitions"),
        json={
            "action": "return_for_information",
            "reason": "Send the BOP progress report.",
        },
    )
    assert returned.status_code == 200, returned.get_json()
    body = advocate_api.get(url(petition)).get_json()
    assert body["stage"] == "information_requested"
    assert body["information_request"] == {
        "asked": "Send the BOP progress report.",
        "asked_by": reviewer.email,
        "asked_at": "2026-03-10T14:00:00Z",
        "due_on": "2026-04-09",
        "answered_at": None,
        "response": None,
    }

    missing = advocate_api.post(
        url(petition, "transitions"), json={"action": "provide_information"}
    )
    assert missing.status_code == 422
    bad_fix = advocate_api.post(
        url(petition, "transitions"),
        json={
            "action": "provide_information",
            "response": "Attached.",
            "corrections": {"register_number": "nope"},
        },
    )
    assert bad_fix.status_code == 422
    fixed_clock.advance(days=2)
    answered = advocate_api.post(
        url(petition, "transitions"),
        json={
            "action": "provide_information",
            "response": "The report is attached.",
            "corrections": {"sentence": "100 months' imprisonment"},
        },
    )
    assert answered.status_code == 200, answered.get_json()
    body = answered.get_json()
    assert body["stage"] == "under_review" and body["assignee"] is None  # hidden from advocates
    assert body["sentence"] == "100 months' imprisonment"
    assert body["information_request"]["response"] == "The report is attached."
    staff_view = staff_api.get(url(petition)).get_json()
    assert staff_view["assignee"] == reviewer.email and staff_view["information_provided"] is True
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "provide_information")
    ).one()
    assert entry.changes == {"sentence": ["240 months' imprisonment", "100 months' imprisonment"]}
    assert entry.details["response"] == "The report is attached."


def test_an_unanswered_request_is_flagged_when_overdue(fixed_clock, make_petition, make_user):
    reviewer = make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    petition_services.apply_transition(
        petition, reviewer, "return_for_information", "Why?", due_on=date(2026, 3, 20)
    )
    request = petition.open_information_request
    assert request.due_on == date(2026, 3, 20) and not request.overdue
    fixed_clock.advance(days=11)
    assert request.overdue


def test_an_advocate_answers_on_the_web_with_corrections(
    fixed_clock, client, auth, make_petition, make_user
):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.apply_transition(petition, reviewer, "return_for_information", "Which court?")
    db.session.commit()
    auth.login(advocate)
    case_page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Information requested" in case_page and "Which court?" in case_page
    page = client.get(f"/petitions/{petition.case_number}/information")
    assert page.status_code == 200
    from tests.conftest import form_token

    token = form_token(page.get_data(as_text=True))
    fields = {
        name: getattr(petition, name)
        for name in (
            "kind",
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
        )
    }
    data = {k: ("" if v is None else str(v)) for k, v in fields.items()}
    data |= {"csrf_token": token, "version": str(petition.version)}
    empty = client.post(f"/petitions/{petition.case_number}/information", data=data)
    assert empty.status_code == 422  # the answer is required
    data |= {"response": "Eastern District of Texas.", "sentencing_court": "E.D. Texas"}
    sent = client.post(f"/petitions/{petition.case_number}/information", data=data)
    assert sent.status_code == 302
    db.session.expire_all()
    row = db.session.get(Petition, petition.id)
    assert row.stage == "under_review" and row.sentencing_court == "E.D. Texas"
    assert row.information_provided


# --- reminders ---------------------------------------------------------------------------------


def test_reminders_are_recorded_once_per_item_person_and_day(
    fixed_clock, app, make_petition, make_user
):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    supervisor = make_user("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.assign_petition(petition, reviewer, reviewer)
    deadlines.open_referral(petition, reviewer, {"agency": "bop", "due_on": "2026-03-12"})
    petition_services.apply_transition(
        petition, reviewer, "return_for_information", "More?", due_on=date(2026, 3, 11)
    )
    fixed_clock.moment = T0 - timedelta(days=400)
    old_unassigned = make_petition()
    fixed_clock.moment = T0

    first = deadlines.record_reminders()
    again = deadlines.record_reminders()

    assert again == 0 and first == count(Reminder)
    recipients = set(db.session.execute(select(Reminder.kind, Reminder.user_id)).all())
    assert ("referral", reviewer.id) in recipients
    assert ("information_request", advocate.id) in recipients
    assert ("information_request", reviewer.id) in recipients
    assert ("pending_case", supervisor.id) in recipients
    assert count(Reminder, Reminder.petition_id == old_unassigned.id) >= 1
    assert count(AuditEntry, AuditEntry.action == "reminder") == first
    fixed_clock.advance(days=1)
    assert deadlines.record_reminders() > 0  # a new day, new reminders


def test_the_reminders_command_and_the_due_page(
    fixed_clock, app, runner, client, auth, make_petition, make_user
):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.apply_transition(
        petition, reviewer, "return_for_information", "More?", due_on=date(2026, 3, 12)
    )
    db.session.commit()
    result = runner.invoke(args=["reminders"])
    assert result.exit_code == 0, result.output
    assert "Recorded" in result.output
    auth.login(advocate)
    page = client.get("/due").get_data(as_text=True)
    assert petition.case_number in page and "due on 2026-03-12" in page


# --- what advocates see ------------------------------------------------------------------------


def test_an_advocate_sees_staff_corrections_but_not_staff_only_entries(
    client, auth, make_petition, make_user
):
    advocate, reviewer = make_user("advocate"), make_user("reviewer", name="Rita Reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.update_petition(petition, reviewer, {"sentencing_court": "D. Maryland"}, None)
    petition_services.add_note(petition, reviewer, "Internal musing", "internal")
    deadlines.open_referral(petition, reviewer, {"agency": "fbi"})
    db.session.commit()
    auth.login(advocate)
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "D. Maryland" in page and "Office staff" in page
    for hidden in ("Internal musing", "Referral", "FBI"):
        assert hidden not in page
