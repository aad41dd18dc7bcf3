"""Throttling of wrong passwords and second-factor codes: waits that double, never a lockout.

Wrong passwords are counted per (e-mail, client address): someone guessing from one address
is slowed down, while the account's owner, signing in from an address that has not failed,
is not held up at all — so nobody can lock someone else out. Unknown e-mails are counted the
same way, so the answers reveal nothing about which accounts exist.

Wrong second-factor codes are counted per account (whoever gives them already knows the
password, so their address proves nothing), and only a good code resets the count.

From the LOGIN_THROTTLE_AFTER-th failure on, each failure makes the next attempt wait:
LOGIN_THROTTLE_BASE, doubled at each further failure, at most LOGIN_THROTTLE_MAX (as ASVS
V6 recommends). Like every service, these never commit.
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from tracker.audit.services import current_client
from tracker.auth.models import LoginThrottle
from tracker.database import utcnow
from tracker.extensions import db

#: Stored for a client whose address is unknown (no request, or a server that gives none).
UNKNOWN_ADDRESS = "unknown"


def wait_after(failures: int) -> timedelta | None:
    """How long the next attempt waits after this many failures in a row (None: no wait)."""
    config = current_app.config
    beyond = failures - config["LOGIN_THROTTLE_AFTER"]
    if beyond < 0:
        return None
    ceiling = config["LOGIN_THROTTLE_MAX"]
    # Past ~40 doublings any base is beyond the ceiling; stop before the number explodes.
    if beyond > 40:
        return ceiling
    return min(config["LOGIN_THROTTLE_BASE"] * 2**beyond, ceiling)


def _client_address() -> str:
    return (current_client().ip_address or UNKNOWN_ADDRESS)[:45]


def _throttle_key(email: str) -> tuple[str, str]:
    return email[:254], _client_address()


def password_wait_until(email: str) -> datetime | None:
    """Until when sign-ins for this e-mail from this client address must wait, or None."""
    email, address = _throttle_key(email)
    blocked_until = db.session.scalar(
        select(LoginThrottle.blocked_until).where(
            LoginThrottle.email == email, LoginThrottle.ip_address == address
        )
    )
    if blocked_until is not None and blocked_until > utcnow():
        return blocked_until
    return None


def _locked_throttle_row(email: str, address: str, now: datetime) -> LoginThrottle:
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LoginThrottle)
    # Two failures at the same moment must not both try to create the row.
    db.session.execute(
        insert.values(
            email=email, ip_address=address, failures=0, last_failure_at=now
        ).on_conflict_do_nothing(index_elements=["email", "ip_address"])
    )
    return db.session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.email == email, LoginThrottle.ip_address == address)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def count_password_failure(email: str) -> LoginThrottle:
    """Count a failed sign-in for this e-mail from this address; set the wait it earns.

    Failures older than LOGIN_FAILURE_MEMORY are forgotten (and their rows deleted).
    """
    now = utcnow()
    memory = current_app.config["LOGIN_FAILURE_MEMORY"]
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - memory))
    row = _locked_throttle_row(*_throttle_key(email), now)
    row.failures += 1
    row.last_failure_at = now
    wait = wait_after(row.failures)
    row.blocked_until = now + wait if wait else None
    return row


def forget_password_failures(email: str) -> None:
    """A successful sign-in from this address clears its count for this e-mail."""
    email, address = _throttle_key(email)
    db.session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.email == email, LoginThrottle.ip_address == address
        )
    )


def forget_all_password_failures(email: str) -> None:
    """A supervisor's password reset clears the e-mail's counts from every address."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.email == email[:254]))
