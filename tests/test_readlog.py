"""The read log: every read path logged, append-only, sealed by digests, and readable."""

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Response
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from tests.conftest import csrf_token, on_postgres
from tests.document_helpers import make_document
from tracker import create_app, pipeline
from tracker.audit import services as audit
from tracker.audit.models import AuditEntry
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.readlog import queries
from tracker.readlog import services as readlog
from tracker.readlog.models import ReadLogEntry
from tracker.workflow import Stage

pytest_plugins = ["tests.api_fixtures"]


def reads(**where) -> list[ReadLogEntry]:
    db.session.expire_all()
    statement = select(ReadLogEntry).order_by(ReadLogEntry.id)
    for name, value in where.items():
        statement = statement.where(getattr(ReadLogEntry, name) == value)
    return list(db.session.scalars(statement))


def add_read_row(**row) -> None:
    add_reads([row], commit=False)


def add_reads(rows: list[dict], commit: bool = True) -> None:
    """Reads written straight into the table (with chosen times), as the app writes them."""
    for row in rows:
        row.setdefault("interface", "web")
        row.setdefault("kind", "case_page")
        row.setdefault("document_id", None)
        row.setdefault("reader_assigned", None if row.get("petition_id") is None else False)
        row.setdefault("ip_address", "127.0.0.1")
        row.setdefault("details", None)
        row.setdefault("petition_id", None)
    db.session.execute(insert(ReadLogEntry), rows)
    if commit:
        db.session.commit()


# --- every read path writes one entry -----------------------------------------------------------


def test_the_case_page_is_logged_with_reader_time_case_address_and_interface(
    client, login_as, make_petition
):
    reviewer = login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    before = datetime.now(UTC)
    assert client.get(f"/petitions/{petition.case_number}").status_code == 200
    [entry] = reads(petition_id=petition.id)
    assert (entry.user_id, entry.kind, entry.interface) == (reviewer.id, "case_page", "web")
    assert entry.ip_address == "127.0.0.1" and entry.document_id is None
    assert entry.reader_assigned is False  # the case is not assigned to this reviewer
    assert before - timedelta(seconds=1) <= entry.created_at <= datetime.now(UTC)


def test_a_read_of_an_assigned_case_is_marked_so(client, login_as, make_petition):
    reviewer = login_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    petition.assignee_id = reviewer.id
    db.session.commit()
    client.get(f"/petitions/{petition.case_number}")
    [entry] = reads(petition_id=petition.id)
    assert entry.reader_assigned is True


def test_a_refused_read_logs_nothing(client, login_as, make_petition):
    login_as("advocate")
    petition = make_petition()  # another organization's
    assert client.get(f"/petitions/{petition.case_number}").status_code == 404
    assert reads(petition_id=petition.id) == []


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/api/v1/petitions/{}", "case_api"), ("/api/v1/petitions/{}/history", "history_api")],
)
def test_api_reads_of_a_case_and_its_history_are_logged(api_as, make_petition, path, kind):
    api = api_as("advocate")
    petition = make_petition(advocate=api.user)
    assert api.get(path.format(petition.case_number)).status_code == 200
    [entry] = reads(petition_id=petition.id)
    assert (entry.user_id, entry.kind, entry.interface) == (api.user.id, kind, "api")


@pytest.mark.parametrize("assigned", [False, True])
def test_a_staff_read_of_a_history_is_logged_with_whether_the_case_is_theirs(
    api_as, make_petition, assigned
):
    """Staff's history is read with the case's keys in one statement: the read log still
    names the case and whether it is the reader's."""
    api = api_as("reviewer")
    petition = make_petition(stage=Stage.UNDER_REVIEW)
    if assigned:
        petition_services.assign_petition(petition, api.user, api.user)
        db.session.commit()
    assert api.get(f"/api/v1/petitions/{petition.case_number}/history").status_code == 200
    [entry] = reads(petition_id=petition.id)
    assert (entry.user_id, entry.kind, entry.reader_assigned) == (
        api.user.id,
        "history_api",
        assigned,
    )


def test_staff_asking_for_the_history_of_no_case_get_a_404_and_log_nothing(api_as):
    api = api_as("supervisor")
    assert api.get("/api/v1/petitions/CP-2026-999999/history").status_code == 404
    assert api.get("/api/v1/petitions/not-a-case/history").status_code == 404
    assert reads() == []


