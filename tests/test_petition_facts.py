"""Issue 11, items 1, 2 and 6: the federal forms' facts, petitioners, eligibility, waivers."""

import re
from datetime import date
from decimal import Decimal

import pytest

from tests.api_helpers import petition_csv, petition_json, problem_of
from tests.conftest import on_postgres
from tests.helpers import audit_entries, page_text, petition_by_case_number
from tests.test_petitions_web import submit
from tracker import eligibility
from tracker.errors import Conflict, Ineligible, PermissionDenied
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.fields import EDITABLE_FIELDS
from tracker.workflow import ReasonRequired, Stage

pytest_plugins = ["tests.api_fixtures"]

FACTS = {
    "relief_sought": "commutation_reduced",
    "aliases": ["J. Q. Example", "Jay Example"],
    "docket_number": "1:04-cr-00123",
    "sentencing_judge": "Hon. A. Judge",
    "statutes": ["21 U.S.C. § 846", "21 U.S.C. § 841(b)(1)(A)"],
    "conviction_date": "2005-01-10",
    "conviction_by": "plea",
    "offense_category": "drug",
    "nonviolent": True,
    "bop_facility": "FCI Cumberland",
    "custody_start_date": "2004-11-01",
    "supervision_end_date": None,
    "fine_amount": "1500.00",
    "restitution_amount": "0.00",
    "financial_obligations_paid": False,
    "representative": "Ana Advocate, Esq.",
    "contact_email": "family@example.org",
    "contact_phone": "(410) 555-0134",
    "contact_address": "1 Main St, Baltimore, MD",
}


# --- item 1: the facts on every interface ----------------------------------------------------


def test_the_api_takes_and_shows_every_fact(api_as):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json() | FACTS)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {name: body[name] for name in FACTS} == FACTS
    assert body["waiver_requested"] is None and body["waiver_approved"] is False
    petition = petition_by_case_number(body["case_number"])
    assert petition.fine_amount == Decimal("1500.00") and petition.statutes == FACTS["statutes"]


