"""Dashboards (issue 14): every number equals a count the test computes itself from the
petitions it made; advocates see their own organization only; each table downloads as CSV."""

import csv
import io
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import petition_values, unique_register_number
from tracker.dashboards import queries
from tracker.deadlines import services as deadline_services
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition
from tracker.petitions.outcomes import Outcome
from tracker.workflow import Stage

OPEN = {"received", "under_review", "information_requested"}
EASTERN = ZoneInfo("America/New_York")


def _submit(advocate, kind="commutation"):
    values = petition_values(kind=kind, register_number=unique_register_number())
    if kind == "pardon":
        values |= {"custody_status": "released", "projected_release_date": None}
    return petition_services.submit_petition(advocate, values)


def _move(petition, actor, action, outcome=None):
    petition_services.apply_transition(petition, actor, action, "Reason.", outcome=outcome)


@pytest.fixture
def office(app_ctx, make_user, make_organization, moving_clock):
    """Two organizations' cases spread over a year: decided, open, assigned, overdue, and
    decisions against recommendations."""
    org_a, org_b = make_organization("Org A"), make_organization("Org B")
    advocate_a = make_user("advocate", organization=org_a)
    advocate_b = make_user("advocate", organization=org_b)
    reviewer = make_user("reviewer", name="Rita Reviewer")
    supervisor = make_user("supervisor", name="Sam Supervisor")
    moving_clock.moment = datetime(2024, 4, 10, 15, tzinfo=UTC)
    made = []
    for number in range(14):
        moving_clock.moment += timedelta(days=23, hours=number)
        advocate = advocate_a if number % 3 else advocate_b
        made.append(_submit(advocate, "pardon" if number % 4 == 0 else "commutation"))
    moving_clock.moment += timedelta(days=10)
    for number, petition in enumerate(made):
        moving_clock.moment += timedelta(days=3, hours=5)
        if number % 5 == 4:
            continue  # stays received
        _move(petition, reviewer, "start_review")
        if number % 5 == 0:
            petition_services.add_recommendation(petition, reviewer, "unfavorable", "Memo.")
            relief = "full_pardon" if petition.kind == "pardon" else "commutation_time_served"
            _move(petition, supervisor, "grant", Outcome(relief=relief))
        elif number % 5 == 1:
            petition_services.add_recommendation(petition, reviewer, "favorable", "Memo.")
            _move(petition, supervisor, "deny")
        elif number % 5 == 2:
            petition_services.assign_petition(petition, supervisor, reviewer)
            _move(petition, reviewer, "return_for_information")
        elif number % 7 == 3:
            _move(petition, reviewer, "close", Outcome(disposition="moot"))
        else:
            petition_services.assign_petition(petition, supervisor, supervisor)
    moving_clock.moment += timedelta(days=90)
    db.session.commit()
    return {"org_a": org_a, "org_b": org_b, "advocate_a": advocate_a, "reviewer": reviewer}


def _petitions():
    return list(db.session.scalars(select(Petition)))


def _whole_days(start, end) -> int:
    return math.floor((end - start).total_seconds() / 86_400)


def _nearest_rank(values, fraction):
    values = sorted(values)
    return values[max(1, math.ceil(fraction * len(values))) - 1] if values else None


def test_cases_per_stage_and_kind(office):
    expected = {}
    for p in _petitions():
        expected[(p.stage, p.kind)] = expected.get((p.stage, p.kind), 0) + 1
    assert queries.cases_by_stage_and_kind() == expected


def test_received_and_decided_per_month(office, moving_clock):
    rows = queries.received_and_decided_per_month()
    assert len(rows) == 12 and rows[0].month < rows[-1].month
    zone = "America/New_York"
    from zoneinfo import ZoneInfo

    def month_of(moment):
        local = moment.astimezone(ZoneInfo(zone))
        return date(local.year, local.month, 1)

    months = {row.month for row in rows}
    petitions = _petitions()
    for row in rows:
        assert row.received == sum(1 for p in petitions if month_of(p.received_at) == row.month)
        assert row.decided == sum(
            1 for p in petitions if p.decided_at and month_of(p.decided_at) == row.month
        )
    assert sum(r.received for r in rows) == sum(
        1 for p in petitions if month_of(p.received_at) in months
    )


def _first_of_twelve_months(moment) -> datetime:
    """The start (UTC) of the eleventh month before the moment's, in New York."""
    local = moment.astimezone(EASTERN)
    year, month = (
        (local.year, local.month - 11) if local.month > 11 else (local.year - 1, local.month + 1)
    )
    return datetime(year, month, 1, tzinfo=EASTERN).astimezone(UTC)


def test_days_to_decision_per_kind(office, moving_clock):
    since = _first_of_twelve_months(moving_clock.moment)
    spreads = {s.label: s for s in queries.days_to_decision()}
    for kind, label in (("pardon", "Pardon"), ("commutation", "Commutation of sentence")):
        days = [
            _whole_days(p.received_at, p.decided_at)
            for p in _petitions()
            if p.kind == kind and p.decided_at and p.decided_at >= since
        ]
        spread = spreads[label]
        assert spread.count == len(days)
        assert spread.median == _nearest_rank(days, 0.5)
        assert spread.p90 == _nearest_rank(days, 0.9)
        assert spread.maximum == (max(days) if days else None)
    assert sum(s.count for s in spreads.values()) > 0


