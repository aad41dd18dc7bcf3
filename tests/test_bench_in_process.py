"""bench.in_process: each ``--leave-out`` takes out its part of a page's work, and only while
it is in force; a page that does not answer 200 stops the measurement (issue 15)."""

import pytest
from sqlalchemy import func, select

from bench import in_process, without_templates
from tests.conftest import form_token
from tracker.extensions import db
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Stage


def _reads_of(petition) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(ReadLogEntry.petition_id == petition.id))


@pytest.fixture
def reviewed_case(login_as, make_petition):
    """A case under review and its page's path, a reviewer signed in."""
    login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    return petition, f"/petitions/{petition.case_number}"


def test_leaving_out_the_read_log_logs_no_read_and_only_while_in_force(client, reviewed_case):
    petition, page = reviewed_case

    with in_process.left_out("read_log"):
        assert client.get(page).status_code == 200
    assert _reads_of(petition) == 0

    assert client.get(page).status_code == 200
    assert _reads_of(petition) == 1


def test_leaving_out_templates_answers_the_fixed_text_and_still_logs_the_read(
    client, reviewed_case
):
    petition, page = reviewed_case

    with in_process.left_out("templates"):
        shown = client.get(page).get_data(as_text=True)
    assert shown == without_templates.PLACEHOLDER
    assert petition.case_number in client.get(page).get_data(as_text=True)
    assert _reads_of(petition) == 2


def test_leaving_out_the_sign_in_csrf_sends_no_token_and_no_cookie(app):
    fresh = app.test_client(use_cookies=False)

    with in_process.left_out("login_csrf"):
        response = fresh.get("/login")
    assert form_token(response.get_data(as_text=True)) == "t" * 91
    assert "Set-Cookie" not in response.headers  # no secret to keep for the token

    response = fresh.get("/login")
    assert form_token(response.get_data(as_text=True)) != "t" * 91
    assert "Set-Cookie" in response.headers


def test_cpu_per_view_measures_and_stops_at_a_page_that_is_not_200(client, reviewed_case):
    _petition, page = reviewed_case

    cost = in_process.cpu_per_view(client, [page] * 3, {})

    assert cost > 0
    with pytest.raises(SystemExit, match="404"):
        in_process.cpu_per_view(client, ["/petitions/CP-1900-0000000"], {})


def test_an_unknown_part_is_refused():
    with pytest.raises(ValueError, match="templates, read_log, login_csrf"):
        in_process.left_out("session")


@pytest.mark.parametrize(
    ("pages", "views", "rounds", "leave_out", "refused"),
    [
        (["case", "queue_x"], 200, 5, None, "no such page queue_x"),
        (["case"], 0, 5, None, "--views: from 1 to 2000"),
        (["case"], 2001, 5, None, "--views: from 1 to 2000"),
        (["case"], 200, 0, None, "--rounds: at least 1"),
        (["case", "login"], 200, 5, "templates", "leave out login"),
        (["case"], 200, 5, "login_csrf", "only the sign-in page"),
        (["login"], 200, 5, "read_log", "reads no case"),
    ],
)
def test_arguments_that_cannot_measure_are_refused(pages, views, rounds, leave_out, refused):
    assert refused in in_process.refusal(pages, views, rounds, leave_out)


def test_arguments_that_can_measure_are_taken():
    assert in_process.refusal(["case", "login"], 2000, 1, "read_log") is None
    assert in_process.refusal(["login"], 1, 5, "login_csrf") is None
