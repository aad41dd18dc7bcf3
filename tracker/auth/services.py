"""Logging in and managing users and organizations; every change is audited.

Like every service, these take the acting user (None for the CLI) and never commit.
"""

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker import permissions
from tracker.audit import services as audit
from tracker.auth import passwords, sessions, throttling, two_factor
from tracker.auth.models import Organization, User
from tracker.database import utcnow
from tracker.errors import Conflict, DomainError, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.petitions import services as petition_services
from tracker.workflow import Role


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def find_organization(name: str) -> Organization | None:
    return db.session.scalar(
        select(Organization).where(func.lower(Organization.name) == (name or "").strip().lower())
    )


class TooManyFailures(DomainError):
    """Sign-ins (or codes) must wait after repeated failures; ``until`` says how long."""

    status = 429

    def __init__(self, message: str, until: datetime):
        super().__init__(message)
        self.until = until


def lock_user_row(user: User) -> User:
    """Re-read the user's row and hold it until commit, so counters and checks don't race."""
    db.session.refresh(user, with_for_update={"of": User})  # not its joined organization
    return user


def _failure_reason(user: User | None, password: str) -> str | None:
    """Why this sign-in fails, or None; always one argon2 verification, whoever asks."""
    if user is None:
        passwords.dummy_verify(password)
        return "unknown"
    if not passwords.verify_password(user.password_hash, password):
        return "bad_password"
    if not user.active:
        return "inactive"
    if not permissions.can_sign_in(user):
        return "organization_inactive"
    return None