def test_csv_lists_are_semicolon_separated_and_match_the_api(api_as):
    api = api_as("advocate")
    row = petition_json(register_number="40000-001") | FACTS
    cells = {name: "; ".join(v) if isinstance(v, list) else v for name, v in row.items()}
    cells["nonviolent"], cells["financial_obligations_paid"] = "yes", "false"
    response = api.post(
        "/api/v1/petitions/import",
        data=petition_csv(cells, columns=list(cells)),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.get_json()
    [case_number] = response.get_json()["case_numbers"]
    assert {n: api.get(f"/api/v1/petitions/{case_number}").get_json()[n] for n in FACTS} == FACTS


@pytest.mark.parametrize(
    "field, json_value, csv_value, message",
    [
        ("fine_amount", "12.345", "12.345", "Use an amount in dollars like 1500.00"),
        ("nonviolent", "maybe", "maybe", "Use true or false."),
        ("statutes", ["18 U.S.C.; § 922"], "", "An item cannot contain ';'."),
        ("conviction_by", "jury", "jury", "Choose plea or trial."),
        ("contact_email", "not-an-address", "not-an-address", "Use an e-mail address"),
    ],
)
def test_a_bad_fact_is_refused_naming_the_field_on_the_api_and_in_an_import(
    api_as, field, json_value, csv_value, message
):
    api = api_as("advocate")
    body = problem_of(
        api.post("/api/v1/petitions", json=petition_json() | {field: json_value}), 422
    )
    [error] = [e for e in body["errors"] if e["field"] == field]
    assert error["message"].startswith(message)
    if csv_value:
        row = petition_json(register_number="40000-002") | {field: csv_value}
        response = api.post(
            "/api/v1/petitions/import",
            data=petition_csv(row, columns=list(row)),
            headers={"Content-Type": "text/csv"},
        )
        errors = problem_of(response, 422)["errors"]
        assert [(e["line"], e["message"]) for e in errors if e["field"] == field] == [
            (2, error["message"])
        ]


def test_the_form_groups_the_facts_in_sections_and_saves_them(client, login_as):
    login_as("advocate")
    page = client.get("/petitions/new").get_data(as_text=True)
    for section in ("petitioner", "conviction", "custody", "financial", "contact", "waiver"):
        assert f'id="section-{section}"' in page
    response = submit(
        client,
        statutes="21 U.S.C. § 846\n18 U.S.C. § 924(c)",
        nonviolent="false",
        fine_amount="250",
        contact_email="family@example.org",
    )
    assert response.status_code == 302, page_text(response)
    petition = petition_by_case_number(response.headers["Location"].removeprefix("/petitions/"))
    assert petition.statutes == ["21 U.S.C. § 846", "18 U.S.C. § 924(c)"]
    assert (petition.nonviolent, petition.fine_amount) == (False, Decimal("250"))


def test_contact_details_are_shown_to_staff_and_the_organization_only(
    client, login_as, api_as, make_petition
):
    advocate = login_as("advocate")
    petition = make_petition(advocate=advocate, contact_phone="(410) 555-0134")
    assert "(410) 555-0134" in client.get(f"/petitions/{petition.case_number}").get_data(
        as_text=True
    )
    outsider = api_as("advocate")
    problem_of(outsider.get(f"/api/v1/petitions/{petition.case_number}"), 404)
    listed = outsider.get("/api/v1/petitions").get_json()["items"]
    assert all(item["case_number"] != petition.case_number for item in listed)
    reviewer = api_as("reviewer")
    assert (
        reviewer.get(f"/api/v1/petitions/{petition.case_number}").get_json()["contact_phone"]
        == "(410) 555-0134"
    )


# --- item 2: petitioners and the open duplicate ------------------------------------------------


def test_web_api_and_import_refuse_an_open_duplicate_identically(
    client, login_as, api_as, make_petition
):
    advocate = login_as("advocate")
    open_case = make_petition(advocate=advocate, register_number="44444-444")
    message = f"This petitioner already has an open petition: {open_case.case_number}."

    web = submit(client, register_number="44444-444")
    assert web.status_code == 409
    assert message in page_text(web)

    api = api_as(user=advocate)
    body = problem_of(
        api.post("/api/v1/petitions", json=petition_json(register_number="44444-444")), 409
    )
    assert body["errors"] == [{"field": "register_number", "message": message}]
    assert body["open_case"] == open_case.case_number

    csv = petition_csv(
        petition_json(register_number="40000-003"), petition_json(register_number="44444-444")
    )
    response = api.post("/api/v1/petitions/import", data=csv, headers={"Content-Type": "text/csv"})
    assert problem_of(response, 422)["errors"] == [
        {
            "line": 3,
            "field": "register_number",
            "column": "C",
            "value": "44444-444",
            "message": message,
        }
    ]


def test_another_organizations_open_petition_is_refused_without_its_case_number(
    api_as, make_petition
):
    open_case = make_petition(register_number="44444-445")
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json(register_number="44444-445"))
    body = problem_of(response, 409)
    assert body["open_case"] is None
    assert open_case.case_number not in response.get_data(as_text=True)


def test_without_a_register_number_the_name_and_birth_date_identify_the_petitioner(
    api_as, make_petition
):
    api = api_as("advocate")
    pardon = {
        "kind": "pardon",
        "register_number": None,
        "projected_release_date": None,
        "custody_status": "released",
    }
    make_petition(advocate=api.user, petitioner_name="Keisha  Williams", **pardon)
    body = petition_json(petitioner_name="keisha williams") | {
        k: v for k, v in pardon.items() if k != "register_number"
    }
    body.pop("register_number")
    problem = problem_of(api.post("/api/v1/petitions", json=body), 409)
    assert problem["errors"][0]["field"] == "petitioner_name"


def test_related_petitions_show_outcomes_and_advocates_see_only_their_own(
    app, monkeypatch, api_as, make_petition
):
    monkeypatch.setitem(app.config, "REAPPLICATION_WAITING_YEARS", 0)  # refiled at once
    advocate = api_as("advocate")
    denied = make_petition(stage=Stage.DENIED, advocate=advocate.user, register_number="45454-545")
    elsewhere = make_petition(stage=Stage.GRANTED, register_number="45454-545")
    current = make_petition(advocate=advocate.user, register_number="45454-545")

    mine = advocate.get(f"/api/v1/petitions/{current.case_number}/related").get_json()["items"]
    assert [(p["case_number"], p["stage"]) for p in mine] == [(denied.case_number, "denied")]
    staff = api_as("reviewer").get(f"/api/v1/petitions/{current.case_number}/related")
    assert {p["case_number"] for p in staff.get_json()["items"]} == {
        denied.case_number,
        elsewhere.case_number,
    }


