"""Notifications: who hears what, the outbox's atomicity, SMTP delivery to a real server on
127.0.0.1 (aiosmtpd in the test process), retries, preferences, the bell, the list, the API."""

import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from tests.conftest import csrf_token
from tests.helpers import count, page_text
from tracker.audit import services as audit
from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.cli import deliver_due
from tracker.database import utcnow
from tracker.extensions import db
from tracker.notifications import delivery
from tracker.notifications import services as notifications
from tracker.notifications.kinds import KINDS
from tracker.notifications.models import EmailOptOut, Notification
from tracker.petitions import services as petition_services
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]

BASE_URL = "https://tracker.example.gov"
#: Case data that must never leave in an e-mail.
SENTINELS = {
    "petitioner_name": "Zebulon Sentinelperson",
    "offenses": "Sentinel-offense: wire fraud in the Sentinelville scheme",
    "grounds": "Sentinel-grounds: rehabilitation",
}
SENTINEL_REASON = "Sentinel-reason mentioning Zebulon Sentinelperson's record"
SENTINEL_NOTE = "Sentinel-note: his Sentinelville conviction"
SENTINEL_WORDS = ("Sentinel", "Zebulon", "wire fraud")


# --- a real SMTP server on loopback -------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every accepted message; can refuse for a while, or for good."""

    def __init__(self):
        self.messages = []
        self.temporary_failure = False
        self.refuse_recipients = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_recipients:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.temporary_failure:
            return "451 4.3.0 Try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": controller.port,
        "APP_BASE_URL": BASE_URL,
        "MAIL_DEFAULT_SENDER": "Clemency Tracker <no-reply@tracker.example.gov>",
    }
    saved = {name: app.config[name] for name in settings}
    app.config.update(settings)
    yield inbox
    app.config.update(saved)
    controller.stop()


def deliver(app) -> dict:
    mailer = delivery.SmtpMailer(app.config)
    try:
        return deliver_due(mailer)
    finally:
        mailer.close()


def notifications_of(user) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


@pytest.fixture
def case(make_user, make_petition):
    """A case under review with its advocate, an assigned reviewer and a supervisor."""
    advocate = make_user("advocate", name="Advocate Ann")
    reviewer = make_user("reviewer", name="Reviewer Rae")
    supervisor = make_user("supervisor", name="Supervisor Sam")
    petition = make_petition(Stage.UNDER_REVIEW, advocate=advocate, **SENTINELS)
    petition_services.assign_petition(petition, supervisor, reviewer)
    db.session.commit()
    return petition, advocate, reviewer, supervisor


# --- who hears what ---------------------------------------------------------------------------


def kinds_heard(user) -> list[str]:
    return [n.kind for n in notifications_of(user)]


def test_a_decision_is_told_to_the_advocate_only(case):
    petition, advocate, reviewer, supervisor = case
    petition_services.apply_transition(petition, reviewer, "grant", SENTINEL_REASON)
    db.session.commit()
    assert kinds_heard(advocate) == ["grant"]
    assert kinds_heard(reviewer) == ["assign"]  # the assignment only: not their own grant
    assert kinds_heard(supervisor) == []


def test_an_assignment_is_told_to_the_assignee_and_taking_a_case_to_nobody(
    make_user, make_petition
):
    supervisor, reviewer = make_user("supervisor"), make_user("reviewer")
    petition = make_petition(Stage.UNDER_REVIEW)
    petition_services.assign_petition(petition, supervisor, reviewer)
    other = make_petition(Stage.UNDER_REVIEW)
    petition_services.assign_petition(other, reviewer, reviewer)  # takes it: no news to them
    db.session.commit()
    assert [(n.kind, n.petition_id) for n in notifications_of(reviewer)] == [
        ("assign", petition.id)
    ]


def test_notes_and_returns_reach_the_advocate_internal_notes_do_not(case):
    petition, advocate, reviewer, _ = case
    petition_services.add_note(petition, reviewer, "Staff only.", "internal")
    petition_services.add_note(petition, reviewer, SENTINEL_NOTE, "shared")
    petition_services.apply_transition(petition, reviewer, "return_for_information", "More.")
    db.session.commit()
    assert kinds_heard(advocate) == ["note_shared", "return_for_information"]


