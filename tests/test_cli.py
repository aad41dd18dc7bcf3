"""The operators' commands: create-organization, create-user, seed-demo, audit verify.

The runner shares the test's app context, so a command's commit is the test transaction's
savepoint and its rows are rolled back with the test.
"""

from datetime import date

import pytest
from sqlalchemy import select, update

from tests.helpers import audit_entries, count
from tracker.audit.models import AuditChainHead, AuditEntry, AuditVerification
from tracker.auth import passwords
from tracker.auth import services as auth_services
from tracker.auth.models import Organization, User
from tracker.extensions import db
from tracker.petitions.models import Note, Petition, Recommendation
from tracker.workflow import DISPOSITIONS, KINDS_OF_RELIEF, Stage, relief_fits

GOOD_PASSWORD = "quiet-meadow-compass-42"

#: The demo accounts the README lists.
DEMO_CREDENTIALS = [
    ("advocate@example.org", "demo-advocate-password"),
    ("advocate2@example.org", "demo-advocate-password"),
    ("reviewer@example.org", "demo-reviewer-password"),
    ("reviewer2@example.org", "demo-reviewer-password"),
    ("supervisor@example.org", "demo-supervisor-password"),
]


def invoke(runner, *args, input=None):
    return runner.invoke(args=list(args), input=input)


def test_create_organization(runner):
    result = invoke(runner, "create-organization", "Justice Forward Project")

    assert result.exit_code == 0, result.output
    organization = auth_services.find_organization("Justice Forward Project")
    assert organization is not None and organization.active
    assert f"Created organization Justice Forward Project (id {organization.id})." in result.output
    [created] = audit_entries(action="organization_created")
    assert (created.actor_id, created.user_agent) == (None, "cli")


def test_create_organization_refuses_a_duplicate(runner, make_organization):
    make_organization("Justice Forward Project")
    result = invoke(runner, "create-organization", "JUSTICE forward project")
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert count(Organization) == 1