# --- item 6: eligibility ---------------------------------------------------------------------


def _results(values, denials=(), today=date(2026, 6, 1)):
    facts = eligibility.Facts(values, tuple(denials), today=today)
    return {r.rule: (r.status, r.eligible_on) for r in eligibility.evaluate(facts)}


PARDON = {"kind": "pardon", "custody_status": "released", "sentence_date": date(2010, 1, 1)}
COMMUTATION = {
    "kind": "commutation",
    "custody_status": "in_prison",
    "sentence_date": date(2010, 1, 1),
}


@pytest.mark.skipif(on_postgres(), reason="SQLite's query plan; PostgreSQL plans from statistics")
def test_an_advocates_related_petitions_are_read_by_petitioner_not_organization(
    app_ctx, make_user, make_petition
):
    """Through (organization_id, created_at, id), in order, SQLite read the whole
    organization's cases for the few of one petitioner: 2.7 s an advocate's case page at a
    million cases. The petitioner's index finds them (the handful is then sorted)."""
    from sqlalchemy import event

    from tracker.petitions import petitioners

    advocate = make_user("advocate")
    petition = make_petition(advocate=advocate)
    sent = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT") and "petitioner_key =" in statement:
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", explain)
    try:
        petitioners.related_petitions(petition, advocate)
    finally:
        event.remove(db.engine, "before_cursor_execute", explain)
    [(statement, parameters)] = sent
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    steps = [step[-1] for step in plan]
    assert any("ix_petition_petitioner_key" in step for step in steps), steps
    assert not any("ix_petition_org" in step for step in steps), steps


@pytest.mark.parametrize(
    "values, today, expected",
    [
        # released 2020-02-29: five years end on 1 March 2025 (there is no 29 February 2025)
        (
            PARDON | {"release_date": date(2020, 2, 29)},
            date(2025, 2, 28),
            ("not_met", date(2025, 3, 1)),
        ),
        (PARDON | {"release_date": date(2020, 2, 29)}, date(2025, 3, 1), ("met", date(2025, 3, 1))),
        # into a leap year the anniversary exists
        (
            PARDON | {"release_date": date(2019, 2, 28)},
            date(2024, 2, 28),
            ("met", date(2024, 2, 28)),
        ),
        (
            PARDON | {"release_date": date(2023, 6, 1)},
            date(2026, 6, 1),
            ("not_met", date(2028, 6, 1)),
        ),
        # no confinement recorded for someone released: from the sentence
        (PARDON, date(2026, 6, 1), ("met", date(2015, 1, 1))),
        # confined, release not recorded: unknown once the earliest possible date has passed
        (PARDON | {"custody_start_date": date(2010, 2, 1)}, date(2026, 6, 1), ("unknown", None)),
        # sentenced last year: not before five years after it, whatever the release
        (
            PARDON | {"sentence_date": date(2025, 5, 1), "custody_status": "in_prison"},
            date(2026, 6, 1),
            ("not_met", date(2030, 5, 1)),
        ),
        (PARDON | {"sentence_date": None}, date(2026, 6, 1), ("unknown", None)),
        (COMMUTATION, date(2026, 6, 1), ("not_applicable", None)),
    ],
)
def test_the_pardon_waiting_period(app, values, today, expected):
    with app.app_context():
        assert _results(values, today=today)["pardon_waiting_period"] == expected


@pytest.mark.parametrize(
    "values, expected",
    [
        (COMMUTATION, "met"),
        (COMMUTATION | {"custody_status": "released"}, "not_met"),
        (COMMUTATION | {"custody_status": "released", "relief_sought": "remission"}, "met"),
        (COMMUTATION | {"custody_status": None}, "unknown"),
        (PARDON, "not_applicable"),
    ],
)
def test_a_commutation_is_for_a_petitioner_still_serving(app, values, expected):
    with app.app_context():
        assert _results(values)["commutation_while_serving"][0] == expected


