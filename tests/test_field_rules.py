"""One definition per rule of petition data (tracker.petitions.fields): the length limits hold
on every interface — web form, JSON API, CSV import — with the same message, and the model's
columns, the forms, the API's bodies, its OpenAPI document and the README all read them."""

import re
from pathlib import Path

import pytest

from tests.api_helpers import petition_csv, petition_json, problem_of
from tests.conftest import csrf_token
from tests.helpers import count, field_html, page_text, petition_form, petition_row
from tracker.api import bodies, openapi
from tracker.petitions import fields, forms, importing
from tracker.petitions.models import Petition

pytest_plugins = ["tests.api_fixtures"]

#: The long free-text fields that had no limit at all (issue 10, finding 6).
NEW_LIMITS = [("offenses", 5_000), ("grounds", 20_000)]


def test_the_long_text_fields_have_the_limits_of_the_federal_forms():
    assert [(name, fields.max_length(name)) for name, _ in NEW_LIMITS] == NEW_LIMITS


# --- the same limit on every interface ----------------------------------------------------------


@pytest.mark.parametrize("name, limit", NEW_LIMITS)
def test_the_web_form_refuses_one_character_too_many(client, login_as, name, limit):
    login_as("advocate")
    before = count(Petition)
    data = petition_form(**{name: "x" * (limit + 1)}) | {
        "version": "0",
        "csrf_token": csrf_token(client, "/petitions/new"),
    }
    response = client.post("/petitions/new", data=data)
    assert response.status_code == 422
    assert f"At most {limit:,} characters." in field_html(page_text(response), name)
    assert count(Petition) == before


@pytest.mark.parametrize("name, limit", NEW_LIMITS)
def test_the_api_refuses_one_character_too_many(api_as, make_petition, name, limit):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json(**{name: "x" * (limit + 1)}))
    assert problem_of(response, 422)["errors"] == [
        {"field": name, "message": f"At most {limit:,} characters."}
    ]
    petition = make_petition(advocate=api.user)
    response = api.patch(
        f"/api/v1/petitions/{petition.case_number}",
        json={name: "y" * (limit + 1)},
        headers={"If-Match": '"1"'},
    )
    assert problem_of(response, 422)["errors"][0]["field"] == name
    assert petition_row(petition.id)["version"] == 1


@pytest.mark.parametrize("name, limit", NEW_LIMITS)
def test_csv_import_refuses_one_character_too_many(api_as, name, limit):
    api = api_as("advocate")
    content = petition_csv(petition_json(**{name: "x" * (limit + 1)}))
    response = api.post(
        "/api/v1/petitions/import", data=content, headers={"Content-Type": "text/csv"}
    )
    assert problem_of(response, 422)["errors"] == [
        {
            "line": 2,
            "field": name,
            "column": importing.column_letter(list(petition_json()).index(name) + 1),
            "value": "x" * importing.SHOWN_VALUE_LENGTH + "…",
            "message": f"At most {limit:,} characters.",
        }
    ]


@pytest.mark.parametrize("name, limit", NEW_LIMITS)
def test_exactly_the_limit_is_accepted_everywhere(api_as, name, limit):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json(**{name: "x" * limit}))
    assert response.status_code == 201, response.get_json()
    content = petition_csv(petition_json(register_number="54321-876", **{name: "z" * limit}))
    response = api.post(
        "/api/v1/petitions/import", data=content, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.get_json()


BAD_VALUES = [
    {"kind": "amnesty"},
    {"custody_status": None},
    {"sentence": None},
    {"register_number": "1234-5678"},
    {"petitioner_name": "x" * 201},
    {"date_of_birth": "yesterday"},
    {"offenses": "\x00"},
]


@pytest.mark.parametrize("bad", BAD_VALUES, ids=lambda bad: next(iter(bad)))
def test_the_api_and_csv_import_say_the_same_of_the_same_value(api_as, bad):
    api = api_as("advocate")
    response = api.post("/api/v1/petitions", json=petition_json() | bad)
    said_by_api = {e["field"]: e["message"] for e in problem_of(response, 422)["errors"]}
    response = api.post(
        "/api/v1/petitions/import",
        data=petition_csv(petition_json() | bad),
        headers={"Content-Type": "text/csv"},
    )
    said_by_import = {e["field"]: e["message"] for e in problem_of(response, 422)["errors"]}
    if "date_of_birth" in bad:
        # The import takes more ways of writing a date (a spreadsheet's), and says so.
        said_by_api["date_of_birth"] = fields.SPREADSHEET_DATE_FORMAT
    assert said_by_api == said_by_import and len(said_by_api) == 1


# --- everything reads the one definition ----------------------------------------------------------


def test_the_model_columns_are_the_declared_lengths():
    for field in fields.FIELDS:
        if field.type == "text":
            # A Text column (no length) for the long fields: the limit is the application's.
            length = Petition.__table__.c[field.name].type.length
            assert length in (None, field.max_length), field.name


def test_the_forms_validators_are_the_declared_lengths(app):
    with app.test_request_context():
        form = forms.PetitionForm(meta={"csrf": False})
    for field in fields.FIELDS:
        if field.max_length is not None and field.type != "list":  # a list: per item
            rendered = str(getattr(form, field.name)())
            assert f'maxlength="{field.max_length}"' in rendered, field.name


def test_the_openapi_components_are_the_request_models():
    schemas = openapi.document()["components"]["schemas"]
    generated = bodies.json_schemas()
    for model in bodies.MODELS:
        # Their filter is the list's query (queue filters).
        if model in (bodies.DecisionRequest, bodies.ActCasesRequest):
            assert schemas[model.__name__]["oneOf"] == generated[model.__name__]["oneOf"]
            continue
        assert schemas[model.__name__] == generated[model.__name__]
    for field in fields.FIELDS:
        described = schemas["PetitionCreate"]["properties"][field.name]
        if field.type == "list":  # the limits of each item, and how many
            assert described["maxItems"] == field.max_items, field.name
            described = described["items"]
            assert described["maxLength"] == field.max_length, field.name
            continue
        assert described.get("maxLength") == field.max_length, field.name
        assert described.get("pattern") == field.pattern, field.name
        assert (field.name in schemas["PetitionCreate"]["required"]) == field.required
    reason = schemas["TransitionRequest"]["properties"]["reason"]
    assert reason["maxLength"] == fields.REASON_MAX_LENGTH
    path_parameter = openapi.document()["paths"]["/petitions/{case_number}"]["parameters"][0]
    assert path_parameter["schema"]["pattern"] == fields.CASE_NUMBER_PATTERN


def test_the_readme_lists_every_text_fields_limit():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([0-9,]+) characters", readme, re.MULTILINE))
    declared = {f.name: f"{f.max_length:,}" for f in fields.FIELDS if f.max_length is not None}
    declared |= {"reason": f"{fields.REASON_MAX_LENGTH:,}", "note": f"{fields.NOTE_MAX_LENGTH:,}"}
    assert rows == declared