def _audit_wait(user: User | None, failures: int, until: datetime, **details) -> None:
    audit.record_security_event(
        "login_throttled",
        subject_user=user,
        details={
            **details,
            "failures": failures,
            "wait_seconds": round((until - utcnow()).total_seconds()),
            "until": until.isoformat(),
        },
    )


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials who may sign in, or None; audits the attempt.

    An unknown e-mail, a wrong password, an inactive account or one of a deactivated
    organization all get the same answer and cost the same argon2 work. Failures are
    throttled per (e-mail, client address), known e-mail or not: TooManyFailures while
    the wait they earned lasts (no password is checked then).
    """
    email = normalize_email(email)[:254]
    user = find_user_by_email(email)
    until = throttling.password_wait_until(email)
    if until is not None:
        audit.record_security_event(
            "login_failed", subject_user=user, details={"email": email, "reason": "throttled"}
        )
        raise TooManyFailures(
            "Too many failed sign-ins for this e-mail from your address.", until=until
        )
    reason = _failure_reason(user, password)
    if reason is not None:
        throttle = throttling.count_password_failure(email)
        audit.record_security_event(
            "login_failed", subject_user=user, details={"email": email, "reason": reason}
        )
        if throttle.blocked_until is not None:
            _audit_wait(user, throttle.failures, throttle.blocked_until, email=email)
        return None
    throttling.forget_password_failures(email)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record_security_event("login", actor=user)
    return user


def record_logout(user: User) -> None:
    audit.record_security_event("logout", actor=user)


def _require_manager(actor: User | None) -> None:
    if actor is not None and not permissions.can_manage_users(actor):
        raise PermissionDenied(_("Only a supervisor manages users and organizations."))


def _check_password(password: str, field: str = "password") -> None:
    problem = passwords.password_problem(password)
    if problem:
        raise ValidationFailed({field: problem})


def create_organization(actor: User | None, name: str) -> Organization:
    _require_manager(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": "Name the organization."})
    if find_organization(name) is not None:
        raise ValidationFailed({"name": f"An organization named '{name}' already exists."})
    organization = Organization(name=name)
    db.session.add(organization)
    db.session.flush()
    audit.record_security_event(
        "organization_created",
        actor=actor,
        details={"organization_id": organization.id, "name": name},
    )
    return organization


def set_organization_active(actor: User, organization: Organization, active: bool) -> None:
    """Deactivate or reactivate an organization; its cases stay as they are, for staff.

    While it is deactivated its advocates cannot sign in or use their API tokens; their
    open sessions end now. Their tokens are not revoked, so reactivating gives every
    advocate (still active themselves) their access back.
    """
    _require_manager(actor)
    if organization.active == active:
        return
    organization.active = active
    details = {"organization_id": organization.id, "name": organization.name}
    if not active:
        advocate_ids = list(
            db.session.scalars(
                select(User.id).where(User.organization_id == organization.id, User.active)
            )
        )
        details["advocates"] = len(advocate_ids)
        details["sessions_ended"] = sessions.end_sessions_of(
            advocate_ids, "organization_deactivated"
        )
    audit.record_security_event(
        "organization_reactivated" if active else "organization_deactivated",
        actor=actor,
        details=details,
    )


def _check_role_and_organization(role: str, organization: Organization | None) -> dict:
    errors = {}
    if role not in {r.value for r in Role}:
        errors["role"] = _("Choose advocate, reviewer or supervisor.")
    elif role == Role.ADVOCATE and organization is None:
        errors["organization"] = _("An advocate belongs to an organization.")
    return errors


def create_user(
    actor: User | None,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    organization: Organization | None = None,
    must_change_password: bool = False,
) -> User:
    """Create an account; ``must_change_password`` makes the password a temporary one."""
    _require_manager(actor)
    email = normalize_email(email)
    errors = _check_role_and_organization(role, organization)
    if "@" not in email:
        errors["email"] = _("Enter an e-mail address.")
    elif find_user_by_email(email) is not None:
        errors["email"] = _("A user with the e-mail %(email)s already exists.", email=email)
    if not (name or "").strip():
        errors["name"] = _("Enter the person's name.")
    problem = passwords.password_problem(password)
    if problem:
        errors["password"] = problem
    if errors:
        raise ValidationFailed(errors)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        organization_id=organization.id if organization and role == Role.ADVOCATE else None,
        password_hash=passwords.hash_password(password),
        must_change_password=must_change_password,
    )
    db.session.add(user)
    db.session.flush()
    audit.record_security_event(
        "user_created",
        actor=actor,
        subject_user=user,
        details={
            "email": email,
            "role": role,
            "organization": organization.name if user.organization_id else None,
        },
    )
    return user


def _active_supervisor_count() -> int:
    # Locks the active supervisors' rows: two supervisors demoting each other at the
    # same moment cannot both see "another supervisor is left".
    supervisors = db.session.scalars(
        select(User.id).where(User.role == Role.SUPERVISOR, User.active).with_for_update()
    ).all()
    return len(supervisors)


def _check_not_last_supervisor(user: User, what: str) -> None:
    if user.is_supervisor and user.active and _active_supervisor_count() <= 1:
        raise Conflict(
            _("%(email)s is the last active supervisor and cannot be demoted.", email=user.email)
            if what == "demoted"
            else _(
                "%(email)s is the last active supervisor and cannot be deactivated.",
                email=user.email,
            )
        )


def change_role(actor: User, user: User, role: str, organization: Organization | None) -> None:
    """Change a user's role (and organization, for advocates); ends their sessions."""
    _require_manager(actor)
    errors = _check_role_and_organization(role, organization)
    if errors:
        raise ValidationFailed(errors)
    new_org_id = organization.id if role == Role.ADVOCATE else None
    if role == user.role and new_org_id == user.organization_id:
        return
    if role != Role.SUPERVISOR:
        _check_not_last_supervisor(user, "demoted")
    old_role, old_org = user.role, user.organization.name if user.organization else None
    user.role, user.organization_id = role, new_org_id
    sessions.end_all_access(user, "role_changed", actor=actor)
    audit.record_security_event(
        "role_changed",
        actor=actor,
        subject_user=user,
        changes={
            "role": [old_role, role],
            "organization": [old_org, organization.name if new_org_id else None],
        },
    )