def test_days_in_each_open_stage(office, moving_clock):
    spreads = {s.label: s for s in queries.days_in_stage()}
    for stage in (Stage.RECEIVED, Stage.UNDER_REVIEW, Stage.INFORMATION_REQUESTED):
        today = moving_clock.moment.astimezone(EASTERN).date()
        days = [
            (today - p.stage_entered_at.astimezone(EASTERN).date()).days
            for p in _petitions()
            if p.stage == stage.value
        ]
        assert spreads[stage.label].count == len(days)
        assert spreads[stage.label].median == _nearest_rank(days, 0.5)
        assert spreads[stage.label].p90 == _nearest_rank(days, 0.9)


def test_each_reviewers_open_cases_and_oldest(office):
    loads = {load.name: load for load in queries.reviewer_loads()}
    by_assignee = {}
    for p in _petitions():
        if p.stage in OPEN:
            by_assignee.setdefault(p.assignee.name if p.assignee else None, []).append(p)
    assert set(loads) == {name or "Nobody (unassigned)" for name in by_assignee}
    for name, cases in by_assignee.items():
        load = loads[name or "Nobody (unassigned)"]
        oldest = min(cases, key=lambda p: (p.received_at, p.id))
        assert (load.open_cases, load.oldest_case) == (len(cases), oldest.case_number)


def test_oldest_pending_cases(office):
    expected = sorted(
        (p for p in _petitions() if p.stage in OPEN), key=lambda p: (p.received_at, p.id)
    )
    assert [p.case_number for p in queries.oldest_pending(3)] == [
        p.case_number for p in expected[:3]
    ]
    assert queries.count_open() == len(expected)
    org = office["org_a"].id
    mine = [p for p in expected if p.organization_id == org]
    assert [p.case_number for p in queries.oldest_pending(50, org)] == [p.case_number for p in mine]


def test_overdue_referrals_and_information_requests(office, moving_clock, make_user):
    reviewer = office["reviewer"]
    under_review = [p for p in _petitions() if p.stage == "under_review"]
    today = moving_clock.moment.date()
    deadline_services.open_referral(
        under_review[0],
        reviewer,
        {
            "agency": "fbi",
            "sent_on": (today - timedelta(days=30)).isoformat(),
            "due_on": (today - timedelta(days=4)).isoformat(),
        },
    )
    deadline_services.open_referral(
        under_review[0],
        reviewer,
        {"agency": "fbi", "due_on": (today + timedelta(days=4)).isoformat()},
    )
    db.session.commit()
    total, items = queries.overdue_items()
    requests = [
        p
        for p in _petitions()
        if p.stage == "information_requested" and p.open_information_request.due_on < today
    ]
    assert total == 1 + len(requests) == len(items)
    referral = [i for i in items if i.what.startswith("Referral")]
    assert [(i.case_number, i.days_overdue) for i in referral] == [(under_review[0].case_number, 4)]


def test_decisions_against_the_latest_recommendation(office):
    counts, latest = queries.decisions_against_recommendation()
    granted = [p for p in _petitions() if p.stage == "granted"]
    denied = [p for p in _petitions() if p.stage == "denied"]
    assert counts == {"grant": len(granted), "deny": len(denied)}
    assert {item.case_number for item in latest} == {p.case_number for p in granted + denied}


def test_the_advocates_dashboard_shows_their_organization_only(client, office, auth, moving_clock):
    advocate = office["advocate_a"]
    auth.login(advocate)
    html = client.get("/dashboard").get_data(as_text=True)
    ours = [p for p in _petitions() if p.organization_id == office["org_a"].id]
    theirs = [p for p in _petitions() if p.organization_id != office["org_a"].id]
    for p in ours:
        if p.stage in OPEN:
            assert p.case_number in html
    for p in theirs:
        assert p.case_number not in html
    download = client.get("/dashboard/oldest-open.csv")
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert {row[0] for row in rows[1:]} == {p.case_number for p in ours if p.stage in OPEN}
    decisions = list(
        csv.reader(io.StringIO(client.get("/dashboard/decisions.csv").get_data(as_text=True)))
    )
    assert decisions[0] == ["Kind", "Granted", "Denied", "Closed"]
    asked = list(csv.reader(io.StringIO(client.get("/dashboard/asked.csv").get_data(as_text=True))))
    assert {row[0] for row in asked[1:]} == {
        p.case_number for p in ours if p.stage == "information_requested"
    }
    assert client.get("/dashboard/reviewers.csv").status_code == 404


def test_the_staff_dashboard_page_and_its_downloads(client, office, login_as):
    login_as("supervisor")
    response = client.get("/dashboard")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<svg" in html and 'id="table-months"' in html and " style=" not in html
    for name in (
        "stages",
        "months",
        "days-to-decision",
        "days-in-stage",
        "reviewers",
        "oldest-pending",
        "overdue",
        "against-recommendation",
    ):
        download = client.get(f"/dashboard/{name}.csv")
        assert download.status_code == 200 and download.mimetype == "text/csv", name
    stages = list(
        csv.reader(io.StringIO(client.get("/dashboard/stages.csv").get_data(as_text=True)))
    )
    assert stages[-1][-1] == str(len(_petitions()))
    assert client.get("/dashboard/nothing.csv").status_code == 404


def test_the_dashboard_queries_do_not_grow_with_the_cases(office, count_statements):
    with count_statements() as statements:
        queries.cases_by_stage_and_kind()
        queries.received_and_decided_per_month()
        queries.days_to_decision()
        queries.days_in_stage()
        queries.reviewer_loads()
        queries.oldest_pending()
        queries.overdue_items()
        queries.decisions_against_recommendation()
    assert len(statements) <= 12
