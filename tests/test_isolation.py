"""Canary: what one test commits is gone for the next (each test's transaction is rolled back).

The two tests run in file order; the second fails if the first one's commit leaked.
"""

from sqlalchemy import func, select

from tracker.audit.models import AuditEntry
from tracker.auth import services as auth_services
from tracker.auth.models import Organization
from tracker.extensions import db

CANARY = "Canary Organization (must never survive its test)"


def count_canaries() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Organization).where(Organization.name == CANARY)
    )


def test_1_a_test_commits_a_row_and_an_audit_entry(app_ctx):
    entries_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    auth_services.create_organization(None, CANARY)
    db.session.commit()
    assert count_canaries() == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == entries_before + 1


def test_2_the_next_test_does_not_see_it(app_ctx):
    assert count_canaries() == 0
