"""Forms that guide (issue 16): refused fields say so to assistive technology, an error
summary links to them, the new-petition form starts without a contradiction, the kind's
rules hold on the server, the queue has a select-all box, and the menu fits the role."""

import re
from datetime import date

import pytest

from tests.conftest import csrf_token, petition_values
from tests.helpers import petition_form
from tracker.petitions.fields import EDITABLE_FIELDS
from tracker.petitions.validation import (
    PARDON_NEEDS_RELEASE_DATE,
    PARDON_WHILE_CONFINED,
    petition_errors,
)


def submit(client, **overrides):
    data = petition_form(**overrides) | {"csrf_token": csrf_token(client, "/petitions/new")}
    return client.post("/petitions/new", data={k: v for k, v in data.items() if v is not None})


def tag_of(page: str, element_id: str) -> str:
    match = re.search(rf'<[a-z]+ [^>]*\bid="{re.escape(element_id)}"[^>]*>', page)
    assert match, f"no element #{element_id}"
    return match.group(0)


def test_a_refused_field_is_marked_and_described_by_its_message(client, login_as):
    login_as("advocate")
    response = submit(client, petitioner_name="", date_of_birth="")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name in ("petitioner_name", "date_of_birth"):
        tag = tag_of(page, name)
        assert 'aria-invalid="true"' in tag
        described = re.search(r'aria-describedby="([^"]+)"', tag).group(1).split()
        assert f"{name}-error" in described
        assert "This field is required." in page.split(f'id="{name}-error"', 1)[1][:200]
    # A valid field is not marked.
    assert "aria-invalid" not in tag_of(page, "sentencing_court")


def test_the_error_summary_takes_the_focus_and_links_to_each_field(client, login_as):
    login_as("advocate")
    page = submit(client, petitioner_name="", sentence="").get_data(as_text=True)
    summary = tag_of(page, "error-summary")
    assert "autofocus" in summary and 'tabindex="-1"' in summary
    body = page.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'href="#([a-z_]+)"', body) == ["petitioner_name", "sentence"]
    assert 'src="/static/forms.js"' in page


def test_no_error_summary_before_a_submit(client, login_as):
    login_as("advocate")
    page = client.get("/petitions/new").get_data(as_text=True)
    assert "error-summary" not in page
    assert "aria-invalid" not in page


def test_the_new_petition_form_starts_as_a_commutation_in_prison(client, login_as):
    login_as("advocate")
    page = client.get("/petitions/new").get_data(as_text=True)
    assert re.search(r'<option selected value="commutation">', page)
    assert re.search(r'<option selected value="in_prison">', page)
    assert not petition_errors(petition_values(kind="commutation", custody_status="in_prison"))


def test_the_form_marks_the_fields_the_kind_decides(client, login_as):
    login_as("advocate")
    page = client.get("/petitions/new").get_data(as_text=True)
    assert 'data-kind-only="commutation"' in page.split('id="projected_release_date"')[0][-400:]
    assert 'data-kind-required="pardon"' in page.split('id="release_date"')[0][-400:]
    assert 'data-kind-required="commutation"' in page.split('id="register_number"')[0][-400:]
    assert 'data-pardon-excludes="home_confinement in_prison"' in page
    assert 'type="date"' in tag_of(page, "date_of_birth")
    assert "for example 2024-12-31" in page


PARDON = {"kind": "pardon", "register_number": None, "projected_release_date": None}


@pytest.mark.parametrize(
    "facts, errors",
    [
        ({"custody_status": "in_prison"}, {"custody_status": PARDON_WHILE_CONFINED}),
        ({"custody_status": "home_confinement"}, {"custody_status": PARDON_WHILE_CONFINED}),
        ({"custody_status": "supervised_release"}, {"release_date": PARDON_NEEDS_RELEASE_DATE}),
        (
            {"custody_status": "released", "custody_start_date": date(2005, 6, 1)},
            {"release_date": PARDON_NEEDS_RELEASE_DATE},
        ),
        ({"custody_status": "released"}, {}),  # no confinement recorded: nothing to give
        ({"custody_status": "supervised_release", "release_date": date(2015, 1, 1)}, {}),
    ],
)
def test_the_kind_rules_hold_on_the_server(facts, errors):
    values = {name: None for name in EDITABLE_FIELDS} | petition_values(**PARDON, **facts)
    assert petition_errors(values, today=date(2026, 1, 1)) == errors


def test_the_web_form_refuses_a_pardon_in_prison(client, login_as):
    login_as("advocate")
    response = submit(client, **PARDON, custody_status="in_prison")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in tag_of(page, "custody_status")
    assert "A pardon is for someone no longer confined" in page


def test_the_queue_offers_staff_a_select_all_box(client, login_as, make_petition):
    make_petition()
    login_as("reviewer")
    page = client.get("/petitions").get_data(as_text=True)
    box = tag_of(page, "select-all")
    assert 'data-select-all="case_numbers"' in box
    assert 'aria-label="Select every case on this page"' in box
    assert "data-select-all-control hidden" in page  # shown by forms.js, which drives it


def test_the_queue_folds_its_filters_and_stacks_its_rows_on_small_screens(
    client, login_as, make_petition
):
    make_petition()
    login_as("reviewer")
    page = client.get("/petitions?kind=commutation").get_data(as_text=True)
    assert 'data-bs-target="#queue-filters"' in page
    assert "Filters (1 active)" in page
    assert 'class="collapse d-md-block" id="queue-filters"' in page
    assert "table-stack" in page


def test_advocates_see_no_staff_tools_in_the_menu(client, login_as):
    login_as("advocate")
    nav = client.get("/petitions").get_data(as_text=True).split("</nav>")[0]
    for staff_tool in ("API tokens", "Audit log", "Access log", "Users", "My cases"):
        assert staff_tool not in nav
    assert 'href="/account"' in nav