def test_an_api_read_of_another_organizations_case_logs_nothing(api_as, make_petition):
    api = api_as("advocate")
    petition = make_petition()
    assert api.get(f"/api/v1/petitions/{petition.case_number}").status_code == 404
    assert reads() == []


def test_the_audit_export_is_logged(client, login_as):
    supervisor = login_as("supervisor")
    response = client.post(
        "/audit/export.csv", data={"csrf_token": csrf_token(client), "action": "login"}
    )
    assert response.status_code == 200
    response.get_data()
    [entry] = reads(kind="audit_export")
    assert entry.user_id == supervisor.id and entry.interface == "web"
    assert entry.details == {"format": "csv", "filters": {"action": "login"}}


def test_the_bulk_confirmation_list_logs_each_case_listed(client, login_as, make_petition):
    reviewer = login_as("reviewer")
    petitions = [make_petition(stage=Stage.UNDER_REVIEW) for _ in range(3)]
    response = client.post(
        "/petitions/bulk",
        data={
            "csrf_token": csrf_token(client),
            "action": "grant",
            "relief": "commutation_time_served",
            "reason": "Rehabilitated.",
            "case_numbers": [p.case_number for p in petitions],
        },
    )
    assert response.status_code == 200
    logged = reads(kind="bulk_confirmation")
    assert sorted(e.petition_id for e in logged) == sorted(p.id for p in petitions)
    assert {e.user_id for e in logged} == {reviewer.id}


def test_the_access_log_export_is_itself_logged_and_lists_the_reads(
    client, login_as, make_petition
):
    supervisor = login_as("supervisor")
    petition = make_petition()
    client.get(f"/petitions/{petition.case_number}")
    response = client.post(
        "/access-log/export.csv",
        data={
            "csrf_token": csrf_token(client),
            "case_number": petition.case_number,
        },
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="access-log.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["user"], r["kind"], r["case_number"], r["interface"]) for r in rows] == [
        (supervisor.email, "case_page", petition.case_number, "web")
    ]
    [export] = reads(kind="access_log_export")
    assert export.user_id == supervisor.id
    assert export.details == {"filters": {"case_number": petition.case_number}}


def test_the_document_download_hook_logs_the_document_and_its_case(app, make_user, make_petition):
    """tracker.documents calls record_read("document_download", petition, document=…)."""
    reader = make_user("reviewer")
    petition = make_petition()
    document = make_document(petition, reader)
    with app.test_request_context(f"/documents/{document.id}/content"):
        readlog.record_read("document_download", document=document, reader=reader)
        pipeline.finish_request(Response(status=200))
    with app.test_request_context(f"/documents/{document.id}/content"):  # refused: not logged
        readlog.record_read("document_download", petition, document=document, reader=reader)
        pipeline.finish_request(Response(status=404))
    [entry] = reads(kind="document_download")
    assert (entry.document_id, entry.petition_id, entry.user_id) == (
        document.id,
        petition.id,
        reader.id,
    )


def test_a_read_must_name_a_document_that_exists(app_ctx, make_user):
    """read_log_entry.document_id is a foreign key to document (migration 0012)."""
    reader = make_user("reviewer")
    with pytest.raises(IntegrityError), db.session.begin_nested():
        add_read_row(user_id=reader.id, kind="document_download", document_id=987654)


def test_outside_a_request_a_read_is_written_at_once_as_from_the_command_line(
    app_ctx, make_user, make_petition
):
    reader, petition = make_user("supervisor"), make_petition()
    readlog.record_read("case_export", petition, reader=reader, details={"rows": 1})
    [entry] = reads(kind="case_export")
    assert (entry.interface, entry.user_id, entry.petition_id) == ("cli", reader.id, petition.id)
    assert entry.details == {"rows": 1}


