"""Imports from real spreadsheets (issue 16): labels as well as codes, US and spreadsheet
dates, spaces, Excel's byte-order mark, semicolons, .xlsx workbooks, and the template's round
trip. Each variant is accepted, or refused naming the line, the column, the value and what
was expected."""

import csv
import html
import io
from datetime import date, datetime

import pytest
from openpyxl import Workbook

from tests.api_helpers import petition_csv, petition_json, problem_of
from tests.conftest import csrf_token
from tests.helpers import count, petition_by_case_number
from tracker.errors import BulkRefused
from tracker.petitions import importing
from tracker.petitions.fields import SPREADSHEET_DATE_FORMAT
from tracker.petitions.models import EDITABLE_FIELDS, Petition

pytest_plugins = ["tests.api_fixtures"]

COLUMNS = list(petition_json())
#: The spreadsheet letter of each column of petition_csv's files.
LETTER = {name: importing.column_letter(i) for i, name in enumerate(COLUMNS, start=1)}
BORN = date(1968, 3, 14)


def one_row(**cells) -> str:
    return petition_csv(petition_json(date_of_birth=BORN.isoformat()) | cells)


def checked(content) -> tuple[list[dict], list[dict]]:
    return importing.check_rows(importing.read_file(content), today=date(2026, 1, 1))


def accepted(content) -> dict:
    [values], errors = checked(content)
    assert errors == []
    return values


def refused(content) -> list[dict]:
    _values, errors = checked(content)
    assert errors
    return errors


@pytest.mark.parametrize("name", ["kind", "date_of_birth", "custody_status"])
def test_column_letters_follow_the_file(name):
    assert importing.column_letter(COLUMNS.index(name) + 1) == LETTER[name]
    assert [importing.column_letter(n) for n in (1, 26, 27, 52, 53)] == [
        "A",
        "Z",
        "AA",
        "AZ",
        "BA",
    ]


@pytest.mark.parametrize(
    "kind",
    ["commutation", "Commutation", "COMMUTATION", "commutation of sentence", " Commutation "],
)
@pytest.mark.parametrize(
    "custody", ["in_prison", "In prison", "IN PRISON", "in-prison", "  In prison  "]
)
def test_choices_by_code_or_label_in_any_case(kind, custody):
    values = accepted(one_row(kind=kind, custody_status=custody))
    assert (values["kind"], values["custody_status"]) == ("commutation", "in_prison")


@pytest.mark.parametrize(
    "text",
    [
        "1968-03-14",
        "03/14/1968",
        "3/14/1968",
        "14/03/1968",  # only one reading is a date
        "14.03.1968",
        str((BORN - date(1899, 12, 30)).days),  # a spreadsheet serial: 24911
        "24911.0",
        "14-Mar-1968",
        "14 March 1968",
        "March 14, 1968",
        "Mar 14, 1968",
        "1968-03-14 00:00:00",
        "  1968-03-14  ",
    ],
)
def test_dates_as_spreadsheets_write_them(text):
    assert accepted(one_row(date_of_birth=text))["date_of_birth"] == BORN


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "03/04/1968",
            "Ambiguous: 03/04/1968 could be month/day or day/month. Write it as 1968-03-04 "
            "or 1968-04-03 (year-month-day).",
        ),
        ("13/13/1968", SPREADSHEET_DATE_FORMAT),
        ("1968", SPREADSHEET_DATE_FORMAT),  # a bare year is no serial
        ("03/14/68", SPREADSHEET_DATE_FORMAT),  # two-digit years are guesses
        ("1968-03-14 10:30:00", SPREADSHEET_DATE_FORMAT),
        ("the 14th", SPREADSHEET_DATE_FORMAT),
    ],
)
def test_bad_and_ambiguous_dates_are_refused_naming_line_column_and_value(text, message):
    content = petition_csv(
        petition_json(register_number="11111-111"),
        petition_json(register_number="22222-222", date_of_birth=text),
    )
    assert refused(content) == [
        {
            "line": 3,
            "field": "date_of_birth",
            "column": LETTER["date_of_birth"],
            "value": text,
            "message": message,
        }
    ]


