"""The printable case summary (issue 14, part 4): the print stylesheet, the PDF (a logged read,
another organization's case a 404), and a clear 503 when WeasyPrint cannot load."""

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.petitions import summary
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Stage


@pytest.fixture
def decided_case(make_petition, make_user, make_organization):
    organization = make_organization()
    advocate = make_user("advocate", organization=organization)
    return make_petition(Stage.GRANTED, advocate=advocate), advocate


def test_the_print_stylesheet_hides_navigation_and_forms(client):
    with client.get("/static/tracker.css") as response:
        css = response.get_data(as_text=True)
    print_rules = css[css.index("@media print") :]
    for selector in ("nav", "form", ".btn", ".no-print"):
        assert selector in print_rules.split("{")[1]


def test_the_case_page_links_the_pdf_and_marks_its_actions_not_for_print(
    client, decided_case, auth
):
    petition, advocate = decided_case
    auth.login(advocate)
    html = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert f'href="/petitions/{petition.case_number}/summary.pdf"' in html


def test_the_pdf_is_a_logged_read_of_the_case(client, decided_case, auth, app_ctx):
    petition, advocate = decided_case
    auth.login(advocate)
    response = client.get(f"/petitions/{petition.case_number}/summary.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert "attachment" in response.headers["Content-Disposition"]
    reads = db.session.scalars(
        select(ReadLogEntry).where(
            ReadLogEntry.petition_id == petition.id, ReadLogEntry.kind == "case_export"
        )
    ).all()
    assert [(r.user_id, r.details) for r in reads] == [
        (advocate.id, {"format": "pdf", "view": "summary"})
    ]


def test_the_pdf_carries_the_facts_history_and_decision(client, decided_case, auth, monkeypatch):
    petition, advocate = decided_case
    drawn = []
    monkeypatch.setattr(summary, "render_pdf", lambda html: drawn.append(html) or b"%PDF-1.7")
    auth.login(advocate)
    assert client.get(f"/petitions/{petition.case_number}/summary.pdf").status_code == 200
    (html,) = drawn
    for text in (petition.petitioner_name, "Decision", "History", petition.relief_label):
        assert str(text) in html
    assert "<form" not in html and "<nav" not in html and "<script" not in html


def test_another_organizations_case_is_a_404(client, decided_case, login_as):
    petition, _advocate = decided_case
    login_as("advocate")
    assert client.get(f"/petitions/{petition.case_number}/summary.pdf").status_code == 404


def test_without_weasyprint_the_pdf_is_a_503_and_the_page_says_why(
    client, decided_case, auth, monkeypatch
):
    petition, advocate = decided_case
    monkeypatch.setattr(
        summary, "unavailable_reason", lambda: "WeasyPrint cannot load on this server (no Pango)."
    )
    auth.login(advocate)
    response = client.get(f"/petitions/{petition.case_number}/summary.pdf")
    assert response.status_code == 503
    assert "no Pango" in response.get_data(as_text=True)
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert 'id="pdf-unavailable"' in page and "no Pango" in page
    assert "summary.pdf" not in page
