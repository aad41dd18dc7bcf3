"""No lost decisions: real threads, real commits, on a database of their own.

On PostgreSQL the petition row lock (SELECT … FOR UPDATE) and the audit chain's head-row
lock do the work; on SQLite every transaction holds the write lock (BEGIN IMMEDIATE).
"""

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.conftest import petition_values
from tracker.audit import services as audit
from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.auth.models import User
from tracker.errors import DomainError
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.petitions.models import Petition

pytestmark = pytest.mark.committed


def run_in_threads(app, count, work):
    """Run ``work(index)`` in ``count`` threads released together; returns their outcomes."""
    barrier = threading.Barrier(count)
    outcomes = [None] * count

    def target(index):
        with app.app_context():
            barrier.wait()
            try:
                outcomes[index] = work(index)
                db.session.commit()
            except DomainError as error:
                db.session.rollback()
                outcomes[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


@pytest.fixture(scope="module")
def people(committed_app):
    with committed_app.app_context():
        organization = auth_services.create_organization(None, "Concurrency Org")
        advocate = auth_services.create_user(
            None,
            email="adv@conc.example",
            name="Adv",
            role="advocate",
            password="a long enough password",
            organization=organization,
        )
        reviewers = [
            auth_services.create_user(
                None,
                email=f"rev{i}@conc.example",
                name=f"Reviewer {i}",
                role="reviewer",
                password="a long enough password",
            )
            for i in range(20)
        ]
        db.session.commit()
        return {"advocate": advocate.id, "reviewers": [r.id for r in reviewers]}


def test_twenty_reviewers_decide_the_same_case_once(committed_app, people):
    with committed_app.app_context():
        advocate = db.session.get(User, people["advocate"])
        petition = petition_services.submit_petition(advocate, petition_values())
        reviewer = db.session.get(User, people["reviewers"][0])
        petition_services.apply_transition(petition, reviewer, "start_review")
        db.session.commit()
        case_number, version = petition.case_number, petition.version

    def decide(index):
        reviewer = db.session.get(User, people["reviewers"][index])
        target = db.session.scalar(select(Petition).where(Petition.case_number == case_number))
        action = "grant" if index % 2 else "deny"
        petition_services.apply_transition(target, reviewer, action, "Decided.", version)
        return action

    outcomes = run_in_threads(committed_app, 20, decide)
    successes = [o for o in outcomes if isinstance(o, str)]
    refusals = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(successes) == 1
    assert len(refusals) == 19
    with committed_app.app_context():
        petition = db.session.scalar(select(Petition).where(Petition.case_number == case_number))
        final_stage = petition.stage
        assert final_stage == {"grant": "granted", "deny": "denied"}[successes[0]]
        for refusal in refusals:
            assert refusal.status == 409
            assert f"({final_stage})" in refusal.message
        decisions = db.session.scalar(
            select(func.count()).where(
                AuditEntry.petition_id == petition.id, AuditEntry.action.in_(["grant", "deny"])
            )
        )
        assert decisions == 1
        assert audit.verify_chain().intact


def test_fifty_parallel_submissions_get_unique_case_numbers(committed_app, people):
    def submit(index):
        advocate = db.session.get(User, people["advocate"])
        petition = petition_services.submit_petition(
            advocate,
            petition_values(
                petitioner_name=f"Parallel {index}", register_number=f"77777-{index:03d}"
            ),
        )
        return petition.case_number

    outcomes = run_in_threads(committed_app, 50, submit)
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert len(set(outcomes)) == 50
    with committed_app.app_context():
        counts = Counter(db.session.scalars(select(Petition.case_number)))
        assert max(counts.values()) == 1
        submits = db.session.scalar(
            select(func.count()).where(
                AuditEntry.action == "submit",
                AuditEntry.details["case_number"].as_string().in_(outcomes),
            )
        )
        assert submits == 50
        result = audit.verify_chain()
        assert result.intact, result.message


def test_a_long_read_does_not_hold_the_write_lock(committed_app):
    """`audit verify` and exports read in a read-only transaction: writers are not blocked."""
    from sqlalchemy import text

    from tracker.database import begin_read_only

    with committed_app.app_context():
        begin_read_only(db.session)
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= 0
        with db.engine.connect() as writer:  # a request writing while the read goes on
            writer.execute(
                text(
                    "INSERT INTO organization (name, active, created_at) "
                    "VALUES ('Written meanwhile', true, '2026-01-01 00:00:00')"
                )
            )
            writer.commit()
        db.session.rollback()
        assert (
            db.session.scalar(
                text("SELECT count(*) FROM organization WHERE name = 'Written meanwhile'")
            )
            == 1
        )
