"""Fiscal-year statistics (issue 14): the counts from the audit history, the invariant over
random histories, the CLI, the API, the staff and public pages, and the public sentinel."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import petition_values, unique_register_number
from tracker.errors import DomainError
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.outcomes import Outcome
from tracker.statistics import queries
from tracker.statistics.cli import statistics_command

pytest_plugins = ["tests.api_fixtures"]

EASTERN = ZoneInfo("America/New_York")
DECIDED = ("granted", "denied", "closed")
RELIEF_FOR = {"pardon": "full_pardon", "commutation": "commutation_time_served"}


@pytest.fixture
def cast(make_user, make_organization):
    return {
        "advocate": make_user("advocate", organization=make_organization()),
        "supervisor": make_user("supervisor"),
    }


def fiscal_year_of(moment: datetime) -> int:
    local = moment.astimezone(EASTERN)
    return local.year + 1 if local.month >= 10 else local.year


def submit(cast, kind: str):
    values = petition_values(kind=kind, register_number=unique_register_number())
    if kind == "pardon":
        values |= {"custody_status": "released", "projected_release_date": None}
    return petition_services.submit_petition(cast["advocate"], values)


def act(cast, petition, action: str, disposition: str):
    outcome = None
    if action == "grant":
        outcome = Outcome(relief=RELIEF_FOR[petition.kind])
    elif action == "close":
        outcome = Outcome(disposition=disposition)
    petition_services.apply_transition(
        petition, cast["supervisor"], action, "Reason.", outcome=outcome
    )


steps = st.lists(
    st.tuples(
        st.integers(0, 24 * 120),  # hours the clock moves first
        st.sampled_from(
            [
                "submit",
                "start_review",
                "grant",
                "deny",
                "close",
                "withdraw",
                "reopen",
                "return_for_information",
            ]
        ),
        st.integers(0, 5),
        st.sampled_from(["pardon", "commutation"]),
        st.sampled_from(["closed_without_action", "deceased", "moot", "ineligible"]),
    ),
    max_size=25,
)


def _column(action: str, disposition: str) -> str:
    if action == "submit":
        return "received"
    if action == "reopen":
        return "reopened"
    if action == "close":
        return "closed_without_action" if disposition == "closed_without_action" else "closed_other"
    if action == "withdraw":
        return "closed_other"
    return {"grant": "granted", "deny": "denied"}.get(action, "")


def _expected(events, years):
    """The table per year from the test's own record of what happened (kind, column, when),
    and the stages each case was in: pending is received + reopened − finished so far."""
    expected = {}
    for year in years:
        start, end = queries.fiscal_year_bounds(year)
        kinds = {k: dict.fromkeys(queries.COLUMNS, 0) for k in ("pardon", "commutation")}
        for kind, column, when in events:
            sign = {"received": 1, "reopened": 1}.get(column, -1)
            if when < start:
                kinds[kind]["pending_start"] += sign
            if when < end:
                kinds[kind]["pending_end"] += sign
            if start <= when < end:
                kinds[kind][column] += 1
        expected[year] = kinds
    return expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_the_invariant_holds_over_random_histories(app_ctx, cast, moving_clock, steps):
    moving_clock.moment = datetime(2024, 9, 20, 12, tzinfo=UTC)
    years = range(2024, 2027)
    baseline = {year: queries.year_counts(year).kinds for year in years}
    # Ids are handed out again after a rolled-back example: forget the objects of the last one.
    db.session.expire_all()
    example = db.session.begin_nested()
    petitions, kinds, events = [], [], []
    try:
        for hours, action, index, kind, disposition in steps:
            moving_clock.moment += timedelta(hours=hours)
            step = db.session.begin_nested()
            try:
                if action == "submit":
                    petitions.append(submit(cast, kind))
                    kinds.append(kind)
                elif petitions:
                    act(cast, petitions[index % len(petitions)], action, disposition)
                else:
                    raise DomainError("nothing to act on")
            except DomainError:
                step.rollback()
                continue
            step.commit()
            column = _column(action, disposition)
            if column:
                target = -1 if action == "submit" else index % len(petitions)
                events.append((kinds[target], column, moving_clock.moment))
        expected = _expected(events, years)
        for year in years:
            counts = queries.year_counts(year)
            for kind, row in counts.kinds.items():
                closed = row["closed_without_action"] + row["closed_other"]
                assert row["pending_end"] == (
                    row["pending_start"]
                    + row["received"]
                    - row["granted"]
                    - row["denied"]
                    - closed
                    + row["reopened"]
                ), (year, kind, row)
                delta = {c: row[c] - baseline[year][kind][c] for c in queries.COLUMNS}
                assert delta == expected[year][kind], (year, kind)
        # The year that holds "now": its pending_end is what the cases' stages say today.
        now_year = queries.fiscal_year_of(moving_clock.moment.astimezone(EASTERN).date())
        if now_year in years:
            pending = sum(
                1 for p in petitions if db.session.get(type(p), p.id).stage not in DECIDED
            )
            counted = sum(
                queries.year_counts(now_year).kinds[k]["pending_end"]
                - baseline[now_year][k]["pending_end"]
                for k in ("pardon", "commutation")
            )
            assert counted == pending
    finally:
        example.rollback()


def test_fiscal_years_follow_the_display_time_zone(app_ctx, cast, moving_clock):
    # 23:30 on September 30 in New York is October 1 in UTC: still fiscal year 2025.
    moving_clock.moment = datetime(2025, 10, 1, 3, 30, tzinfo=UTC)
    submit(cast, "commutation")
    # 00:30 on October 1 in New York: fiscal year 2026.
    moving_clock.moment = datetime(2025, 10, 1, 4, 30, tzinfo=UTC)
    submit(cast, "pardon")
    assert queries.year_counts(2025).kinds["commutation"]["received"] == 1
    assert queries.year_counts(2025).kinds["pardon"]["received"] == 0
    assert queries.year_counts(2026).kinds["pardon"]["received"] == 1
    assert queries.year_counts(2026).kinds["commutation"]["pending_start"] == 1
    assert queries.fiscal_year_bounds(2025)[0] == datetime(2024, 10, 1, 4, tzinfo=UTC)


def test_a_reopened_case_counts_as_reopened_not_received(app_ctx, cast, moving_clock):
    moving_clock.moment = datetime(2024, 9, 20, 12, tzinfo=UTC)
    petition = submit(cast, "commutation")
    act(cast, petition, "start_review", "")
    act(cast, petition, "deny", "")
    act(cast, petition, "reopen", "")
    act(cast, petition, "close", "moot")
    row = queries.year_counts(2024).kinds["commutation"]
    assert row == {
        "pending_start": 0,
        "received": 1,
        "granted": 0,
        "denied": 1,
        "closed_without_action": 0,
        "closed_other": 1,
        "reopened": 1,
        "pending_end": 0,
    }
    months = queries.decisions_per_month(2024)
    september = [m for m in months if m.month.month == 9 and m.kind == "commutation"][0]
    assert (september.granted, september.denied, september.closed) == (0, 1, 1)


@pytest.fixture
def history(app_ctx, cast, moving_clock):
    """Fiscal year 2025: two commutations (one granted), a pardon closed without action."""
    moving_clock.moment = datetime(2024, 11, 5, 15, tzinfo=UTC)
    granted = submit(cast, "commutation")
    submit(cast, "commutation")
    closed = submit(cast, "pardon")
    moving_clock.moment = datetime(2025, 2, 3, 15, tzinfo=UTC)
    act(cast, granted, "start_review", "")
    act(cast, granted, "grant", "")
    act(cast, closed, "close", "closed_without_action")
    db.session.commit()
    return moving_clock


EXPECTED_2025 = {
    "pardon": {
        "pending_start": 0,
        "received": 1,
        "granted": 0,
        "denied": 0,
        "closed_without_action": 1,
        "closed_other": 0,
        "reopened": 0,
        "pending_end": 0,
    },
    "commutation": {
        "pending_start": 0,
        "received": 2,
        "granted": 1,
        "denied": 0,
        "closed_without_action": 0,
        "closed_other": 0,
        "reopened": 0,
        "pending_end": 1,
    },
}


def test_the_cli_prints_the_year_as_json_csv_and_a_table(app, history):
    runner = app.test_cli_runner()
    result = runner.invoke(statistics_command, ["--fiscal-year", "2025", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"fiscal_year": 2025, "kinds": EXPECTED_2025}
    result = runner.invoke(statistics_command, ["--fiscal-year", "2025", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["kind"] for r in rows] == ["pardon", "commutation"]
    assert rows[1]["received"] == "2" and rows[1]["pending_end"] == "1"
    result = runner.invoke(statistics_command, ["--fiscal-year", "2025"])
    assert result.exit_code == 0 and "pending_start" in result.output
    assert result.output.splitlines()[0] == "Fiscal year 2025"


@pytest.mark.parametrize("year", ["20x5", "1899", "99999", "3000"])
def test_the_cli_refuses_a_year_that_is_not_one(app, history, year):
    result = app.test_cli_runner().invoke(statistics_command, ["--fiscal-year", year])
    assert result.exit_code != 0
    assert "--fiscal-year" in result.output


def test_the_api_answers_the_issues_shape(client, history, make_user, issue_token):
    token = issue_token(make_user("reviewer"), "stats")
    response = client.get(
        "/api/v1/statistics?fiscal_year=2025", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.get_json() == {"fiscal_year": 2025, "kinds": EXPECTED_2025}


def test_the_api_refuses_advocates_and_bad_years(client, history, make_user, issue_token):
    advocate = issue_token(make_user("advocate"), "stats")
    response = client.get(
        "/api/v1/statistics?fiscal_year=2025", headers={"Authorization": f"Bearer {advocate}"}
    )
    assert response.status_code == 403
    reviewer = issue_token(make_user("reviewer"), "stats")
    for query in ("fiscal_year=abc", "fiscal_year=1800", "year=2025"):
        response = client.get(
            f"/api/v1/statistics?{query}", headers={"Authorization": f"Bearer {reviewer}"}
        )
        assert response.status_code == 422, query
        assert response.mimetype == "application/problem+json"
        assert {error["field"] for error in response.get_json()["errors"]} <= {
            "fiscal_year",
            "year",
        }


def test_the_public_api_needs_no_token_and_has_the_same_counts(client, history):
    response = client.get("/api/v1/public/statistics?fiscal_year=2025")
    assert response.status_code == 200
    body = response.get_json()
    assert body["fiscal_year"] == 2025 and body["kinds"] == EXPECTED_2025
    assert body["acts"] == []  # no act was signed in fiscal year 2025 here
    assert client.get("/api/v1/public/statistics?fiscal_year=nope").status_code == 422
    empty = client.get("/api/v1/public/statistics?fiscal_year=")
    assert empty.status_code == 422
    assert [error["field"] for error in empty.get_json()["errors"]] == ["fiscal_year"]
    assert client.get("/api/v1/public/statistics").status_code == 200  # absent: this year


def test_the_staff_page_has_the_table_the_chart_and_its_numbers(client, history, login_as):
    login_as("reviewer")
    response = client.get("/statistics?fiscal_year=2025")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<svg" in html and "chart-series-0" in html
    assert "Decisions per month, fiscal year 2025" in html
    assert 'id="table-decisions-per-month"' in html
    assert " style=" not in html and "<script>" not in html
    table = client.get("/statistics/fiscal-year.csv?fiscal_year=2025")
    assert table.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(table.get_data(as_text=True))))
    assert rows[2][0] == "Commutation of sentence" and rows[2][2] == "2"
    months = client.get("/statistics/decisions-per-month.csv?fiscal_year=2025")
    feb = [r for r in csv.reader(io.StringIO(months.get_data(as_text=True))) if r[0] == "2025-02"]
    assert [r[2:] for r in feb] == [["0", "0", "1"], ["1", "0", "0"]]


def test_a_bad_year_on_the_page_is_a_422_that_says_why(client, history, login_as):
    login_as("supervisor")
    response = client.get("/statistics?fiscal_year=banana")
    assert response.status_code == 422
    assert "A fiscal year is a year such as" in response.get_data(as_text=True)


def test_advocates_may_not_see_the_staff_page(client, history, login_as):
    login_as("advocate")
    assert client.get("/statistics").status_code == 403
    assert client.get("/statistics/fiscal-year.csv").status_code == 403


SENTINELS = {
    "petitioner_name": "Zebulon Sentinelname",
    "organization": "Sentinel Advocacy Org",
}


def test_public_statistics_never_show_a_name_case_number_or_organization(
    client, app_ctx, make_user, make_organization, moving_clock
):
    organization = make_organization(SENTINELS["organization"])
    advocate = make_user("advocate", organization=organization, name="Sentinel Advocate")
    supervisor = make_user("supervisor", name="Sentinel Supervisor")
    case_numbers = []
    for kind in ("pardon", "commutation"):
        values = petition_values(
            kind=kind,
            petitioner_name=SENTINELS["petitioner_name"],
            register_number=unique_register_number(),
        )
        if kind == "pardon":
            values |= {"custody_status": "released", "projected_release_date": None}
        petition = petition_services.submit_petition(advocate, values)
        case_numbers.append(petition.case_number)
        petition_services.apply_transition(petition, supervisor, "start_review", None)
        petition_services.apply_transition(
            petition,
            supervisor,
            "grant",
            "Sentinel reason.",
            outcome=Outcome(relief=RELIEF_FOR[kind]),
        )
    db.session.commit()
    year = queries.current_fiscal_year()
    forbidden = [
        *SENTINELS.values(),
        *case_numbers,
        "Sentinel Advocate",
        "Sentinel Supervisor",
        "Sentinel reason",
        "Zebulon",
    ]
    answers = [
        client.get(f"/api/v1/public/statistics?fiscal_year={year}"),
        client.get(f"/public/statistics?fiscal_year={year}"),
        client.get(f"/public/statistics.csv?fiscal_year={year}"),
    ]
    for response in answers:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        for word in forbidden:
            assert word not in text, (response.request.path, word)
    assert answers[0].get_json()["kinds"]["pardon"]["granted"] == 1


def test_the_public_page_is_rate_limited_per_address(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_PUBLIC_PAGES", "2 per minute")
    assert client.get("/public/statistics").status_code == 200
    assert client.get("/public/statistics").status_code == 200
    response = client.get("/public/statistics")
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_the_login_page_links_the_public_statistics(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/public/statistics"' in html


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [(0, ["0", "1"]), (1, ["0", "1"]), (7, ["0", "5", "10"]), (120, ["0", "100", "200"])],
)
def test_chart_ticks_are_round_and_never_repeat(largest, ticks):
    from tracker.charts import grouped_bars

    chart = grouped_bars("Chart", ["Oct", "Nov"], ["Granted"], [[largest], [0]])
    assert [tick.label for tick in chart.y_ticks] == ticks
    assert len(chart.bars) == 2 and chart.bars[0].title == f"Oct, Granted: {largest}"