@pytest.mark.parametrize(
    "denials, years, expected",
    [
        ((), 2, ("met", None)),
        ((date(2024, 6, 2),), 2, ("not_met", date(2026, 6, 2))),
        ((date(2024, 6, 1),), 2, ("met", date(2026, 6, 1))),
        ((date(2024, 2, 29), date(2020, 1, 1)), 1, ("met", date(2025, 3, 1))),
        ((date(2026, 1, 1),), 0, ("not_applicable", None)),
    ],
)
def test_re_application_after_a_denial(app, monkeypatch, denials, years, expected):
    monkeypatch.setitem(app.config, "REAPPLICATION_WAITING_YEARS", years)
    with app.app_context():
        results = _results(COMMUTATION, denials)
        assert results["reapplication_waiting_period"] == expected


class _ReadValues(dict):
    """Petition values that remember which of them a rule read."""

    read: set

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)


@pytest.mark.parametrize(
    "values",
    [
        PARDON,
        PARDON | {"release_date": date(2020, 2, 29)},
        PARDON | {"custody_start_date": date(2010, 2, 1)},
        PARDON | {"sentence_date": date(2025, 5, 1), "custody_status": "in_prison"},
        PARDON | {"sentence_date": None},
        COMMUTATION,
        COMMUTATION | {"custody_status": "released"},
        COMMUTATION | {"custody_status": "released", "relief_sought": "remission"},
        COMMUTATION | {"custody_status": None},
    ],
)
def test_the_rules_read_only_the_values_a_bulk_grant_reads(app, values):
    # A bulk grant reads only eligibility.VALUES_READ of each case (``_lock_cases``): a rule
    # reading another value would see None there and judge the case wrongly.
    all_values = _ReadValues(dict.fromkeys(EDITABLE_FIELDS) | values)
    all_values.read = set()
    with app.app_context():
        facts = eligibility.Facts(
            all_values, (date(2024, 6, 2),), "CP-2026-000001", date(2026, 6, 1)
        )
        results = eligibility.evaluate(facts)
        messages = [result.as_json()["message"] for result in results]
    assert all_values.read <= set(eligibility.VALUES_READ)
    assert all(isinstance(message, str) and message for message in messages)


def test_an_ineligible_submission_is_refused_with_the_rule_and_date_unless_a_waiver_is_asked(
    api_as, make_user
):
    api = api_as("advocate")
    recent = {
        "kind": "pardon",
        "register_number": "46464-646",
        "projected_release_date": None,
        "custody_status": "released",
        "release_date": "2024-02-29",
    }
    body = problem_of(api.post("/api/v1/petitions", json=petition_json() | recent), 422)
    assert [e["field"] for e in body["errors"]] == ["release_date"]
    assert body["eligibility"] == [
        {
            "rule": "pardon_waiting_period",
            "eligible_on": "2029-03-01",
            "message": body["eligibility"][0]["message"],
        }
    ]
    assert "2029-03-01" in body["eligibility"][0]["message"]

    asked = petition_json() | recent | {"waiver_requested": True}
    body = problem_of(api.post("/api/v1/petitions", json=asked), 422)
    assert [e["field"] for e in body["errors"]] == ["waiver_justification"]

    asked["waiver_justification"] = "Terminally ill; asks to be pardoned while alive."
    response = api.post("/api/v1/petitions", json=asked)
    assert response.status_code == 201, response.get_json()
    petition = petition_by_case_number(response.get_json()["case_number"])

    reviewer, supervisor = make_user("reviewer"), make_user("supervisor")
    petition_services.apply_transition(petition, reviewer, "start_review")
    with pytest.raises(Conflict, match="approve a waiver"):
        petition_services.apply_transition(petition, reviewer, "grant", "Merit.")
    with pytest.raises(PermissionDenied):
        petition_services.apply_transition(petition, reviewer, "approve_waiver", "Ill.")
    with pytest.raises(ReasonRequired):
        petition_services.apply_transition(petition, supervisor, "approve_waiver", "")
    version = petition.version
    petition_services.apply_transition(petition, supervisor, "approve_waiver", "Ill.")
    assert (petition.stage, petition.version) == (Stage.UNDER_REVIEW.value, version + 1)
    [entry] = audit_entries(petition_id=petition.id, action="approve_waiver")
    assert (entry.reason, entry.details["rules"]) == ("Ill.", ["pardon_waiting_period"])
    petition_services.apply_transition(petition, reviewer, "grant", "Merit.")
    assert petition.stage == Stage.GRANTED.value


