"""The audit log: append-only, tamper-evident, complete and readable."""

import csv
import io
import json
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from tests.conftest import csrf_token, on_postgres
from tracker.audit import services as audit
from tracker.audit.models import AuditEntry, AuditVerification
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.workflow import Stage


def last_entry() -> AuditEntry:
    return db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))


def entry_ids() -> list[int]:
    return list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


@contextmanager
def tampering():
    """Switch the append-only triggers off inside the test's transaction (rolled back later).

    SQLite: the triggers are dropped; PostgreSQL: disabled, as the superuser the tests use.
    """
    if on_postgres():
        db.session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entry_no_update"))
        db.session.execute(text("DROP TRIGGER audit_entry_no_delete"))
    yield


@pytest.fixture
def history(make_petition, make_user):
    """A handful of entries of every kind."""
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    supervisor = make_user("supervisor")
    petition_services.add_note(petition, supervisor, "Checked the PSR.", "internal")
    petition_services.apply_transition(petition, supervisor, "grant", "Meets the criteria.")
    db.session.commit()
    return petition


# --- append-only -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET action = 'grant' WHERE id = :id",
        "DELETE FROM audit_entry WHERE id = :id",
    ],
    ids=["update", "delete"],
)
def test_database_refuses_changes_to_audit_entries(history, statement):
    entry_id = last_entry().id
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement), {"id": entry_id})
    assert db.session.get(AuditEntry, entry_id) is not None


@pytest.mark.skipif(not on_postgres(), reason="TRUNCATE exists on PostgreSQL only")
def test_database_refuses_truncate(history):
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("TRUNCATE audit_entry"))
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) > 0


@pytest.mark.skipif(not on_postgres(), reason="roles and privileges are PostgreSQL's")
def test_app_role_cannot_change_or_unprotect_the_audit_log(history):
    """The production app role holds INSERT and SELECT on the audit table, nothing more."""
    db.session.execute(text("CREATE ROLE tracker_app_test NOLOGIN"))
    db.session.execute(text("GRANT INSERT, SELECT ON audit_entry TO tracker_app_test"))
    entry_id = last_entry().id
    db.session.execute(text("SET LOCAL ROLE tracker_app_test"))
    assert db.session.scalar(text("SELECT count(*) FROM audit_entry")) > 0
    refused = {
        "update": "UPDATE audit_entry SET action = 'grant' WHERE id = :id",
        "delete": "DELETE FROM audit_entry WHERE id = :id",
        "truncate": "TRUNCATE audit_entry",
        "disable trigger": "ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_no_update_delete",
    }
    for name, statement in refused.items():
        with (
            pytest.raises(DatabaseError, match="permission denied|must be owner"),
            db.session.begin_nested(),
        ):
            db.session.execute(text(statement), {"id": entry_id})
        assert name  # each statement above was refused
    db.session.execute(text("RESET ROLE"))


# --- tamper evidence --------------------------------------------------------------------------


def test_chain_verifies_when_intact(history):
    result = audit.verify_chain()
    assert result.intact, result.message
    assert result.entries_checked == len(entry_ids())


def test_changed_content_is_detected(history):
    target = entry_ids()[2]
    with tampering():
        db.session.execute(
            text("UPDATE audit_entry SET reason = 'forged' WHERE id = :id"), {"id": target}
        )
    result = audit.verify_chain()
    assert not result.intact
    assert result.first_bad_entry_id == target
    assert f"Entry {target}: its content does not match" in result.message


def test_changed_hash_breaks_the_next_link(history):
    """Rewriting one entry with a fresh, valid hash still breaks the link of the next."""
    ids = entry_ids()
    target = ids[1]
    with tampering():
        row = db.session.get(AuditEntry, target)
        forged = {name: getattr(row, name) for name in audit.HASHED_COLUMNS} | {"reason": "forged"}
        db.session.execute(
            text("UPDATE audit_entry SET reason = 'forged', entry_hash = :h WHERE id = :id"),
            {"h": audit.entry_hash(forged), "id": target},
        )
    db.session.expire_all()
    result = audit.verify_chain()
    assert not result.intact
    assert result.first_bad_entry_id == ids[2]
    assert "link does not match" in result.message