def test_an_unknown_label_is_refused_with_the_value_found():
    assert refused(one_row(kind="Amnesty", custody_status="On the moon")) == [
        {
            "line": 2,
            "field": "kind",
            "column": "A",
            "value": "Amnesty",
            "message": "Choose pardon or commutation.",
        },
        {
            "line": 2,
            "field": "custody_status",
            "column": LETTER["custody_status"],
            "value": "On the moon",
            "message": "Choose a custody status.",
        },
    ]


def test_excel_byte_order_mark_semicolons_and_spaces():
    header = ";".join(f" {name} " for name in COLUMNS)
    cells = petition_json(
        kind="Commutation of sentence",
        custody_status="In prison",
        date_of_birth="03/14/1968",
        sentencing_court="District of Maryland, Baltimore",
    )
    line = ";".join(f"  {cells[name]}  " for name in COLUMNS)
    content = ("\ufeff" + header + "\r\n" + line + "\r\n").encode("utf-8")
    values = accepted(content)
    assert values["kind"] == "commutation"
    assert values["date_of_birth"] == BORN
    assert values["sentencing_court"] == "District of Maryland, Baltimore"
    assert values["petitioner_name"] == cells["petitioner_name"]


def test_headers_may_be_the_labels():
    labels = {"kind": "KIND", "petitioner_name": "Petitioner's full name"}
    header = ",".join(labels.get(name, name) for name in COLUMNS)
    content = header + "\n" + one_row().split("\n", 1)[1]
    assert accepted(content)["petitioner_name"] == petition_json()["petitioner_name"]


def test_comment_lines_are_skipped_and_lines_still_counted():
    body = one_row().split("\n", 1)[1]
    content = ",".join(COLUMNS) + "\n# help, for people\n" + body.replace("Jordan", "Jo")
    rows = importing.read_file(content.encode())
    assert [row.line for row in rows] == [3]


# --- .xlsx ------------------------------------------------------------------------------------