def test_approve_waiver_on_the_api_and_the_case_page(api_as, client, login_as, make_user):
    advocate = api_as("advocate")
    body = petition_json(
        kind="pardon",
        projected_release_date=None,
        custody_status="released",
        release_date="2025-01-01",
        waiver_requested=True,
        waiver_justification="Needed for a job.",
    )
    case_number = advocate.post("/api/v1/petitions", json=body).get_json()["case_number"]
    supervisor = login_as("supervisor")
    page = client.get(f"/petitions/{case_number}").get_data(as_text=True)
    assert 'value="approve_waiver"' in page and "Waiver requested" in page
    assert re.search(r'data-rule="pardon_waiting_period" data-status="not_met"', page)
    assert "Eligibility" not in advocate.get(f"/api/v1/petitions/{case_number}").get_data(
        as_text=True
    )
    reviewer = api_as("reviewer")
    problem_of(
        reviewer.post(
            f"/api/v1/petitions/{case_number}/transitions",
            json={"action": "approve_waiver", "reason": "x"},
        ),
        403,
    )
    chief = api_as(user=supervisor)
    response = chief.post(
        f"/api/v1/petitions/{case_number}/transitions",
        json={"action": "approve_waiver", "reason": "Job offer."},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["waiver_approved"] is True
    assert response.get_json()["stage"] == "received"


def test_a_grant_of_an_ineligible_case_without_a_waiver_is_409_on_the_api(api_as, make_petition):
    # Filed before the rules existed (or edited since): the grant still checks them.
    petition = make_petition(stage=Stage.UNDER_REVIEW, register_number="47474-747")
    petition.custody_status = "released"  # a commutation for someone no longer serving
    db.session.commit()
    reviewer = api_as("reviewer")
    response = reviewer.post(
        f"/api/v1/petitions/{petition.case_number}/transitions",
        json={"action": "grant", "reason": "Merit."},
    )
    assert "commutation_while_serving" in problem_of(response, 409)["detail"]


def test_a_denied_petitioner_waits_before_filing_again(api_as, make_petition):
    api = api_as("advocate")
    make_petition(stage=Stage.DENIED, advocate=api.user, register_number="48484-848")
    with pytest.raises(Ineligible):
        petition_services.submit_petition(
            api.user,
            {
                **{k: v for k, v in petition_by_number_values("48484-848").items()},
            },
        )


def petition_by_number_values(register_number):
    from tests.conftest import petition_values

    return petition_values(register_number=register_number)


def test_every_new_field_is_editable_and_audited(make_petition, make_user):
    petition = make_petition(register_number="49494-949")
    reviewer = make_user("reviewer")
    changes = petition_services.update_petition(
        petition,
        reviewer,
        {"statutes": ["18 U.S.C. § 924(c)"], "fine_amount": Decimal("10")},
        petition.version,
    )
    assert changes == {"statutes": [None, ["18 U.S.C. § 924(c)"]], "fine_amount": [None, "10.00"]}
    assert set(EDITABLE_FIELDS) >= set(FACTS)


def test_the_demo_has_facts_three_years_of_cases_a_waiver_and_a_refiled_petitioner(runner):
    from sqlalchemy import select

    from tests.test_cli import invoke
    from tracker.audit import services as audit
    from tracker.petitions.models import Petition

    assert invoke(runner, "seed-demo").exit_code == 0
    petitions = list(db.session.scalars(select(Petition)))
    years = {p.case_number[3:7] for p in petitions}
    assert len(years) >= 3, years  # filed over three years: case numbers of three years
    assert all(p.statutes and p.relief_sought and p.docket_number for p in petitions)
    [waived] = [p for p in petitions if p.waiver_requested]
    assert waived.waiver_approved_at is not None and waived.waiver_approval_reason
    refiled = [p for p in petitions if p.register_number == "31415-926"]
    assert sorted(p.stage for p in refiled) == ["denied", "received"]
    assert all(
        p.kind != "commutation" or p.projected_release_date > date.today()
        for p in petitions
        if p.stage == "granted"
    )
    assert audit.verify_chain().intact
