"""The migrations are the schema: up, down, up again, and no drift from the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from tests.conftest import POSTGRES_URL, fresh_postgres_database
from tests.conftest import testing_app as new_app
from tracker.extensions import db

pytestmark = pytest.mark.committed

APP_TABLES = {
    "organization",
    "user",
    "petition",
    "note",
    "audit_entry",
    "audit_chain_head",
    "audit_verification",
    "case_number_counter",
}


@pytest.fixture
def empty_app(tmp_path):
    if POSTGRES_URL:
        with fresh_postgres_database("tracker_migrations") as url:
            app = new_app(url)
            yield app
            with app.app_context():
                db.engine.dispose()
        return
    app = new_app(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    yield app
    with app.app_context():
        db.engine.dispose()


def schema_drift(app) -> list:
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda obj, name, type_, *a: (
                    name not in ("ix_petition_name_trgm", "ix_petition_search_trgm")
                    and not (type_ == "table" and name.startswith("petition_search"))
                ),
            },
        )
        return compare_metadata(context, db.metadata)


def tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def test_upgrade_downgrade_upgrade_without_drift(empty_app):
    with empty_app.app_context():
        upgrade()
    assert tables(empty_app) >= APP_TABLES
    assert schema_drift(empty_app) == []

    with empty_app.app_context():
        downgrade(revision="base")
    assert tables(empty_app) & APP_TABLES == set()

    with empty_app.app_context():
        upgrade()
    assert tables(empty_app) >= APP_TABLES
    assert schema_drift(empty_app) == []
    result = empty_app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_upgrade_keeps_existing_rows(empty_app):
    """0003 adds NOT NULL columns to user: rows written under 0002 must survive the upgrade."""
    from sqlalchemy import text

    with empty_app.app_context():
        upgrade(revision="0002")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    'INSERT INTO "user" (email, name, role, password_hash, active, '
                    "must_change_password, created_at) VALUES "
                    "('old@example.org', 'Old', 'reviewer', 'x', true, false, "
                    "'2026-01-01 00:00:00')"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT email, second_factor_failures, second_factor_blocked_until, "
                    "totp_secret "
                    'FROM "user"'
                )
            ).one()
    assert tuple(row) == ("old@example.org", 0, None, None)


def test_0009_carries_petitions_forward_with_their_petitioner(empty_app):
    """0009 adds the federal forms' facts (nullable) and the petitioner key, computed for the
    petitions written under 0008: by register number, else by birth date and name."""
    from sqlalchemy import text

    with empty_app.app_context():
        upgrade(revision="0008")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organization (name, active, created_at) "
                    "VALUES ('Old Org', true, '2026-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    'INSERT INTO "user" (email, name, role, password_hash, active, '
                    "must_change_password, created_at, organization_id, second_factor_failures) "
                    "SELECT 'adv@example.org', 'Adv', 'advocate', 'x', true, false, "
                    "'2026-01-01 00:00:00', id, 0 FROM organization"
                )
            )
            for number, (kind, register, name) in enumerate(
                [("commutation", "'12345-678'", "Old One"), ("pardon", "NULL", "  Old   TWO ")],
                start=1,
            ):
                connection.execute(
                    text(
                        "INSERT INTO petition (case_number, kind, stage, petitioner_name, "
                        "register_number, date_of_birth, offenses, sentencing_court, sentence, "
                        "sentence_date, custody_status, grounds, organization_id, advocate_id, "
                        "version, created_at, updated_at) "
                        f"SELECT 'CP-2026-00000{number}', '{kind}', 'received', '{name}', "
                        f"{register}, "
                        "'1970-01-02', 'x', 'D. Md.', '1 year', '2000-01-01', 'released', 'y', "
                        "organization_id, id, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00' "
                        'FROM "user"'
                    )
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT case_number, petitioner_key, statutes, fine_amount, waiver_requested "
                    "FROM petition ORDER BY case_number"
                )
            ).all()
    assert [tuple(row) for row in rows] == [
        ("CP-2026-000001", "R:12345-678", None, None, None),
        ("CP-2026-000002", "N:1970-01-02:old two", None, None, None),
    ]


def test_0010_backfills_the_clocks_from_the_audit_history(empty_app):
    """A case submitted on Jan 5 and taken into review on Feb 1, written under 0005, is
    received on Jan 5 and in its stage since Feb 1 after 0010; a case with no history keeps
    its creation time for both."""
    from sqlalchemy import text

    with empty_app.app_context():
        upgrade(revision="0005")
        with db.engine.begin() as connection:
            run = connection.execute
            run(
                text(
                    "INSERT INTO organization (id, name, active, created_at) "
                    "VALUES (1, 'Org', true, '2026-01-01 00:00:00')"
                )
            )
            run(
                text(
                    'INSERT INTO "user" (id, email, name, role, password_hash, active, '
                    "must_change_password, created_at, organization_id, second_factor_failures) "
                    "VALUES (1, 'a@example.org', 'A', 'advocate', 'x', true, false, "
                    "'2026-01-01 00:00:00', 1, 0)"
                )
            )
            for petition_id, created in ((1, "2026-01-05 12:00:00"), (2, "2026-01-09 12:00:00")):
                run(
                    text(
                        "INSERT INTO petition (id, case_number, kind, stage, petitioner_name, "
                        "date_of_birth, offenses, sentencing_court, sentence, sentence_date, "
                        "custody_status, grounds, organization_id, advocate_id, version, "
                        "created_at, updated_at) VALUES (:id, :number, 'pardon', :stage, 'P', "
                        "'1970-01-01', 'o', 'c', 's', '2000-01-01', 'released', 'g', 1, 1, 1, "
                        ":created, :created)"
                    ),
                    {
                        "id": petition_id,
                        "number": f"CP-2026-00000{petition_id}",
                        "stage": "under_review" if petition_id == 1 else "received",
                        "created": created,
                    },
                )
            for entry_id, action, stage, moment in (
                (1, "submit", "received", "2026-01-05 12:00:01"),
                (2, "note_shared", None, "2026-01-20 09:00:00"),
                (3, "start_review", "under_review", "2026-02-01 15:30:00"),
            ):
                run(
                    text(
                        "INSERT INTO audit_entry (id, created_at, category, action, actor_id, "
                        "petition_id, to_stage, prev_hash, entry_hash) VALUES (:id, :at, 'case', "
                        ":action, 1, 1, :stage, 'x', :hash)"
                    ),
                    {
                        "id": entry_id,
                        "at": moment,
                        "action": action,
                        "stage": stage,
                        "hash": f"{entry_id:064d}",
                    },
                )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, received_at, stage_entered_at FROM petition ORDER BY id")
            ).all()
            entries = connection.execute(text("SELECT count(*) FROM audit_entry")).scalar()
    stamps = [(row[0], str(row[1])[:19], str(row[2])[:19]) for row in rows]
    assert stamps == [
        (1, "2026-01-05 12:00:01", "2026-02-01 15:30:00"),
        (2, "2026-01-09 12:00:00", "2026-01-09 12:00:00"),
    ]
    assert entries == 3  # the history is untouched (rebuilt on SQLite, rows and all)


def test_0011_carries_decided_cases_forward_and_adds_the_rules(empty_app):
    """Granted and denied cases written under 0010 get their disposition (and a granted one
    the relief 'unspecified'); open cases none; notes and audit rows that reference the
    petitions survive; afterwards the new CHECK constraints hold, and a downgrade undoes it."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    columns = (
        "case_number, kind, stage, petitioner_name, register_number, date_of_birth, offenses, "
        "sentencing_court, sentence, sentence_date, custody_status, organization_id, "
        "advocate_id, grounds, version, created_at, updated_at, decided_at, decided_by_id, "
        "decision_reason, petitioner_key, received_at, stage_entered_at"
    )

    def petition(number, stage, decided):
        decision = "'2026-02-01 00:00:00', 1, 'Decided.'" if decided else "NULL, NULL, NULL"
        return (
            f"INSERT INTO petition ({columns}) VALUES ('CP-2026-00000{number}', 'commutation', "
            f"'{stage}', 'Old Case', '12345-678', '1970-01-01', 'x', 'D. Md.', '10 years', "
            f"'2000-01-01', 'in_prison', 1, 2, 'y', 3, '2026-01-01 00:00:00', "
            f"'2026-01-01 00:00:00', {decision}, 'R:12345-678', "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )

    with empty_app.app_context():
        upgrade(revision="0010")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organization (id, name, active, created_at) "
                    "VALUES (1, 'Old Org', true, '2026-01-01 00:00:00')"
                )
            )
            for user_id, role, organization in ((1, "reviewer", "NULL"), (2, "advocate", "1")):
                connection.execute(
                    text(
                        'INSERT INTO "user" (id, email, name, role, organization_id, '
                        "password_hash, active, must_change_password, created_at, "
                        "second_factor_failures) VALUES "
                        f"({user_id}, '{role}@example.org', 'Old', '{role}', {organization}, 'x', "
                        "true, false, '2026-01-01 00:00:00', 0)"
                    )
                )
            connection.execute(text(petition(1, "granted", True)))
            connection.execute(text(petition(2, "denied", True)))
            connection.execute(text(petition(3, "under_review", False)))
            connection.execute(
                text(
                    "INSERT INTO note (petition_id, author_id, visibility, body, created_at) "
                    "VALUES (1, 1, 'internal', 'Kept.', '2026-01-01 00:00:00')"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT case_number, stage, disposition, relief FROM petition ORDER BY id")
            ).all()
            notes = connection.execute(text("SELECT petition_id, body FROM note")).all()
        assert [tuple(row) for row in rows] == [
            ("CP-2026-000001", "granted", "granted", "unspecified"),
            ("CP-2026-000002", "denied", "denied", None),
            ("CP-2026-000003", "under_review", None, None),
        ]
        assert [tuple(note) for note in notes] == [(1, "Kept.")]
        for bad in (
            "UPDATE petition SET relief = NULL WHERE id = 1",  # granted without relief
            "UPDATE petition SET disposition = 'moot' WHERE id = 2",  # not a denial's
            "UPDATE petition SET disposition = 'withdrawn' WHERE id = 3",  # open case
            "UPDATE petition SET relief = 'full_pardon' WHERE id = 1",  # a commutation
        ):
            with pytest.raises(IntegrityError), db.engine.begin() as connection:
                connection.execute(text(bad))
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE petition SET stage = 'closed', disposition = 'withdrawn', "
                    "decided_at = '2026-03-01 00:00:00', decided_by_id = 2 WHERE id = 3"
                )
            )

        downgrade(revision="0010")
        with db.engine.connect() as connection:
            stages = connection.execute(text("SELECT stage FROM petition ORDER BY id")).all()
        assert [stage for (stage,) in stages] == ["granted", "denied", "under_review"]
        upgrade()
    assert schema_drift(empty_app) == []


