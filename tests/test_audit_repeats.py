"""Repeated identical security events from one client: one entry, then one with the count.

The log stays append-only and hash-chained: the repeats are counted in a mutable side table
(security_event_window) and the count is appended once the window is over.
"""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import PASSWORD, csrf_token
from tests.helpers import audit_entries, count
from tracker.audit import services as audit
from tracker.audit.models import SecurityEventWindow
from tracker.database import utcnow
from tracker.extensions import db


def probe(client, petition, times):
    for _ in range(times):
        assert client.get(f"/petitions/{petition.case_number}").status_code == 404


def end_every_window(app):
    db.session.execute(
        update(SecurityEventWindow).values(
            opened_at=utcnow() - app.config["AUDIT_REPEAT_WINDOW"] - timedelta(seconds=1)
        )
    )
    db.session.commit()


def test_probes_of_another_organizations_case_make_one_entry_and_a_count(
    app, client, login_as, make_petition, runner
):
    petition = make_petition()
    prober = login_as("advocate")  # of another organization
    probe(client, petition, 10)

    [first] = audit_entries(action="access_refused")
    assert (first.actor_id, first.details["case_number"]) == (prober.id, petition.case_number)
    window = db.session.scalar(select(SecurityEventWindow))
    assert (window.first_entry_id, window.repeats) == (first.id, 9)

    end_every_window(app)
    result = runner.invoke(args=["audit", "close-windows"])
    assert result.exit_code == 0 and "1 finished window" in result.output
    first_again, summary = audit_entries(action="access_refused")
    assert first_again.id == first.id
    assert summary.actor_id == prober.id and summary.ip_address == first.ip_address
    assert summary.details["repeated"] == 9
    assert summary.details["first_entry_id"] == first.id
    assert summary.details["case_number"] == petition.case_number
    assert count(SecurityEventWindow) == 0
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "Intact" in verified.output


@pytest.mark.parametrize("batch", [audit.CLOSE_BATCH, 0], ids=["in the batch", "beyond it"])
def test_the_next_event_closes_a_finished_window_then_opens_a_new_one(
    app, client, login_as, make_petition, monkeypatch, batch
):
    monkeypatch.setattr(audit, "CLOSE_BATCH", batch)
    petition = make_petition()
    login_as("advocate")
    probe(client, petition, 3)
    end_every_window(app)
    probe(client, petition, 2)

    entries = audit_entries(action="access_refused")
    assert [e.details.get("repeated") for e in entries] == [None, 2, None]
    assert db.session.scalar(select(SecurityEventWindow.repeats)) == 1
    assert audit.verify_chain().intact


def test_failed_logins_are_collapsed_per_email_and_address(app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_THROTTLE_AFTER", 100)  # only the collapsing here
    attempts = [("192.0.2.1", "nobody@example.org")] * 6 + [
        ("192.0.2.2", "nobody@example.org"),
        ("192.0.2.1", "someone-else@example.org"),
    ]
    for address, email in attempts:
        browser = app.test_client()
        browser.environ_base["REMOTE_ADDR"] = address
        response = browser.post(
            "/login",
            data={
                "email": email,
                "password": "wrong password 123",
                "csrf_token": csrf_token(browser, "/login"),
            },
        )
        assert response.status_code == 200

    entries = audit_entries(action="login_failed")
    assert [(e.ip_address, e.details["email"]) for e in entries] == [
        ("192.0.2.1", "nobody@example.org"),
        ("192.0.2.2", "nobody@example.org"),
        ("192.0.2.1", "someone-else@example.org"),
    ]
    repeats = db.session.scalars(
        select(SecurityEventWindow.repeats).order_by(SecurityEventWindow.id)
    ).all()
    assert repeats == [5, 0, 0]


def test_any_later_security_event_closes_finished_windows(
    app, client, login_as, make_petition, make_user, auth
):
    petition = make_petition()
    login_as("advocate")
    probe(client, petition, 4)
    auth.logout()
    end_every_window(app)
    someone = make_user("advocate")
    assert auth.login(someone, PASSWORD).destination is not None  # a login, from anyone

    summary = audit_entries(action="access_refused")[-1]
    assert summary.details["repeated"] == 3
    assert count(SecurityEventWindow) == 0
    assert audit.verify_chain().intact