def test_a_read_is_written_at_the_end_of_the_request(app, client, login_as, make_petition):
    """The read log's insert comes after every read of the page (``pipeline.write_with_read``:
    in the page's transaction on PostgreSQL, in a short one of its own on SQLite)."""
    login_as("reviewer")
    petition = make_petition()
    sent = []

    def listener(connection, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        client.get(f"/petitions/{petition.case_number}")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    inserts = [i for i, s in enumerate(sent) if s.startswith("INSERT INTO read_log_entry")]
    assert len(inserts) == 1
    # The page's reads (the case, its history) all came before the insert.
    assert all(not s.startswith("SELECT") for s in sent[inserts[0] + 1 :])


# --- append-only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE read_log_entry SET kind = 'case_api' WHERE id = :id",
        "DELETE FROM read_log_entry WHERE id = :id",
    ],
    ids=["update", "delete"],
)
def test_database_refuses_changes_to_read_log_entries(make_user, statement):
    reader = make_user("reviewer")
    add_reads([{"created_at": datetime.now(UTC), "user_id": reader.id}])
    [entry] = reads()
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement), {"id": entry.id})
    assert [e.kind for e in reads()] == ["case_page"]


@pytest.mark.skipif(not on_postgres(), reason="TRUNCATE exists on PostgreSQL only")
def test_database_refuses_truncating_the_read_log(make_user):
    add_reads([{"created_at": datetime.now(UTC), "user_id": make_user("reviewer").id}])
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text("TRUNCATE read_log_entry"))
    assert len(reads()) == 1


# --- tamper evidence: daily digests in the audit chain ------------------------------------------


def tampering():
    if on_postgres():
        db.session.execute(text("ALTER TABLE read_log_entry DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER read_log_entry_no_update"))
        db.session.execute(text("DROP TRIGGER read_log_entry_no_delete"))


DAY = date(2026, 11, 20)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@pytest.fixture
def sealed_days(app_ctx, make_user, make_petition):
    """Reads on the 20th and 22nd (none on the 21st), sealed on the 23rd."""
    reader = make_user("reviewer")
    petition = make_petition()
    add_reads(
        [
            {"created_at": noon(DAY), "user_id": reader.id, "petition_id": petition.id},
            {
                "created_at": noon(DAY) + timedelta(hours=1),
                "user_id": reader.id,
                "kind": "audit_export",
                "details": {"format": "csv"},
            },
            {
                "created_at": noon(DAY + timedelta(days=2)),
                "user_id": reader.id,
                "petition_id": petition.id,
                "interface": "api",
                "kind": "case_api",
            },
        ]
    )
    sealed = readlog.digest_days(now=datetime(2026, 11, 23, 0, 30, tzinfo=UTC))
    db.session.commit()
    return sealed


def test_each_finished_day_is_sealed_once_in_the_audit_chain(sealed_days):
    assert [(d.day, d.entries) for d in sealed_days] == [
        (DAY, 2),
        (DAY + timedelta(days=1), 0),
        (DAY + timedelta(days=2), 1),
    ]
    digests = list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "read_log_digested")
            .order_by(AuditEntry.id)
        )
    )
    assert [e.details["day"] for e in digests] == ["2026-11-20", "2026-11-21", "2026-11-22"]
    assert audit.verify_chain().intact
    # Run again the same night: nothing more; the 23rd is sealed only after its end + grace.
    assert readlog.digest_days(now=datetime(2026, 11, 23, 0, 40, tzinfo=UTC)) == []
    assert readlog.digest_days(now=datetime(2026, 11, 24, 0, 5, tzinfo=UTC)) == []
    [today] = readlog.digest_days(now=datetime(2026, 11, 24, 0, 10, tzinfo=UTC))
    assert today.day == date(2026, 11, 23)
    check = readlog.verify_digests()
    assert check.intact and check.days_checked == 4, check.message


def test_an_altered_read_is_detected(sealed_days):
    tampering()
    db.session.execute(
        text(
            "UPDATE read_log_entry SET ip_address = '10.0.0.9' WHERE id = "
            "(SELECT min(id) FROM read_log_entry)"
        )
    )
    check = readlog.verify_digests()
    assert not check.intact and check.message.startswith("2026-11-20: the read log does not match")


def test_a_deleted_read_is_detected(sealed_days):
    tampering()
    db.session.execute(text("DELETE FROM read_log_entry WHERE kind = 'case_api'"))
    check = readlog.verify_digests()
    assert (
        not check.intact
        and "2026-11-22" in check.message
        and "1 reads sealed, 0 found" in (check.message)
    )