def test_0013_keeps_reads_and_documents_and_adds_their_rules(empty_app):
    """Reads of documents and documents written under 0011 survive the upgrade (the read
    log's table is rebuilt on SQLite: its rows and its append-only triggers are kept);
    afterwards a read must name an existing document, and a document takes only its
    supersede mark. A downgrade undoes the rules and keeps the rows."""
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    when = "'2026-01-01 00:00:00'"
    with empty_app.app_context():
        upgrade(revision="0011")
        with db.engine.begin() as connection:
            for statement in (
                f"INSERT INTO organization (id, name, active, created_at) "
                f"VALUES (1, 'Old Org', true, {when})",
                'INSERT INTO "user" (id, email, name, role, organization_id, password_hash, '
                "active, must_change_password, created_at, second_factor_failures) VALUES "
                f"(1, 'r@example.org', 'Old', 'reviewer', NULL, 'x', true, false, {when}, 0)",
                "INSERT INTO petition (id, case_number, kind, stage, petitioner_name, "
                "register_number, date_of_birth, offenses, sentencing_court, sentence, "
                "sentence_date, custody_status, organization_id, advocate_id, grounds, version, "
                "created_at, updated_at, petitioner_key, received_at, stage_entered_at) VALUES "
                "(1, 'CP-2026-000001', 'commutation', 'under_review', 'Old Case', '12345-678', "
                "'1970-01-01', 'x', 'D. Md.', '10 years', '2000-01-01', 'in_prison', 1, 1, 'y', "
                f"1, {when}, {when}, 'R:12345-678', {when}, {when})",
                *(
                    "INSERT INTO document (id, petition_id, document_type, visibility, filename, "
                    "size, sha256, content_type, uploaded_by_id, uploaded_at) VALUES "
                    f"({n}, 1, 'judgment', 'shared', 'j{n}.pdf', 10, '{n:064d}', "
                    f"'application/pdf', 1, {when})"
                    for n in (1, 2)
                ),
                f"UPDATE document SET superseded_by_id = 2, superseded_at = {when} WHERE id = 1",
                "INSERT INTO read_log_entry (id, created_at, user_id, interface, kind, "
                "petition_id, document_id, reader_assigned, ip_address) VALUES "
                f"(1, {when}, 1, 'web', 'document_download', 1, 1, false, '10.0.0.1'), "
                f"(2, {when}, 1, 'web', 'case_page', 1, NULL, false, '10.0.0.1')",
            ):
                connection.execute(text(statement))
        upgrade()
        with db.engine.connect() as connection:
            reads = connection.execute(
                text("SELECT id, kind, document_id FROM read_log_entry ORDER BY id")
            ).all()
            documents = connection.execute(
                text("SELECT id, filename, superseded_by_id FROM document ORDER BY id")
            ).all()
        assert [tuple(r) for r in reads] == [(1, "document_download", 1), (2, "case_page", None)]
        assert [tuple(d) for d in documents] == [(1, "j1.pdf", 2), (2, "j2.pdf", None)]
        for refused in (
            "INSERT INTO read_log_entry (created_at, user_id, interface, kind, document_id) "
            f"VALUES ({when}, 1, 'web', 'document_download', 99)",  # no such document
            "UPDATE read_log_entry SET kind = 'case_api' WHERE id = 2",  # triggers kept
            "DELETE FROM read_log_entry WHERE id = 1",
            "UPDATE document SET filename = 'x.pdf' WHERE id = 2",
            "DELETE FROM document WHERE id = 2",
        ):
            with pytest.raises(DatabaseError), db.engine.begin() as connection:
                connection.execute(text(refused))
        downgrade(revision="0011")
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE document SET filename = 'x.pdf' WHERE id = 2"))
            assert connection.execute(text("SELECT count(*) FROM read_log_entry")).scalar() == 2
            with pytest.raises(DatabaseError), connection.begin_nested():
                connection.execute(text("DELETE FROM read_log_entry WHERE id = 1"))
        upgrade()
    assert schema_drift(empty_app) == []


