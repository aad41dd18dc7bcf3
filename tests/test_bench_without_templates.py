"""bench.without_templates: pages answer a fixed text without their templates, and do the
rest of their work as before (the benchmark's ceiling for a cheaper template, issue 15)."""

import flask.templating
from sqlalchemy import select

from bench import without_templates
from tracker.extensions import db
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Stage


def test_a_case_page_answers_the_fixed_text_and_still_logs_its_read(
    client, login_as, make_petition, monkeypatch
):
    reviewer = login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    shown = client.get(f"/petitions/{petition.case_number}")
    assert petition.case_number in shown.get_data(as_text=True)  # rendered, before the patch
    # As create_app does, undone after the test (monkeypatch keeps Flask's own helper).
    monkeypatch.setattr(flask.templating, "_render", without_templates.not_rendered)

    response = client.get(f"/petitions/{petition.case_number}")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == without_templates.PLACEHOLDER
    db.session.expire_all()
    readers = db.session.scalars(
        select(ReadLogEntry.user_id).where(ReadLogEntry.petition_id == petition.id)
    ).all()
    assert readers == [reviewer.id, reviewer.id]  # the page's read logged both times