def test_a_read_slipped_into_a_sealed_day_is_detected(sealed_days, make_user):
    add_reads([{"created_at": noon(DAY + timedelta(days=1)), "user_id": make_user("reviewer").id}])
    check = readlog.verify_digests()
    assert not check.intact and check.message.startswith("2026-11-21")


def test_a_read_dated_before_the_first_sealed_day_is_detected(sealed_days, make_user):
    add_reads([{"created_at": noon(DAY - timedelta(days=3)), "user_id": make_user("reviewer").id}])
    check = readlog.verify_digests()
    assert not check.intact and "before 2026-11-20" in check.message


def test_the_commands_seal_and_verify(runner, sealed_days, make_user):
    result = runner.invoke(args=["readlog", "verify"])
    assert result.exit_code == 0 and "Intact: 3 sealed days" in result.output
    add_reads([{"created_at": noon(DAY), "user_id": make_user("reviewer").id}])
    result = runner.invoke(args=["readlog", "verify"])
    assert result.exit_code == 1 and "2026-11-20" in result.output
    result = runner.invoke(args=["readlog", "digest"])
    assert result.exit_code == 0 and "days sealed" in result.output


# --- what supervisors see -----------------------------------------------------------------------


def test_supervisors_see_who_has_read_the_case(client, login_as, make_user, make_petition):
    petition = make_petition()
    reader = make_user("reviewer", name="Rita Reader")
    add_reads(
        [{"created_at": datetime.now(UTC), "user_id": reader.id, "petition_id": petition.id}] * 2
    )
    login_as("supervisor")
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Who has read this case" in page and "Rita Reader" in page
    assert "2 reads logged" in page


@pytest.mark.parametrize("role", ["reviewer", "advocate"])
def test_others_do_not_see_the_readers(client, login_as, make_petition, role):
    user = login_as(role)
    petition = make_petition(advocate=user if role == "advocate" else None)
    page = client.get(f"/petitions/{petition.case_number}").get_data(as_text=True)
    assert "Who has read this case" not in page


def test_the_access_log_filters_and_pages_by_keyset(
    app, client, login_as, make_user, make_petition
):
    supervisor = login_as("supervisor")
    ana, ben = make_user("reviewer"), make_user("reviewer")
    first, second = make_petition(), make_petition()
    monday = datetime(2026, 11, 16, 15, tzinfo=UTC)  # 10:00 in New York
    add_reads(
        [
            {"created_at": monday, "user_id": ana.id, "petition_id": first.id},
            {
                "created_at": monday + timedelta(days=1),
                "user_id": ana.id,
                "petition_id": second.id,
                "interface": "api",
                "kind": "case_api",
            },
            {"created_at": monday + timedelta(days=2), "user_id": ben.id, "petition_id": first.id},
            {"created_at": monday + timedelta(days=3), "user_id": ana.id, "petition_id": first.id},
        ]
    )
    ids = [e.id for e in reads()]

    def listed(**args):
        page = client.get("/access-log/", query_string=args).get_data(as_text=True)
        return [int(n) for n in re.findall(r"<tr>\s*<td>(\d+)</td>", page)]

    assert listed(user=ana.email) == [ids[3], ids[1], ids[0]]
    assert listed(case_number=first.case_number) == [ids[3], ids[2], ids[0]]
    assert listed(interface="api") == [ids[1]]
    assert listed(date_from="2026-11-17", date_to="2026-11-18") == [ids[2], ids[1]]
    assert listed(user=ana.email, case_number=first.case_number, date_to="2026-11-16") == [ids[0]]
    assert listed(user="nobody@example.org") == []
    app.config["READ_LOG_ENTRIES_PER_PAGE"] = 2
    try:
        page = client.get("/access-log/").get_data(as_text=True)
        assert f"before={ids[2]}" in page
        assert listed(before=ids[2]) == [ids[1], ids[0]]
    finally:
        app.config["READ_LOG_ENTRIES_PER_PAGE"] = 50
    assert supervisor  # the page is the supervisor's


