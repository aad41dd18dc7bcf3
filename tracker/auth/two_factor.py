"""TOTP second factor (RFC 6238) with one-time recovery codes.

Required for reviewers and supervisors unless the development configuration turns it off
(TWO_FACTOR_REQUIRED). A code is accepted once: its time step must be newer than the
last accepted one, so a code seen over someone's shoulder cannot be replayed.
"""

import hashlib
import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import select

from tracker import permissions
from tracker.auth.models import RecoveryCode, User
from tracker.database import utcnow
from tracker.extensions import db

TIME_STEP = 30
#: Codes of the previous and next step are accepted too (clock drift).
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10


def required_for(user: User) -> bool:
    return permissions.second_factor_required(user) and current_app.config["TWO_FACTOR_REQUIRED"]


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.email, issuer_name=current_app.config["TOTP_ISSUER"]
    )


def qr_code_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data URI (an <img>, so no inline markup or script)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // TIME_STEP)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.at(step * TIME_STEP), code):
            return step
    return None


def check_enrolment_code(secret: str, code: str) -> int | None:
    """The time step of a valid code for a secret being enrolled, or None."""
    return _matching_step(secret, code)


def verify_code(user: User, code: str) -> bool:
    """Accept a TOTP code once, or an unused recovery code once. No commit."""
    if user.totp_secret:
        step = _matching_step(user.totp_secret, code)
        if step is not None and (user.totp_last_step is None or step > user.totp_last_step):
            user.totp_last_step = step
            return True
    return _use_recovery_code(user, code)


def _hash_code(code: str) -> str:
    normalized = code.strip().replace("-", "").replace(" ", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def _use_recovery_code(user: User, code: str) -> bool:
    if not code or len(code) > 40:
        return False
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def enable(user: User, secret: str, step: int) -> list[str]:
    """Turn the second factor on; returns fresh recovery codes (shown once). No commit."""
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, utcnow(), step
    return replace_recovery_codes(user)


def replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(c)) for c in codes)
    return codes


def disable(user: User) -> None:
    """Forget the user's second factor (a supervisor's reset); they enrol again. No commit."""
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