def test_deleted_entry_is_detected(history):
    ids = entry_ids()
    with tampering():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": ids[3]})
    result = audit.verify_chain()
    assert not result.intact
    assert result.first_bad_entry_id == ids[4]
    assert f"expected id {ids[3]})" in result.message


def test_deleted_last_entry_is_detected(history):
    ids = entry_ids()
    with tampering():
        db.session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": ids[-1]})
    result = audit.verify_chain()
    assert not result.intact
    assert "head names entry" in result.message


def test_reordered_entries_are_detected(history):
    first, second = entry_ids()[2:4]
    with tampering():
        for old, new in ((first, -1), (second, first), (-1, second)):
            db.session.execute(
                text("UPDATE audit_entry SET id = :new WHERE id = :old"), {"old": old, "new": new}
            )
    result = audit.verify_chain()
    assert not result.intact
    assert result.first_bad_entry_id == first


def test_verify_command_names_the_first_bad_entry(history, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Intact" in result.output
    target = entry_ids()[1]
    with tampering():
        db.session.execute(
            text("UPDATE audit_entry SET action = 'deny' WHERE id = :id"), {"id": target}
        )
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"Entry {target}" in result.output


def test_supervisor_runs_the_check_and_sees_its_result(history, client, login_as):
    login_as("supervisor")
    page = client.get("/audit/").get_data(as_text=True)
    assert "Never verified" in page
    response = client.post("/audit/verify", data={"csrf_token": csrf_token(client, "/audit/")})
    assert response.status_code == 302
    page = client.get("/audit/").get_data(as_text=True)
    assert "intact" in page
    db.session.expire_all()
    check = db.session.scalar(select(AuditVerification).order_by(AuditVerification.id.desc()))
    assert check.intact and check.scope == "recent" and check.entries_checked > 0


# --- complete --------------------------------------------------------------------------------


def test_security_events_carry_client_ip_and_user_agent(client, make_user):
    user = make_user("reviewer")
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": user.email, "password": "wrong password!!", "csrf_token": token},
        headers={"User-Agent": "pytest-agent/1.0"},
    )
    db.session.expire_all()
    entry = last_entry()
    assert entry.action == "login_failed"
    assert entry.category == "security"
    assert entry.ip_address == "127.0.0.1"
    assert entry.user_agent == "pytest-agent/1.0"
    assert entry.details["email"] == user.email
    assert "wrong password" not in json.dumps(entry.details)


def test_unknown_user_login_failure_is_recorded_without_password(client):
    client.post(
        "/login",
        data={
            "email": "nobody@example.org",
            "password": "s3cret-guess-123",
            "csrf_token": csrf_token(client, "/login"),
        },
    )
    db.session.expire_all()
    entry = last_entry()
    assert entry.action == "login_failed"
    assert entry.subject_user_id is None
    assert "s3cret-guess-123" not in json.dumps([entry.details, entry.changes, entry.reason])


def test_forbidden_action_is_a_security_event_not_a_case_change(client, login_as, make_petition):
    login_as("reviewer")
    petition = make_petition(stage=Stage.GRANTED)
    before = last_entry().id
    response = client.post(
        f"/petitions/{petition.case_number}/transition",
        data={
            "transition-action": "reopen",
            "transition-reason": "x",
            "transition-version": petition.version,
            "transition-csrf_token": csrf_token(client, f"/petitions/{petition.case_number}"),
        },
    )
    assert response.status_code == 403
    db.session.expire_all()
    new = list(db.session.scalars(select(AuditEntry).where(AuditEntry.id > before)))
    assert [e.action for e in new] == ["access_refused"]
    assert new[0].category == "security" and new[0].petition_id is None
    assert new[0].details["status"] == 403