def test_documents_and_reminders_follow_the_table(case):
    """Actions other parts append (documents, reminders) notify by the table alone; a
    reminder only the person it names."""
    petition, advocate, reviewer, supervisor = case
    audit.record(
        "document_uploaded", actor=supervisor, petition=petition, details={"visibility": "shared"}
    )
    audit.record(
        "document_uploaded", actor=supervisor, petition=petition, details={"visibility": "internal"}
    )
    audit.record(
        "document_uploaded", actor=advocate, petition=petition, details={"visibility": "shared"}
    )
    audit.record("provide_information", actor=advocate, petition=petition)
    audit.record(
        "reminder",
        petition=petition,
        subject_user=advocate,
        details={"kind": "information_request"},
    )
    audit.record(
        "reminder", petition=petition, subject_user=supervisor, details={"kind": "pending_case"}
    )
    db.session.commit()
    assert kinds_heard(advocate) == ["document_uploaded", "reminder"]
    assert kinds_heard(reviewer) == ["assign", "document_uploaded", "provide_information"]
    assert kinds_heard(supervisor) == ["reminder"]


def test_every_kind_of_the_table_is_a_known_audit_action():
    from tracker.audit.models import KNOWN_ACTIONS

    assert set(KINDS) <= set(KNOWN_ACTIONS)


def test_a_deactivated_advocate_is_told_nothing(case):
    petition, advocate, reviewer, supervisor = case
    auth_services.set_user_active(supervisor, advocate, False)
    petition_services.apply_transition(petition, reviewer, "deny", "No.")
    db.session.commit()
    assert kinds_heard(advocate) == []


def test_a_bulk_decision_notifies_every_advocate_in_one_statement(
    make_user, make_petition, count_statements
):
    reviewer = make_user("reviewer")
    petitions = [make_petition(Stage.UNDER_REVIEW) for _ in range(12)]
    selection = {p.case_number: p.version for p in petitions}
    with count_statements() as statements:
        petition_services.decide_petitions(reviewer, "grant", "Merit.", selection)
    db.session.commit()
    outbox_inserts = [s for s in statements if s.startswith("INSERT INTO notification")]
    assert len(outbox_inserts) == 1
    for petition in petitions:
        assert kinds_heard(petition.advocate) == ["grant"]


# --- the outbox is the change's transaction ----------------------------------------------------


def test_a_rolled_back_change_notifies_no_one(app, case, smtp_server):
    petition, advocate, reviewer, _ = case
    before = count(Notification)
    petition_services.apply_transition(petition, reviewer, "grant", "Merit.")
    assert count(Notification) == before + 1  # written with the change …
    db.session.rollback()
    assert count(Notification) == before  # … and gone with it
    assert kinds_heard(advocate) == []
    deliver(app)
    assert [m["To"] for m in smtp_server.messages] == [reviewer.email]  # the assignment only