def test_0013_stops_on_reads_of_documents_that_do_not_exist(empty_app, caplog):
    """The read log cannot be corrected (it refuses UPDATE): the upgrade names the rows."""
    from sqlalchemy import text

    with empty_app.app_context():
        upgrade(revision="0011")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO read_log_entry (id, created_at, interface, kind, document_id) "
                    "VALUES (7, '2026-01-01 00:00:00', 'cli', 'document_download', 41)"
                )
            )
        with pytest.raises(SystemExit):  # flask_migrate logs the error and exits 1
            upgrade()
    assert "entry 7 → document 41" in caplog.text


def test_0017_backfills_the_search_words_and_indexes_them(empty_app):
    """0017 computes every existing petition's search words (name, aliases, case, register
    and docket numbers, folded) and indexes them; a downgrade drops them and keeps the rows."""
    from sqlalchemy import text

    from tracker.petitions import search

    when = "'2026-01-01 00:00:00'"
    with empty_app.app_context():
        upgrade(revision="0016_time")
        with db.engine.begin() as connection:
            for statement in (
                f"INSERT INTO organization (id, name, active, created_at) "
                f"VALUES (1, 'Old Org', true, {when})",
                'INSERT INTO "user" (id, email, name, role, organization_id, password_hash, '
                "active, must_change_password, created_at, second_factor_failures) VALUES "
                f"(1, 'a@example.org', 'Old', 'advocate', 1, 'x', true, false, {when}, 0)",
                *(
                    "INSERT INTO petition (id, case_number, kind, stage, petitioner_name, "
                    "register_number, date_of_birth, offenses, sentencing_court, sentence, "
                    "sentence_date, custody_status, organization_id, advocate_id, grounds, "
                    "version, created_at, updated_at, petitioner_key, received_at, "
                    "stage_entered_at, aliases, docket_number) VALUES "
                    f"({n}, 'CP-2026-00000{n}', 'commutation', 'received', {name}, "
                    f"'1234{n}-678', '1970-01-01', 'x', 'D. Md.', '10 years', '2000-01-01', "
                    f"'in_prison', 1, 1, 'y', 1, {when}, {when}, 'R:1234{n}-678', {when}, "
                    f"{when}, {aliases}, {docket})"
                    for n, name, aliases, docket in (
                        (1, "'Dolores María Fuentes-Ramírez'", "'[\"Lola\"]'", "'1:04-cr-00123'"),
                        (2, "'Seán O''Brien'", "NULL", "NULL"),
                    )
                ),
            ):
                connection.execute(text(statement))
        upgrade()
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, search_text FROM petition ORDER BY id")
            ).all()
        assert [tuple(row) for row in rows] == [
            (
                1,
                " dolores maria fuentes ramirez lola cp 2026 000001 cp2026000001 12341 678 "
                "12341678 1 04 cr 00123 104cr00123 ",
            ),
            (2, " sean obrien cp 2026 000002 cp2026000002 12342 678 12342678 "),
        ]
        # The index answers: the search finds the migrated petitions.
        found = db.session.scalars(
            select_ids().where(search.condition(search._parse("fuentes, dolores")))
        ).all()
        assert found == [1]
        assert db.session.scalars(
            select_ids().where(search.condition(search._parse("obrien")))
        ).all() == [2]
        db.session.rollback()
        downgrade(revision="0016_time")
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM petition")).scalar() == 2
        assert "search_text" not in {
            column["name"] for column in inspect(db.engine).get_columns("petition")
        }
        upgrade()
    assert schema_drift(empty_app) == []