# --- readable --------------------------------------------------------------------------------


def test_global_log_filters_combine(client, login_as, make_petition, make_user):
    supervisor = login_as("supervisor")
    reviewer = make_user("reviewer")
    first = make_petition(stage=Stage.UNDER_REVIEW)
    second = make_petition(stage=Stage.UNDER_REVIEW)
    petition_services.apply_transition(first, reviewer, "grant", "Yes.")
    petition_services.apply_transition(second, reviewer, "deny", "No.")
    petition_services.apply_transition(second, supervisor, "reopen", "New facts.")
    db.session.commit()

    def rows(**args):
        page = client.get("/audit/", query_string=args).get_data(as_text=True)
        return page.count('<td class="text-nowrap">')  # one per entry row

    assert rows(actor=reviewer.email) == 2
    assert rows(actor=reviewer.email, action="grant") == 1
    assert rows(actor=reviewer.email, case_number=second.case_number) == 1
    assert rows(case_number=second.case_number, action="reopen") == 1
    assert rows(actor="nobody@example.org") == 0
    assert rows(action="deny", date_from="2000-01-01", date_to="2000-01-02") == 0


def test_global_log_keyset_pagination(client, login_as, app):
    login_as("supervisor")
    for number in range(7):
        audit.record_security_event("login_failed", details={"email": f"x{number}@example.org"})
    db.session.commit()
    app.config["AUDIT_ENTRIES_PER_PAGE"] = 3
    try:
        seen, url = [], "/audit/?action=login_failed"
        while url:
            page = client.get(url).get_data(as_text=True)
            seen += [
                line
                for line in page.split("\n")
                if "@example.org</div>" in line or "email: x" in line
            ]
            marker = 'href="/audit/?before='
            url = None
            if marker in page:
                start = page.index(marker) + len('href="')
                url = page[start : page.index('"', start)].replace("&amp;", "&")
        assert len([s for s in seen if "email: x" in s]) == 7
    finally:
        app.config["AUDIT_ENTRIES_PER_PAGE"] = 50


def test_case_timeline_shows_field_diffs(client, login_as, make_petition):
    reviewer = login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW, sentence="240 months")
    petition_services.update_petition(
        petition, reviewer, {"sentence": "120 months"}, petition.version
    )
    db.session.commit()
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Sentence imposed:" in page
    assert "<del>240 months</del> → <ins>120 months</ins>" in page


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_export_is_streamed_filtered_and_audited(client, login_as, history, file_format):
    supervisor = login_as("supervisor")
    response = client.post(
        f"/audit/export.{file_format}",
        data={"case_number": history.case_number, "csrf_token": csrf_token(client, "/audit/")},
    )
    assert response.status_code == 200
    assert response.is_streamed
    body = response.get_data(as_text=True)
    if file_format == "csv":
        records = list(csv.DictReader(io.StringIO(body)))
    else:
        records = [json.loads(line) for line in body.splitlines()]
    assert {r["case_number"] for r in records} == {history.case_number}
    assert [r["action"] for r in records][:2] == ["grant", "note_internal"]
    db.session.expire_all()
    exported = last_entry()
    assert exported.action == "audit_exported" and exported.actor_id == supervisor.id
    assert exported.details == {
        "format": file_format,
        "filters": {"case_number": history.case_number},
    }


def test_csv_export_neutralizes_formulas(client, login_as, make_petition, make_user):
    login_as("supervisor")
    reviewer = make_user("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    petition_services.apply_transition(petition, reviewer, "grant", '=HYPERLINK("x")')
    db.session.commit()
    body = client.post(
        "/audit/export.csv", data={"action": "grant", "csrf_token": csrf_token(client, "/audit/")}
    ).get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_an_unknown_action_is_refused_so_the_filter_lists_every_action(app_ctx):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record_security_event("made_up_event")