def test_a_request_that_fails_after_the_change_sends_nothing(
    app, client, auth, case, smtp_server, monkeypatch
):
    petition, advocate, reviewer, _ = case
    deliver(app)  # the assignment's e-mail, sent before this test's request
    smtp_server.messages.clear()
    real_add_note = petition_services.add_note

    def add_note_then_fail(*args, **kwargs):
        real_add_note(*args, **kwargs)
        db.session.flush()
        raise RuntimeError("a failure after the note and its notification were written")

    monkeypatch.setattr(petition_services, "add_note", add_note_then_fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        auth.login(reviewer)
        response = client.post(
            f"/petitions/{petition.case_number}/notes",
            data={
                "csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
                "note-body": SENTINEL_NOTE,
                "note-visibility": "shared",
            },
        )
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    assert kinds_heard(advocate) == []
    assert deliver(app)["sent"] == 0
    assert smtp_server.messages == []


# --- e-mail -----------------------------------------------------------------------------------


def test_the_advocate_receives_the_decision_by_email(app, case, smtp_server):
    petition, advocate, reviewer, _ = case
    petition_services.apply_transition(petition, reviewer, "grant", SENTINEL_REASON)
    db.session.commit()
    outcomes = deliver(app)
    assert outcomes == {"sent": 2, "retry": 0, "failed": 0, "skipped": 0}
    message = next(m for m in smtp_server.messages if m["To"] == advocate.email)
    assert message["From"] == "Clemency Tracker <no-reply@tracker.example.gov>"
    assert petition.case_number in message["Subject"] and "granted" in message["Subject"]
    body = message.get_content()
    assert f"Case {petition.case_number} was granted." in body
    assert f"{BASE_URL}/petitions/{petition.case_number}" in body
    raw = message.as_string()
    for word in SENTINEL_WORDS:
        assert word not in raw
    assert all(n.email_status == "sent" for n in notifications_of(advocate))
    assert deliver(app)["sent"] == 0  # nothing is sent twice


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_template_carries_a_name_or_a_record(app, case, kind):
    """Every kind's e-mail and in-app text, for a case full of sentinel data."""
    petition, advocate, reviewer, _ = case
    petition_services.add_note(petition, reviewer, SENTINEL_NOTE, "shared")
    notification = Notification(id=10**6, kind=kind, user_id=advocate.id, petition_id=petition.id)
    with app.app_context():  # as the deliverer: no request
        message = delivery.build_email(notification, petition.case_number, advocate)
    text = message.as_string() + notifications.message_text(kind, petition.case_number)
    assert petition.case_number in text
    for word in (*SENTINEL_WORDS, petition.register_number, advocate.name, reviewer.name):
        assert word not in text, f"{word!r} in the {kind} e-mail"


def test_a_temporary_failure_is_retried_with_backoff_then_marked_failed(
    app, client, auth, case, smtp_server, make_user
):
    petition, advocate, reviewer, _ = case
    db.session.execute(update(Notification).values(email_status="sent"))  # the assignment
    petition_services.apply_transition(petition, reviewer, "deny", "No.")
    db.session.commit()
    smtp_server.temporary_failure = True
    base = app.config["NOTIFICATION_RETRY_BASE"]

    started = utcnow()
    assert deliver(app)["retry"] == 1
    (first,) = [n for n in notifications_of(advocate)]
    assert first.email_status == "pending" and first.email_attempts == 1
    assert first.next_attempt_at >= started + base
    assert "451" in first.last_error
    assert deliver(app)["retry"] == 0  # not due yet

    delays = []
    for attempt in range(2, app.config["NOTIFICATION_MAX_ATTEMPTS"] + 1):
        due = utcnow()
        db.session.execute(
            update(Notification).where(Notification.id == first.id).values(next_attempt_at=due)
        )
        db.session.commit()
        deliver(app)
        (row,) = notifications_of(advocate)
        assert row.email_attempts == attempt
        if row.email_status == "pending":
            delays.append(row.next_attempt_at - due)
    assert row.email_status == "failed"
    assert delays[0] >= 2 * base and delays[1] >= 4 * base  # doubling
    assert max(delays) <= app.config["NOTIFICATION_RETRY_MAX"] + timedelta(seconds=5)

    supervisor = make_user("supervisor")
    auth.login(supervisor)
    page = page_text(client.get("/notifications/failed"))
    assert petition.case_number in page and advocate.email in page and "451" in page
    smtp_server.temporary_failure = False
    response = client.post(
        f"/notifications/{row.id}/retry",
        data={"csrf_token": csrf_token(client, "/notifications/failed")},
    )
    assert response.status_code == 302
    assert deliver(app)["sent"] == 1
    assert smtp_server.messages[0]["To"] == advocate.email


def test_a_refused_recipient_fails_at_once(app, case, smtp_server):
    petition, advocate, reviewer, _ = case
    smtp_server.refuse_recipients = True
    outcomes = deliver(app)  # the reviewer's assignment
    assert outcomes["failed"] == 1
    (row,) = notifications_of(reviewer)
    assert row.email_status == "failed" and row.email_attempts == 1


def test_the_failed_page_is_for_supervisors(client, login_as):
    login_as("reviewer")
    assert client.get("/notifications/failed").status_code == 403


def test_the_cli_delivers(app, runner, case, smtp_server):
    result = runner.invoke(args=["notifications", "deliver"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert [m["To"] for m in smtp_server.messages] == [case[2].email]


# --- preferences ------------------------------------------------------------------------------


def test_an_advocate_turns_decision_emails_off_and_still_sees_them_in_the_app(
    app, client, auth, case, smtp_server
):
    petition, advocate, reviewer, _ = case
    auth.login(advocate)
    page = page_text(client.get("/account/notifications"))
    assert "A decision: granted" in page and "A case assigned to you" not in page
    wanted = {kind: "on" for kind in ("deny", "note_shared", "return_for_information")}
    response = client.post(
        "/account/notifications",
        data={
            "csrf_token": csrf_token(client, "/account/notifications"),
            **wanted,
        },
    )
    assert response.status_code == 302
    assert {o.kind for o in db.session.scalars(select(EmailOptOut))} >= {"grant", "close"}
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "notification_preferences_changed")
    ).one()
    assert entry.actor_id == advocate.id and "grant" in entry.details["email_off"]

    petition_services.apply_transition(petition, reviewer, "grant", "Merit.")
    db.session.commit()
    assert deliver(app)["skipped"] == 1
    assert [m["To"] for m in smtp_server.messages] == [reviewer.email]
    assert "was granted" in page_text(client.get("/notifications"))


def test_preferences_are_on_by_default(app_ctx, make_user):
    advocate, reviewer = make_user("advocate"), make_user("reviewer")
    assert set(notifications.email_preferences(advocate).values()) == {True}
    assert "assign" in notifications.email_preferences(reviewer)
    assert "grant" not in notifications.email_preferences(reviewer)


# --- in the app ---------------------------------------------------------------------------------


def test_the_bell_counts_and_mark_read_clears_it(client, auth, case):
    petition, advocate, reviewer, _ = case
    petition_services.apply_transition(petition, reviewer, "grant", "Merit.")
    petition_services.add_note(petition, reviewer, "Congratulations.", "shared")
    db.session.commit()
    auth.login(advocate)
    home = page_text(client.get("/petitions"))
    assert 'id="unread-count">2<' in home and "Notifications, 2 unread" in home
    page = page_text(client.get("/notifications"))
    assert f"Case {petition.case_number} was granted." in page
    first = notifications_of(advocate)[0]
    token = csrf_token(client, "/notifications")
    assert client.post(f"/notifications/{first.id}/read").status_code == 400  # no CSRF
    response = client.post(f"/notifications/{first.id}/read", data={"csrf_token": token})
    assert response.status_code == 302
    assert 'id="unread-count">1<' in page_text(client.get("/petitions"))
    client.post("/notifications/read", data={"csrf_token": token})
    assert 'id="unread-count">0<' in page_text(client.get("/petitions"))


def test_another_users_notification_cannot_be_marked(client, login_as, case):
    petition, advocate, reviewer, _ = case
    (assignment,) = notifications_of(reviewer)
    login_as("advocate")
    response = client.post(
        f"/notifications/{assignment.id}/read",
        data={"csrf_token": csrf_token(client, "/notifications")},
    )
    assert response.status_code == 404
    assert notifications_of(reviewer)[0].read_at is None


def test_the_bell_costs_no_statement_of_its_own(client, auth, case, count_statements):
    """A page view counts the unread notifications in the query that loads the session."""
    petition, advocate, *_ = case
    auth.login(advocate)
    with count_statements() as statements:
        client.get("/petitions")
    bell = [s for s in statements if "FROM notification" in s]
    assert len(bell) == 1 and bell[0].startswith("SELECT user_session.")


def test_the_api_lists_notifications(client, issue_token, case):
    petition, advocate, reviewer, _ = case
    petition_services.add_note(petition, reviewer, "A note for the advocate.", "shared")
    petition_services.apply_transition(petition, reviewer, "deny", "Reason.")
    db.session.commit()
    headers = {"Authorization": f"Bearer {issue_token(advocate)}"}
    body = client.get("/api/v1/notifications?limit=1", headers=headers).get_json()
    assert body["unread_count"] == 2
    (item,) = body["items"]
    assert item["kind"] == "deny" and item["case_number"] == petition.case_number
    assert item["message"] == f"Case {petition.case_number} was denied."
    assert item["url"] == f"/api/v1/petitions/{petition.case_number}"
    assert item["read_at"] is None
    older = client.get(f"/api/v1/notifications?cursor={body['next_cursor']}", headers=headers)
    assert [i["kind"] for i in older.get_json()["items"]] == ["note_shared"]
    assert older.get_json()["next_cursor"] is None
    assert client.get("/api/v1/notifications?unread=maybe", headers=headers).status_code == 422
    assert client.get("/api/v1/notifications?cursor=x", headers=headers).status_code == 400
    # Beyond what a database integer holds: 400, not PostgreSQL's "integer out of range".
    assert client.get("/api/v1/notifications?cursor=3000000000", headers=headers).status_code == 400
    assert client.get("/api/v1/notifications").status_code == 401