def select_ids():
    from sqlalchemy import select

    from tracker.petitions.models import Petition

    return select(Petition.id).order_by(Petition.id)


def test_0018_backfills_each_cases_earliest_open_referral_due_date(empty_app):
    """Under 0016 a case with two open referrals and an answered one, a case with only an
    answered one, and a case without: after 0018 the first keeps its open referrals' earliest
    due date, the others none. A downgrade drops the column and keeps the referrals."""
    from sqlalchemy import text

    when = "'2026-01-01 00:00:00'"
    with empty_app.app_context():
        upgrade(revision="0016_time")
        with db.engine.begin() as connection:
            for statement in (
                f"INSERT INTO organization (id, name, active, created_at) "
                f"VALUES (1, 'Org', true, {when})",
                'INSERT INTO "user" (id, email, name, role, organization_id, password_hash, '
                "active, must_change_password, created_at, second_factor_failures) VALUES "
                f"(1, 'r@example.org', 'R', 'reviewer', NULL, 'x', true, false, {when}, 0)",
                *(
                    "INSERT INTO petition (id, case_number, kind, stage, petitioner_name, "
                    "register_number, date_of_birth, offenses, sentencing_court, sentence, "
                    "sentence_date, custody_status, organization_id, advocate_id, grounds, "
                    "version, created_at, updated_at, petitioner_key, received_at, "
                    f"stage_entered_at) VALUES ({n}, 'CP-2026-00000{n}', 'commutation', "
                    f"'under_review', 'Case {n}', '12345-67{n}', '1970-01-01', 'x', 'D. Md.', "
                    f"'10 years', '2000-01-01', 'in_prison', 1, 1, 'y', 1, {when}, {when}, "
                    f"'R:12345-67{n}', {when}, {when})"
                    for n in (1, 2, 3)
                ),
                *(
                    "INSERT INTO referral (id, petition_id, agency, sent_on, due_on, answered_on, "
                    f"created_by_id, created_at) VALUES ({rid}, {pid}, 'fbi', '2026-01-01', "
                    f"'{due}', {answered}, 1, {when})"
                    for rid, pid, due, answered in (
                        (1, 1, "2026-05-01", "NULL"),
                        (2, 1, "2026-02-01", "NULL"),
                        (3, 1, "2026-01-15", "'2026-01-10'"),
                        (4, 2, "2026-01-20", "'2026-01-10'"),
                    )
                ),
            ):
                connection.execute(text(statement))
        upgrade(revision="0018_overdue")
        with db.engine.connect() as connection:
            kept = connection.execute(
                text("SELECT id, referral_due_on FROM petition ORDER BY id")
            ).all()
        assert [(pid, due and str(due)) for pid, due in kept] == [
            (1, "2026-02-01"),
            (2, None),
            (3, None),
        ]
        downgrade(revision="0017_search")
        assert "referral_due_on" not in {
            column["name"] for column in inspect(db.engine).get_columns("petition")
        }
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM referral")).scalar() == 4


