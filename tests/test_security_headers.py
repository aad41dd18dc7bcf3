"""Headers, configuration guards, body limits, error pages and logs."""

import logging
import re

import pytest

from config import INSECURE_DEV_SECRET_KEY
from tests.conftest import PASSWORD, csrf_token
from tracker import create_app
from tracker.auth.services import create_organization, create_user
from tracker.extensions import db
from tracker.workflow import Stage


def test_html_pages_carry_a_strict_policy(client, login_as, make_petition):
    user = login_as("advocate")
    petition = make_petition(organization=user.organization)
    response = client.get(f"/petitions/{petition.case_number}")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # not outside production


def test_pages_have_no_inline_script_or_style(client, login_as, make_petition):
    user = login_as("supervisor")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    for path in ("/petitions", f"/petitions/{petition.case_number}", "/audit/", "/admin/users"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and "<script " not in body.replace("<script src=", "")
        assert "style=" not in body and "<style" not in body
    del user


def test_static_files_are_served_locally(client):
    body = client.get("/login").get_data(as_text=True)
    addresses = re.findall(r'(?:src|href)="([^"]*)"', body)
    assert addresses and all(a.startswith(("/", "#", "data:")) for a in addresses), addresses
    with client.get("/static/tracker.css") as response:
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "debug", "message"),
    [
        (None, False, "SECRET_KEY"),
        (INSECURE_DEV_SECRET_KEY, False, "SECRET_KEY"),
        ("too-short-key", False, "SECRET_KEY"),
        ("k" * 40, True, "DEBUG"),
    ],
)
def test_production_refuses_unsafe_settings(monkeypatch, key, debug, message):
    if key is None:
        monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match=message):
        create_app("production", SECRET_KEY=key, DEBUG=debug)


def test_production_sends_hsts_and_secure_cookies(tmp_path):
    app = create_app(
        "production",
        SECRET_KEY="p" * 48,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.test_client().get("/static/tracker.css") as response:
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_oversized_body_gets_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/login", data={"email": "x" * (limit + 10), "password": "y"})
    assert response.status_code == 413


def test_error_pages_are_generic(app, client, login_as, monkeypatch):
    login_as("reviewer")

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals: Jordan Q. Example")

    monkeypatch.setattr("tracker.petitions.queries.web_queue_page", explode)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get("/petitions")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "secret internals" not in body
    assert "Nothing was saved" in body


@pytest.mark.committed
def test_case_data_never_reaches_the_log(committed_app, caplog):
    """A sentinel petitioner name goes through every path; no log record may contain it."""
    sentinel = "Zyxwv Sentinelname"
    caplog.set_level(logging.DEBUG)
    # As an operator debugging the database would: SQL statements logged, never their values.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with committed_app.app_context():
        organizations = [create_organization(None, f"Log Org {n}") for n in (1, 2)]
        emails = []
        for number, organization in enumerate(organizations):
            user = create_user(
                None,
                email=f"log{number}@example.org",
                name="Log",
                role="advocate",
                password=PASSWORD,
                organization=organization,
            )
            emails.append(user.email)
        db.session.commit()
    client = committed_app.test_client()

    def login(email):
        client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client, "/login")},
        )

    login(emails[0])
    token = csrf_token(client, "/petitions/new")
    form = {
        "kind": "commutation",
        "petitioner_name": sentinel,
        "register_number": "bad",
        "date_of_birth": "1970-01-01",
        "offenses": sentinel,
        "sentencing_court": "D. Md.",
        "sentence": "10 years",
        "sentence_date": "2000-01-01",
        "custody_status": "in_prison",
        "grounds": sentinel,
        "version": "0",
        "csrf_token": token,
    }
    assert client.post("/petitions/new", data=form).status_code == 422
    response = client.post("/petitions/new", data=form | {"register_number": "12345-678"})
    assert response.status_code == 302
    case_path = response.headers["Location"]
    assert sentinel in client.get(case_path).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, case_path)})
    login(emails[1])
    assert client.get(case_path).status_code == 404
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "INSERT INTO petition" in logged, "SQL was not logged: the check would be empty"
    assert sentinel not in logged


@pytest.mark.parametrize(
    "path", ["/petitions?q=a%00b", "/petitions/CP-2026-%00", "/audit/?actor=x%00"]
)
def test_nul_characters_are_a_clear_400(client, login_as, path):
    login_as("supervisor")
    response = client.get(path)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_nul_in_a_posted_note_is_a_400_and_changes_nothing(client, login_as, make_petition):
    login_as("reviewer")
    petition = make_petition()
    response = client.post(
        f"/petitions/{petition.case_number}/notes",
        data={
            "note-body": "a\x00b",
            "note-visibility": "internal",
            "note-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
        },
    )
    assert response.status_code == 400
    db.session.expire_all()
    assert petition.notes == []


@pytest.mark.parametrize(
    "query",
    [
        "stage=received&stage=a%00",
        "q=a&q=b%00",
        "kind=pardon&a%00=1",
    ],
    ids=["a later value of a repeated filter", "a later search", "a parameter's name"],
)
def test_nul_anywhere_in_the_query_string_is_a_400(client, login_as, query):
    login_as("supervisor")
    response = client.get(f"/petitions?{query}")
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)


def test_nul_in_a_later_posted_value_is_a_400_and_changes_nothing(client, login_as, make_petition):
    login_as("reviewer")
    petitions = [make_petition(), make_petition()]
    response = client.post(
        "/petitions/bulk",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "case_numbers": [petitions[0].case_number, petitions[1].case_number + "\x00"],
            "action": "start_review",
        },
    )
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    db.session.expire_all()
    assert [db.session.get(type(p), p.id).stage for p in petitions] == ["received", "received"]


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/audit/?before={HUGE}", 200),
        ("/audit/?date_to=9999-12-31", 200),
        (f"/petitions?after={HUGE}", 400),
        # No such person or organization: refused naming the filter, not ignored.
        (f"/petitions?assignee={HUGE}", 422),
        (f"/petitions?organization={HUGE}", 422),
        (f"/admin/users/{HUGE}", 404),
        (f"/account/tokens/{HUGE}/revoke", 404),
    ],
)
def test_out_of_range_numbers_are_not_a_500(client, login_as, path, status):
    login_as("supervisor")
    method = client.post if path.endswith("/revoke") else client.get
    kwargs = (
        {"data": {"csrf_token": csrf_token(client, "/account/tokens")}}
        if (method == client.post)
        else {}
    )
    assert method(path, **kwargs).status_code == status


def test_control_characters_in_the_user_agent_are_dropped(client, make_user):
    user = make_user("advocate")
    response = client.post(
        "/login",
        data={
            "email": user.email,
            "password": "wrong password 12",
            "csrf_token": csrf_token(client, "/login"),
        },
        headers={"User-Agent": "evil\x00agent\x07/1.0"},
    )
    assert response.status_code == 200
    db.session.expire_all()
    from sqlalchemy import select

    from tracker.audit.models import AuditEntry

    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    assert entry.user_agent == "evilagent/1.0"


def test_a_server_database_needs_an_explicit_configuration(monkeypatch):
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://tracker@db.internal/tracker")
    with pytest.raises(RuntimeError, match="TRACKER_CONFIG is not set"):
        create_app()
