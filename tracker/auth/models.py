"""People and the organizations (advocacy groups) they work for."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.database import UTCDateTime, persistent_from_row, table_slices, utcnow
from tracker.extensions import db
from tracker.workflow import Role

ROLE_VALUES = tuple(r.value for r in Role)


class Organization(db.Model):
    """An advocacy group whose advocates submit petitions."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list["User"]] = relationship(back_populates="organization")

    def __repr__(self) -> str:
        return f"<Organization {self.id} {self.name!r}>"


class User(UserMixin, db.Model):
    """An advocate, reviewer or supervisor. Never deleted: deactivated instead."""

    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_valid"),
        CheckConstraint(
            "role != 'advocate' OR organization_id IS NOT NULL", name="advocate_has_organization"
        ),
        # Stored lower-cased, so the unique constraint is case-insensitive.
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("language IS NULL OR language IN ('en', 'es')", name="language_valid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Set when a supervisor gives a temporary password; cleared when the user picks their own.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Base32 TOTP secret, set once the user confirmed enrolment with a code.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last TOTP time step accepted; a code of that step or older is a replay.
    totp_last_step: Mapped[int | None]
    #: Wrong second-factor codes since the last one accepted; a password login does not
    #: reset it, so logging in again cannot buy more guesses.
    second_factor_failures: Mapped[int] = mapped_column(default=0)
    #: Until then every code is refused, a good one too (the wait doubles with each wrong
    #: code past LOGIN_FREE_FAILURES); wrong passwords are throttled in LoginThrottle.
    second_factor_blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    #: The language pages and e-mails use (a code of tracker.i18n.LANGUAGES); null: the
    #: browser's Accept-Language decides.
    language: Mapped[str | None] = mapped_column(String(8))

    organization: Mapped[Organization | None] = relationship(back_populates="users")

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def is_staff(self) -> bool:
        return self.role_enum.is_staff

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_advocate(self) -> bool:
        return self.role == Role.ADVOCATE

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active


#: A user's row and their organization's (NULLs for staff), as the queries every request runs
#: read them with Core (the API token's, the signed-in session's); ``user_from_row`` makes them.
USER_AND_ORGANIZATION_COLUMNS = (*User.__table__.c, *Organization.__table__.c)


def join_user_and_organization(table, user_id):
    """``table`` joined with the user its ``user_id`` column names and their organization."""
    return table.join(User.__table__, user_id == User.id).outerjoin(
        Organization.__table__, User.organization_id == Organization.id
    )


def user_from_row(session, values):
    """The User of ``USER_AND_ORGANIZATION_COLUMNS``' values, holding its Organization, as a
    joined load would leave them (``persistent_from_row``)."""
    user_values, organization_values = table_slices(values, User, Organization)
    organization = persistent_from_row(session, Organization, organization_values)
    return persistent_from_row(session, User, user_values, organization=organization)


class ApiToken(db.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once, at creation.

    It acts with its user's role and organization; it stops working when revoked, when
    the user is deactivated, or when the user's role or password is changed.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    #: The first characters of the token, to tell tokens apart on the profile page.
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} {self.name!r} of user {self.user_id}>"


class UserSession(db.Model):
    """One login: the browser's session names it, and it can be ended on the server.

    The cookie carries a random key; only its SHA-256 is stored. A session ends at
    logout, when idle or too old, and when its user's password, role or status changes.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the second factor was given; None while it is still owed.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The TOTP secret being enrolled, kept here rather than in the (readable) cookie.
    pending_totp_secret: Mapped[str | None] = mapped_column(String(64))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: logout, idle, expired, password_changed, password_reset, role_changed, deactivated …
    end_reason: Mapped[str | None] = mapped_column(String(30))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} of user {self.user_id}>"


class RecoveryCode(db.Model):
    """A one-time code that stands in for the second factor; stored as a SHA-256 hash."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<RecoveryCode {self.id} of user {self.user_id}>"


class LoginThrottle(db.Model):
    """Wrong passwords given for one e-mail from one client address, and the wait they earned.

    Kept per (e-mail, address) pair, so an address that has not failed is never held up,
    and kept for any e-mail, known or not, so the answers say nothing about which accounts
    exist. Not audited itself (the failures are, in the audit log): rows are forgotten
    once the failures are old (LOGIN_FAILURE_MEMORY) or the sign-in succeeds.
    """

    __table_args__ = (UniqueConstraint("email", "ip_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: As typed, normalized (lower case, trimmed), at most 254 characters.
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(45))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: No attempt from this address for this e-mail is checked before then.
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.email} from {self.ip_address}: {self.failures}>"