def test_0019_backfills_the_dashboards_summary_from_the_cases_and_their_history(empty_app):
    """Cases written through the services (submitted, decided, reopened, a kind corrected),
    then the summary dropped (down to 0018) and upgraded again: the backfill equals the
    app's own recount, row for row, and the statistics read from it what the history says."""
    from tests.conftest import petition_values, unique_register_number
    from tracker.auth import services as auth_services
    from tracker.dashboards import summary
    from tracker.petitions import services as petition_services
    from tracker.petitions.outcomes import Outcome
    from tracker.statistics import queries as statistics

    with empty_app.app_context():
        upgrade()
        organization = auth_services.create_organization(None, "Org")
        advocate = auth_services.create_user(
            None,
            email="a@example.org",
            name="A",
            role="advocate",
            password="a long password 1",
            organization=organization,
        )
        supervisor = auth_services.create_user(
            None, email="s@example.org", name="S", role="supervisor", password="a long password 1"
        )
        made = [
            petition_services.submit_petition(
                advocate, petition_values(register_number=unique_register_number())
            )
            for _ in range(4)
        ]
        for petition in made[:3]:
            petition_services.apply_transition(petition, supervisor, "start_review")
        petition_services.apply_transition(made[0], supervisor, "deny", "No.")
        petition_services.apply_transition(
            made[1], supervisor, "close", "Moot.", outcome=Outcome(disposition="moot")
        )
        petition_services.apply_transition(made[1], supervisor, "reopen", "New facts.")
        petition_services.update_petition(
            made[2],
            supervisor,
            {"kind": "pardon", "custody_status": "released", "projected_release_date": None},
            None,
        )
        db.session.commit()
        kept = summary.kept()
        year = statistics.current_fiscal_year()
        before = statistics.year_counts(year)
        db.session.remove()

        downgrade(revision="0018_overdue")
        assert "stage_tally" not in set(inspect(db.engine).get_table_names())
        upgrade()
        db.session.remove()
        assert summary.kept() == kept
        assert summary.drift() == []
        assert summary.stage_counts() == {
            ("denied", "commutation"): 1,
            ("under_review", "commutation"): 1,
            ("under_review", "pardon"): 1,
            ("received", "commutation"): 1,
        }
        after = statistics.year_counts(year)
        assert after == before
        counts = after.kinds["commutation"]
        assert (counts["received"], counts["denied"], counts["closed_other"]) == (3, 1, 1)
        assert (counts["reopened"], after.kinds["pardon"]["received"]) == (1, 1)