def test_create_user_reads_the_password_from_stdin(runner, make_organization):
    organization = make_organization("Justice Forward Project")

    result = invoke(
        runner,
        "create-user",
        "Ana@Example.org",
        "--role",
        "advocate",
        "--organization",
        "justice forward project",
        "--name",
        "Ana Advocate",
        "--password-stdin",
        input=f"{GOOD_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    user = auth_services.find_user_by_email("ana@example.org")
    assert (user.email, user.name, user.role) == ("ana@example.org", "Ana Advocate", "advocate")
    assert user.organization_id == organization.id
    assert passwords.verify_password(user.password_hash, GOOD_PASSWORD)
    assert f"Created advocate ana@example.org (id {user.id})." in result.output
    assert GOOD_PASSWORD not in result.output
    [created] = audit_entries(action="user_created", subject_user_id=user.id)
    assert created.actor_id is None


def test_create_user_asks_the_password_twice(runner):
    result = invoke(
        runner,
        "create-user",
        "sup@example.org",
        "--role",
        "supervisor",
        input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 1
    assert GOOD_PASSWORD not in result.output  # the prompt hides what is typed
    user = auth_services.find_user_by_email("sup@example.org")
    assert (user.role, user.name, user.organization_id) == ("supervisor", "sup", None)
    assert passwords.verify_password(user.password_hash, GOOD_PASSWORD)


def test_create_user_refuses_passwords_that_differ(runner):
    result = invoke(
        runner,
        "create-user",
        "sup@example.org",
        "--role",
        "supervisor",
        input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}x\n",
    )
    assert result.exit_code != 0
    assert "do not match" in result.output
    assert auth_services.find_user_by_email("sup@example.org") is None


@pytest.mark.parametrize(
    ("options", "password", "message"),
    [
        (
            ["--role", "advocate", "--organization", "No Such Org"],
            GOOD_PASSWORD,
            "Unknown organization 'No Such Org'",
        ),
        (["--role", "janitor"], GOOD_PASSWORD, "Invalid value for '--role'"),
        (["--role", "advocate"], GOOD_PASSWORD, "An advocate needs --organization NAME."),
        (["--role", "reviewer"], "eleven-char", "password: Use at least 12 characters."),
        (["--role", "reviewer"], "", "password: Use at least 12 characters."),
    ],
    ids=[
        "unknown-organization",
        "unknown-role",
        "advocate-without-organization",
        "short-password",
        "empty-password",
    ],
)
def test_create_user_failures_exit_non_zero_and_create_nothing(
    runner, make_organization, options, password, message
):
    make_organization("Justice Forward Project")
    users, entries = count(User), count(AuditEntry)

    result = invoke(
        runner,
        "create-user",
        "new.person@example.org",
        *options,
        "--password-stdin",
        input=f"{password}\n",
    )

    assert result.exit_code != 0
    assert message in result.output
    assert auth_services.find_user_by_email("new.person@example.org") is None
    assert (count(User), count(AuditEntry)) == (users, entries)


def test_create_user_refuses_an_existing_email(runner, make_user):
    make_user("reviewer", email="taken@example.org")
    users = count(User)
    result = invoke(
        runner,
        "create-user",
        "TAKEN@example.org",
        "--role",
        "reviewer",
        "--password-stdin",
        input=f"{GOOD_PASSWORD}\n",
    )
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert count(User) == users


def test_seed_demo_creates_demo_data_once(runner):
    result = invoke(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    for email, password in DEMO_CREDENTIALS:
        assert email in result.output and password in result.output
        user = auth_services.find_user_by_email(email)
        assert passwords.verify_password(user.password_hash, password)
    assert count(Organization) == 2
    assert count(Petition) == 50
    stages = set(db.session.scalars(select(Petition.stage).distinct()))
    assert stages == {s.value for s in Stage}
    assert count(AuditEntry, AuditEntry.action == "submit") == 50
    snapshot = (count(User), count(Organization), count(Petition), count(Note), count(AuditEntry))

    again = invoke(runner, "seed-demo")

    assert again.exit_code == 0, again.output
    assert "nothing added" in again.output
    assert "demo-advocate-password" not in again.output
    assert (
        count(User),
        count(Organization),
        count(Petition),
        count(Note),
        count(AuditEntry),
    ) == snapshot


def test_seed_demo_honours_the_petition_count(runner):
    result = invoke(runner, "seed-demo", "--petitions", "7")
    assert result.exit_code == 0, result.output
    assert count(Petition) == 7


def test_seed_demo_reuses_an_existing_demo_organization(runner, make_organization):
    """The README's create-organization example uses a demo organization's name."""
    existing = make_organization("Justice Forward Project")
    result = invoke(runner, "seed-demo", "--petitions", "3")
    assert result.exit_code == 0, result.output
    assert count(Organization) == 2
    advocate = db.session.scalar(select(User).where(User.email == "advocate@example.org"))
    assert advocate.organization_id == existing.id


def test_seed_demo_changes_nothing_when_it_cannot_finish(runner, make_user):
    """A demo e-mail is taken by someone else: the command fails and leaves nothing behind."""
    make_user("reviewer", email="reviewer@example.org")
    snapshot = (count(User), count(Organization), count(Petition), count(AuditEntry))

    result = invoke(runner, "seed-demo")

    assert result.exit_code != 0
    assert "reviewer@example.org already exists" in result.output
    assert (count(User), count(Organization), count(Petition), count(AuditEntry)) == snapshot


def make_some_history(runner):
    assert invoke(runner, "create-organization", "Another Clemency Clinic").exit_code == 0
    assert invoke(runner, "seed-demo", "--petitions", "5").exit_code == 0


def test_audit_verify_passes_on_an_intact_chain(runner):
    make_some_history(runner)
    entries = count(AuditEntry)
    assert entries > 10

    result = invoke(runner, "audit", "verify")

    assert result.exit_code == 0, result.output
    assert "Intact" in result.output
    assert f"({entries} entries)" in result.output
    verification = db.session.scalar(
        select(AuditVerification).order_by(AuditVerification.id.desc()).limit(1)
    )
    assert (verification.intact, verification.scope, verification.entries_checked) == (
        True,
        "full",
        entries,
    )


def test_audit_verify_fails_when_the_chain_head_disagrees(runner):
    """The counterpart of the test above, so that an exit code of 0 means something."""
    make_some_history(runner)
    db.session.execute(update(AuditChainHead).values(last_hash="f" * 64))
    db.session.commit()

    result = invoke(runner, "audit", "verify")

    assert result.exit_code == 1
    assert "Intact" not in result.output


def test_seed_demo_shows_every_disposition_fitting_reliefs_and_recommendations(runner):
    result = invoke(runner, "seed-demo")
    assert result.exit_code == 0, result.output
    dispositions = set(db.session.scalars(select(Petition.disposition).distinct()))
    assert dispositions - {None} == set(DISPOSITIONS)
    reliefs = db.session.execute(select(Petition.kind, Petition.relief).distinct()).all()
    assert {relief for _kind, relief in reliefs if relief} == set(KINDS_OF_RELIEF)
    assert all(relief_fits(relief, kind) for kind, relief in reliefs if relief)
    granted_commutations = db.session.scalars(
        select(Petition).where(Petition.relief == "commutation_reduced")
    ).all()
    assert all(p.new_release_date > date.today() for p in granted_commutations)
    recommendations = set(db.session.scalars(select(Recommendation.recommendation)))
    assert "favorable" in recommendations