def _median(values: list[int]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def test_the_unusual_access_report_matches_an_independent_count(
    app, client, login_as, make_user, make_petition
):
    login_as("supervisor")
    reviewers = [make_user("reviewer") for _ in range(4)]
    supervisor = make_user("supervisor")
    petitions = [make_petition() for _ in range(3)]
    day = date(2026, 11, 18)
    at = datetime(2026, 11, 18, 17, tzinfo=UTC)  # noon in New York
    reads_per_reviewer = [1, 2, 3, 20]  # median 2.5: the fourth exceeds 3 × 2.5
    rows = []
    for reviewer, n in zip(reviewers, reads_per_reviewer, strict=True):
        for k in range(n):
            petition = petitions[k % 3]
            rows.append(
                {
                    "created_at": at,
                    "user_id": reviewer.id,
                    "petition_id": petition.id,
                    "reader_assigned": k % 3 == 0,
                }
            )
    rows.append({"created_at": at, "user_id": supervisor.id, "petition_id": petitions[0].id})
    # Not counted: another day, and a read naming no case (an export).
    rows.append(
        {
            "created_at": at + timedelta(days=1),
            "user_id": reviewers[0].id,
            "petition_id": petitions[0].id,
        }
    )
    rows.append({"created_at": at, "user_id": reviewers[0].id, "kind": "audit_export"})
    add_reads(rows)

    # Independently: per user, that day's reads naming a case; per role, the median.
    start, end = datetime(2026, 11, 18, 5, tzinfo=UTC), datetime(2026, 11, 19, 5, tzinfo=UTC)
    that_day = [r for r in rows if start <= r["created_at"] < end and r["petition_id"]]
    per_user: dict[int, int] = {}
    for r in that_day:
        per_user[r["user_id"]] = per_user.get(r["user_id"], 0) + 1
    role_of = {u.id: u.role for u in [*reviewers, supervisor]}
    medians = {
        role: _median([n for uid, n in per_user.items() if role_of[uid] == role])
        for role in set(role_of.values())
    }
    factor = app.config["READ_LOG_UNUSUAL_FACTOR"]
    expected_heavy = {uid: n for uid, n in per_user.items() if n > factor * medians[role_of[uid]]}
    expected_outside: dict[tuple[int, int], int] = {}
    for r in that_day:
        if role_of[r["user_id"]] == "reviewer" and r["reader_assigned"] is False:
            key = (r["user_id"], r["petition_id"])
            expected_outside[key] = expected_outside.get(key, 0) + 1

    report = queries.unusual_access(day, factor)
    assert report.medians == medians
    assert (
        {h.user.id: h.reads for h in report.heavy_readers}
        == expected_heavy
        == {reviewers[3].id: 20}
    )
    assert {(o.user.id, o.petition.id): o.reads for o in report.outside_assignments} == (
        expected_outside
    )
    page = client.get("/access-log/unusual", query_string={"day": "2026-11-18"})
    text_ = page.get_data(as_text=True)
    shown_heavy = {
        int(uid): int(n)
        for uid, n in re.findall(r'id="heavy-(\d+)">.*?<td class="reads">(\d+)</td>', text_, re.S)
    }
    shown_outside = {
        (int(uid), int(pid)): int(n)
        for uid, pid, n in re.findall(
            r'id="outside-(\d+)-(\d+)">.*?<td class="reads">(\d+)</td>', text_, re.S
        )
    }
    assert shown_heavy == expected_heavy
    assert shown_outside == expected_outside


def test_production_refuses_read_logging_off():
    with pytest.raises(RuntimeError, match="READ_LOG_ENABLED"):
        create_app(
            "production",
            SECRET_KEY="x" * 40,
            READ_LOG_ENABLED=False,
            SQLALCHEMY_DATABASE_URI="sqlite://",
        )


def test_no_read_is_counted_twice_in_the_readers_total(app_ctx, make_user, make_petition):
    petition = make_petition()
    users = [make_user("reviewer") for _ in range(3)]
    add_reads(
        [
            {
                "created_at": datetime.now(UTC) + timedelta(seconds=i),
                "user_id": u.id,
                "petition_id": petition.id,
            }
            for i, u in enumerate(users * 2)
        ]
    )
    readers, total = queries.readers_of(petition, limit=2)
    assert total == 6 and [r.reads for r in readers] == [2, 2]
    assert [r.user.id for r in readers] == [users[2].id, users[1].id]
    assert db.session.scalar(select(func.count()).select_from(ReadLogEntry)) == 6
