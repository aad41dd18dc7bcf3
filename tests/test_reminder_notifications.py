"""`flask --app tracker reminders` tells exactly the people each reminder names (issue 12,
point 4; issue 13, "who hears what"): the assignee; the advocate for their information
request; the supervisors for a case nobody works. Nobody else hears of it, once a day."""

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.test_time import T0, FixedClock
from tracker.deadlines import services as deadlines
from tracker.deadlines.models import Reminder
from tracker.extensions import db
from tracker.notifications.models import Notification
from tracker.petitions import services as petition_services
from tracker.workflow import Stage


@pytest.fixture
def fixed_clock(app, monkeypatch):
    fixed = FixedClock(T0)
    monkeypatch.setitem(app.config, "CLOCK", fixed)
    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "America/New_York")
    return fixed


@pytest.fixture
def people(make_user):
    return {
        "advocate": make_user("advocate"),
        "reviewer": make_user("reviewer"),
        "other_reviewer": make_user("reviewer"),
        "supervisor": make_user("supervisor"),
        "second_supervisor": make_user("supervisor"),
    }


def reminder_notifications() -> Counter:
    """(user, case) → how many reminder notifications."""
    rows = db.session.execute(
        select(Notification.user_id, Notification.petition_id).where(
            Notification.kind == "reminder"
        )
    ).all()
    return Counter((user_id, petition_id) for user_id, petition_id in rows)


def run_reminders(runner) -> None:
    result = runner.invoke(args=["reminders"])
    assert result.exit_code == 0, result.output


def test_each_reminder_notifies_only_the_person_it_names(
    fixed_clock, app, runner, make_petition, people
):
    advocate, reviewer = people["advocate"], people["reviewer"]
    supervisors = [people["supervisor"], people["second_supervisor"]]
    # A referral due soon on an assigned case: the assignee.
    referred = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.assign_petition(referred, reviewer, reviewer)
    deadlines.open_referral(referred, reviewer, {"agency": "bop", "due_on": "2026-03-12"})
    # Information requested of the advocate, overdue: the advocate, and its assignee.
    asked = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    petition_services.assign_petition(asked, reviewer, reviewer)
    petition_services.apply_transition(
        asked, reviewer, "return_for_information", "More?", due_on=date(2026, 3, 9)
    )
    # An old case nobody works: every supervisor, not its advocate.
    fixed_clock.moment = T0 - timedelta(days=400)
    unassigned = make_petition(advocate=advocate)
    fixed_clock.moment = T0
    db.session.commit()

    run_reminders(runner)
    run_reminders(runner)  # the same day again: nobody hears twice

    reminded = Counter(
        (user_id, petition_id)
        for user_id, petition_id in db.session.execute(
            select(Reminder.user_id, Reminder.petition_id)
        )
    )
    # Notified: exactly the recorded reminders, one notification each.
    assert reminder_notifications() == reminded
    assert reminded == {
        (reviewer.id, referred.id): 1,
        (advocate.id, asked.id): 1,
        (reviewer.id, asked.id): 1,
        **{(supervisor.id, unassigned.id): 1 for supervisor in supervisors},
    }


def test_an_advocate_hears_nothing_of_staffs_reminders(
    fixed_clock, app, runner, make_petition, people
):
    """A referral and an old assigned case concern staff alone; nobody else hears."""
    advocate, reviewer = people["advocate"], people["reviewer"]
    fixed_clock.moment = T0 - timedelta(days=400)
    old = make_petition(stage=Stage.UNDER_REVIEW, advocate=advocate)
    fixed_clock.moment = T0
    petition_services.assign_petition(old, reviewer, reviewer)
    deadlines.open_referral(
        old, reviewer, {"agency": "fbi", "sent_on": "2025-10-01", "due_on": "2026-03-01"}
    )
    db.session.commit()

    run_reminders(runner)

    heard = reminder_notifications()
    assert set(heard) == {(reviewer.id, old.id)}
    assert heard[reviewer.id, old.id] == 2  # the overdue referral and the old case
    assert all(user_id == reviewer.id for user_id, _ in heard)