def workbook_bytes(rows: list[list]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_of(*petitions: dict) -> bytes:
    """A workbook as Excel keeps one: labels for choices, real date cells."""
    rows = [COLUMNS]
    for petition in petitions:
        rows.append([petition.get(name) for name in COLUMNS])
    return workbook_bytes(rows)


def spreadsheet_petition(number: int, **overrides) -> dict:
    return (
        petition_json(register_number=f"{40000 + number}-{number:03d}")
        | {
            "kind": "Commutation of sentence",
            "custody_status": "In prison",
            "date_of_birth": datetime(1968, 3, 14),
            "sentence_date": date(2005, 6, 1),
            "projected_release_date": datetime(2030, 1, 1),
        }
        | overrides
    )


def test_an_xlsx_workbook_is_read_like_a_csv():
    values = accepted(xlsx_of(spreadsheet_petition(1)))
    assert (values["kind"], values["custody_status"]) == ("commutation", "in_prison")
    assert (values["date_of_birth"], values["sentence_date"]) == (BORN, date(2005, 6, 1))


def test_an_xlsx_problem_names_the_sheet_row_and_column():
    content = xlsx_of(spreadsheet_petition(1), spreadsheet_petition(2, kind="Amnesty"))
    assert refused(content) == [
        {
            "line": 3,
            "field": "kind",
            "column": "A",
            "value": "Amnesty",
            "message": "Choose pardon or commutation.",
        }
    ]


def test_a_damaged_workbook_is_refused():
    with pytest.raises(BulkRefused) as caught:
        importing.read_file(b"PK\x03\x04 not really a workbook")
    [problem] = caught.value.offenders
    assert problem["line"] == 1
    assert ".xlsx" in problem["message"]


@pytest.mark.parametrize("how", ["body", "multipart"])
def test_the_api_imports_an_xlsx(api_as, how):
    api = api_as("advocate")
    content = xlsx_of(spreadsheet_petition(3), spreadsheet_petition(4))
    if how == "body":
        response = api.post(
            "/api/v1/petitions/import",
            data=content,
            headers={"Content-Type": importing.XLSX_MEDIA_TYPE},
        )
    else:
        response = api.post(
            "/api/v1/petitions/import",
            data={"file": (io.BytesIO(content), "petitions.xlsx")},
        )
    assert response.status_code == 201, response.get_json()
    [first, second] = response.get_json()["case_numbers"]
    petition = petition_by_case_number(first)
    assert (petition.kind, petition.custody_status, petition.date_of_birth) == (
        "commutation",
        "in_prison",
        BORN,
    )
    assert petition_by_case_number(second).register_number == "40004-004"


def test_the_api_names_line_column_and_value(api_as):
    api = api_as("advocate")
    content = petition_csv(petition_json(register_number="55555-001", sentence_date="06/01/2005"))
    body = problem_of(
        api.post("/api/v1/petitions/import", data=content, headers={"Content-Type": "text/csv"}),
        422,
    )
    assert body["errors"] == [
        {
            "line": 2,
            "field": "sentence_date",
            "column": LETTER["sentence_date"],
            "value": "06/01/2005",
            "message": "Ambiguous: 06/01/2005 could be month/day or day/month. Write it as "
            "2005-06-01 or 2005-01-06 (year-month-day).",
        }
    ]


def upload(client, content: bytes, filename: str):
    return client.post(
        "/petitions/import",
        data={
            "csrf_token": csrf_token(client, "/petitions/import"),
            "file": (io.BytesIO(content), filename),
        },
    )


def test_the_web_import_takes_an_xlsx_and_shows_problems_with_their_place(client, login_as):
    login_as("advocate")
    response = upload(
        client, xlsx_of(spreadsheet_petition(5, date_of_birth="03/04/1968")), "p.xlsx"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Value found" in page
    assert '<code class="text-break">03/04/1968</code>' in page
    assert "Ambiguous: 03/04/1968" in page
    before = count(Petition)
    response = upload(client, xlsx_of(spreadsheet_petition(6)), "p.xlsx")
    assert response.status_code == 302
    assert count(Petition) == before + 1


# --- the template -----------------------------------------------------------------------------


def test_the_template_round_trip(client, login_as):
    """Download the template, fill it in as a spreadsheet would (keeping the help row), and
    import it: the petitions are imported, and the help row and the example are not."""
    login_as("advocate")
    response = client.get("/petitions/import/template.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 by its BOM
    header, help_row, example = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header == list(EDITABLE_FIELDS)
    assert help_row[0].startswith("# ")
    assert len(help_row) == len(header) == len(example)
    assert "required" in help_row[header.index("petitioner_name")]
    assert "Pardon" in help_row[header.index("kind")]

    unchanged = upload(client, response.data, "petitions-template.csv")
    assert unchanged.status_code == 422
    assert importing.TEMPLATE_EXAMPLE_MESSAGE in html.unescape(unchanged.get_data(as_text=True))

    filled = dict(zip(header, example, strict=True))
    rows = [
        filled | {"petitioner_name": "Maria Example", "register_number": "61616-161"},
        filled
        | {
            "petitioner_name": "Luis Example",
            "register_number": "62626-262",
            "kind": "Commutation",
            "custody_status": "In prison",
            "date_of_birth": "03/14/1968",
        },
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerow(help_row)
    for filled_row in rows:
        writer.writerow([filled_row[name] for name in header])
    before = count(Petition)
    response = upload(client, buffer.getvalue().encode("utf-8-sig"), "filled.csv")
    assert response.status_code == 302, response.get_data(as_text=True)
    assert count(Petition) == before + 2


def test_the_template_help_follows_the_language(client, login_as):
    login_as("advocate")
    response = client.get("/petitions/import/template.csv", headers={"Accept-Language": "es"})
    assert response.status_code == 200
    [header, help_row, _example] = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    # Column names are codes in every language; the help row is the translated text (the
    # English source until a catalogue translates it).
    assert header == list(EDITABLE_FIELDS)
    assert all(help_row)


def test_the_import_page_states_the_formats_and_links_the_template(client, login_as):
    login_as("advocate")
    page = client.get("/petitions/import").get_data(as_text=True)
    assert "03/14/1968" in page
    assert "/petitions/import/template.csv" in page
    assert ".xlsx" in page