def set_user_active(
    actor: User,
    user: User,
    active: bool,
    *,
    reassign_to: User | None = None,
    expected_cases: list[str] | None = None,
) -> list[str]:
    """Deactivate (never delete) or reactivate an account; deactivation ends its sessions.

    A deactivated user keeps no open case: each is reassigned, in the same transaction,
    to ``reassign_to`` (an active reviewer or supervisor) or, when None, back to the
    unassigned queue, each audited as an assignment. ``expected_cases`` are the case
    numbers the supervisor confirmed; if the open cases differ now, nothing changes
    (Conflict). Returns the case numbers reassigned.
    """
    _require_manager(actor)
    if user.active == active:
        return []
    reassigned = []
    if not active:
        _check_not_last_supervisor(user, "deactivated")
        if reassign_to is not None and reassign_to.id == user.id:
            raise ValidationFailed({"reassign_to": "Choose someone other than the person leaving."})
        reassigned = petition_services.reassign_open_cases(
            actor, user, reassign_to, expected_cases=expected_cases
        )
        sessions.end_all_access(user, "deactivated", actor=actor)
    user.active = active
    audit.record_security_event(
        "user_reactivated" if active else "user_deactivated",
        actor=actor,
        subject_user=user,
        details={"cases_reassigned": len(reassigned)} if reassigned else None,
    )
    return reassigned


def set_temporary_password(actor: User, user: User, password: str) -> None:
    """Give a user a password they must change at their next login; ends their sessions."""
    _require_manager(actor)
    _check_password(password)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    throttling.forget_all_password_failures(user.email)
    sessions.end_all_access(user, "password_reset", actor=actor)
    audit.record_security_event("password_reset", actor=actor, subject_user=user)


def change_own_password(
    user: User, current_password: str, new_password: str, *, current_session=None
) -> None:
    """Change one's own password; every other session of the user ends, this one stays."""
    if not passwords.verify_password(user.password_hash, current_password):
        raise ValidationFailed({"current_password": "That is not your current password."})
    _check_password(new_password, "new_password")
    if passwords.verify_password(user.password_hash, new_password):
        raise ValidationFailed(
            {"new_password": "Choose a password different from the current one."}
        )
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    sessions.end_all_access(user, "password_changed", keep=current_session)
    audit.record_security_event("password_changed", actor=user, subject_user=user)


def set_language(user: User, language: str | None) -> None:
    """Choose the language of one's pages and e-mails (None: the browser's); audited."""
    from tracker.i18n import LANGUAGES

    if language is not None and language not in LANGUAGES:
        raise ValidationFailed({"language": _("Choose one of the languages offered.")})
    if user.language == language:
        return
    audit.record_security_event(
        "language_changed",
        actor=user,
        subject_user=user,
        changes={"language": [user.language, language]},
    )
    user.language = language


def effective_language(user: User) -> str:
    """The language ``user``'s pages are in: their choice, else the browser's, else English."""
    from tracker.i18n import select_locale

    return user.language or select_locale()


def reset_second_factor(actor: User, user: User) -> None:
    """Forget a user's second factor so they enrol again at next login; ends their sessions."""
    _require_manager(actor)
    two_factor.disable(user)
    user.second_factor_failures, user.second_factor_blocked_until = 0, None
    sessions.end_all_access(user, "two_factor_reset", actor=actor)
    audit.record_security_event("two_factor_reset", actor=actor, subject_user=user)


def second_factor_wait_until(user: User) -> datetime | None:
    """Until when every code of the user is refused after too many wrong ones, or None."""
    until = user.second_factor_blocked_until
    return until if until is not None and until > utcnow() else None


def check_second_factor(user: User, code: str) -> bool:
    """Accept a TOTP or recovery code once; wrong codes make the next ones wait, doubling.

    The failures are counted per account, apart from wrong passwords, and only a good
    code resets them, so logging in again with the password buys no more guesses. While
    the wait lasts every code is refused, a good one too.
    """
    lock_user_row(user)
    if second_factor_wait_until(user) is not None:
        return False
    if two_factor.verify_code(user, code):
        user.second_factor_failures, user.second_factor_blocked_until = 0, None
        audit.record_security_event("two_factor_passed", actor=user)
        return True
    user.second_factor_failures += 1
    audit.record_security_event("two_factor_failed", actor=user, subject_user=user)
    wait = throttling.wait_after(user.second_factor_failures)
    if wait is not None:
        user.second_factor_blocked_until = utcnow() + wait
        _audit_wait(
            user,
            user.second_factor_failures,
            user.second_factor_blocked_until,
            step="second_factor",
        )
    return False
