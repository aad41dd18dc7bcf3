"""Logging in and managing users and organizations; every change is audited.

Like every service, these take the acting user (None for the CLI) and never commit.
"""

from flask import current_app
from sqlalchemy import func, select

from tracker import permissions
from tracker.audit import services as audit
from tracker.auth import passwords, sessions, two_factor
from tracker.auth.models import Organization, User
from tracker.database import utcnow
from tracker.errors import Conflict, PermissionDenied, ValidationFailed
from tracker.extensions import db
from tracker.workflow import Role


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def find_organization(name: str) -> Organization | None:
    return db.session.scalar(
        select(Organization).where(func.lower(Organization.name) == (name or "").strip().lower())
    )


def is_locked(user: User) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def lock_user_row(user: User) -> User:
    """Re-read the user's row and hold it until commit, so counters and checks don't race."""
    db.session.refresh(user, with_for_update=True)
    return user


def _lock_account(user: User, now) -> None:
    user.locked_until = now + current_app.config["LOGIN_LOCKOUT"]
    audit.record_security_event(
        "account_locked", subject_user=user, details={"until": user.locked_until.isoformat()}
    )


def _count_failure(user: User) -> None:
    """Count a wrong password in the window; lock the account at the limit."""
    config = current_app.config
    now = utcnow()
    window_start = user.first_failed_login_at
    if window_start is None or now - window_start > config["LOGIN_FAILURE_WINDOW"]:
        user.failed_login_count, user.first_failed_login_at = 0, now
    user.failed_login_count += 1
    if user.failed_login_count >= config["LOGIN_MAX_FAILURES"]:
        user.failed_login_count, user.first_failed_login_at = 0, None
        _lock_account(user, now)


def authenticate(email: str, password: str) -> User | None:
    """The active, unlocked user with these credentials, or None; audits the attempt.

    An unknown e-mail, a wrong password, a locked or an inactive account all get the
    same answer and cost the same argon2 work.
    """
    user = find_user_by_email(email)
    if user is not None:
        lock_user_row(user)
    if user is None:
        passwords.dummy_verify(password)
        reason = "unknown"
    elif is_locked(user):
        passwords.dummy_verify(password)
        reason = "locked"
    elif not passwords.verify_password(user.password_hash, password):
        reason = "bad_password"
    elif not user.active:
        reason = "inactive"
    else:
        reason = None
    if reason is not None:
        if reason == "bad_password":
            _count_failure(user)
        audit.record_security_event(
            "login_failed", subject_user=user,
            details={"email": normalize_email(email)[:254], "reason": reason},
        )  # fmt: skip
        return None
    user.failed_login_count, user.first_failed_login_at, user.locked_until = 0, None, None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    audit.record_security_event("login", actor=user)
    return user


def record_logout(user: User) -> None:
    audit.record_security_event("logout", actor=user)


def _require_manager(actor: User | None) -> None:
    if actor is not None and not permissions.can_manage_users(actor):
        raise PermissionDenied("Only a supervisor manages users and organizations.")


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
        "organization_created", actor=actor,
        details={"organization_id": organization.id, "name": name},
    )  # fmt: skip
    return organization


def set_organization_active(actor: User, organization: Organization, active: bool) -> None:
    _require_manager(actor)
    if organization.active == active:
        return
    organization.active = active
    audit.record_security_event(
        "organization_reactivated" if active else "organization_deactivated", actor=actor,
        details={"organization_id": organization.id, "name": organization.name},
    )  # fmt: skip


def _check_role_and_organization(role: str, organization: Organization | None) -> dict:
    errors = {}
    if role not in {r.value for r in Role}:
        errors["role"] = "Choose advocate, reviewer or supervisor."
    elif role == Role.ADVOCATE and organization is None:
        errors["organization"] = "An advocate belongs to an organization."
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
        errors["email"] = "Enter an e-mail address."
    elif find_user_by_email(email) is not None:
        errors["email"] = f"A user with the e-mail {email} already exists."
    if not (name or "").strip():
        errors["name"] = "Enter the person's name."
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
        "user_created", actor=actor, subject_user=user,
        details={"email": email, "role": role,
                 "organization": organization.name if user.organization_id else None},
    )  # fmt: skip
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
        raise Conflict(f"{user.email} is the last active supervisor and cannot be {what}.")


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
        "role_changed", actor=actor, subject_user=user,
        changes={"role": [old_role, role],
                 "organization": [old_org, organization.name if new_org_id else None]},
    )  # fmt: skip


def set_user_active(actor: User, user: User, active: bool) -> None:
    """Deactivate (never delete) or reactivate an account; deactivation ends its sessions."""
    _require_manager(actor)
    if user.active == active:
        return
    if not active:
        _check_not_last_supervisor(user, "deactivated")
        sessions.end_all_access(user, "deactivated", actor=actor)
    user.active = active
    audit.record_security_event(
        "user_reactivated" if active else "user_deactivated", actor=actor, subject_user=user
    )


def set_temporary_password(actor: User, user: User, password: str) -> None:
    """Give a user a password they must change at their next login; ends their sessions."""
    _require_manager(actor)
    _check_password(password)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = True
    user.failed_login_count, user.locked_until = 0, None
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


def reset_second_factor(actor: User, user: User) -> None:
    """Forget a user's second factor so they enrol again at next login; ends their sessions."""
    _require_manager(actor)
    two_factor.disable(user)
    sessions.end_all_access(user, "two_factor_reset", actor=actor)
    audit.record_security_event("two_factor_reset", actor=actor, subject_user=user)


def check_second_factor(user: User, code: str) -> bool:
    """Accept a TOTP or recovery code once; wrong codes lock the account at the limit.

    The failures are counted apart from wrong passwords and only a good code resets
    them, so logging in again with the password buys no more guesses.
    """
    lock_user_row(user)
    if is_locked(user):
        return False
    if two_factor.verify_code(user, code):
        user.second_factor_failures = 0
        audit.record_security_event("two_factor_passed", actor=user)
        return True
    user.second_factor_failures += 1
    audit.record_security_event("two_factor_failed", actor=user, subject_user=user)
    if user.second_factor_failures >= current_app.config["LOGIN_MAX_FAILURES"]:
        user.second_factor_failures = 0
        _lock_account(user, utcnow())
    return False
