"""Personal API tokens: create, authenticate, revoke. Only a token's SHA-256 is stored.

A token is ``ct_`` followed by 43 URL-safe characters (256 random bits); it is shown
once, when created. It acts as its user — same role, same organization — and stops
working when revoked or when the user is deactivated. Like every service, these never
commit.
"""

import functools
import hashlib
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, or_, select, update

from tracker import permissions, pipeline
from tracker.audit import services as audit
from tracker.auth.models import (
    USER_AND_ORGANIZATION_COLUMNS,
    ApiToken,
    User,
    join_user_and_organization,
    user_from_row,
)
from tracker.database import utcnow
from tracker.errors import NotFound, PermissionDenied, ValidationFailed
from tracker.extensions import db

TOKEN_PREFIX = "ct_"
#: Characters of the token kept in clear to tell tokens apart ("ct_" and 6 more).
SHOWN_PREFIX_LENGTH = 9
NAME_MAX_LENGTH = 100
#: last_used_at is written at most this often per token, so reads stay cheap.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: One query, with Core, for the columns of the token that authentication reads, its user's
#: row and their organization's (which can_sign_in reads): no ApiToken object is made, and
#: the User and Organization are made from the row (``persistent_from_row``), not by the
#: ORM's loading. Built once: every API request runs it.
TOKEN_COLUMNS = (ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at)
TOKEN_BY_HASH = (
    select(*TOKEN_COLUMNS, *USER_AND_ORGANIZATION_COLUMNS)
    .select_from(join_user_and_organization(ApiToken.__table__, ApiToken.user_id))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(user: User, name: str, *, by_operator: bool = False) -> tuple[ApiToken, str]:
    """A new token for the user; returns the row and the plaintext, which is never kept.

    ``by_operator`` marks a token issued from the command line: the audit entry then
    has no acting user, as for the other operator commands.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": "Name the token (e.g. the script that will use it)."})
    if len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise ValidationFailed({"name": f"At most {NAME_MAX_LENGTH} characters."})
    if not permissions.can_sign_in(user):
        raise PermissionDenied(
            _("%(email)s is deactivated and cannot have API tokens.", email=user.email)
        )
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=plaintext[:SHOWN_PREFIX_LENGTH],
        token_hash=token_hash(plaintext),
        created_at=utcnow(),
    )
    db.session.add(token)
    db.session.flush()
    audit.record_security_event(
        "api_token_created",
        actor=None if by_operator else user,
        subject_user=user,
        details={"token_id": token.id, "name": name, "prefix": token.prefix},
    )
    return token, plaintext


def authenticate_token(plaintext: str) -> User | None:
    """The user this token belongs to, or None (unknown, revoked, user or their
    organization deactivated).

    Writes nothing in the request's transaction: the time of use is noted at most once a
    minute, apart from it (``tracker.pipeline.write_apart``), so the request's own commit
    or rollback does not depend on it and the loaded user is not expired by it.
    """
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    session = db.session()
    found = (
        session.connection().execute(TOKEN_BY_HASH, {"token_hash": token_hash(plaintext)}).first()
    )
    if found is None:
        return None
    token_id, revoked_at, last_used_at = found[: len(TOKEN_COLUMNS)]
    user = user_from_row(session, found[len(TOKEN_COLUMNS) :])
    if revoked_at is not None or not permissions.can_sign_in(user):
        return None
    now = utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        pipeline.write_apart(functools.partial(_note_use, token_id, now))
    return user


def _note_use(token_id: int, now) -> None:
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .where(or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now))
        .values(last_used_at=now)
    )


def user_tokens(user: User) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
        )
    )


def get_user_token(user: User, token_id: int) -> ApiToken:
    """One of the user's own tokens; NotFound for anyone else's."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("No such token."))
    return token


def revoke_token(actor: User, token: ApiToken) -> None:
    """Revoke a token: its owner may, and so may a supervisor. Revoking twice does nothing."""
    if actor.id != token.user_id and not permissions.can_manage_users(actor):
        raise PermissionDenied(_("You may revoke only your own API tokens."))
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    audit.record_security_event(
        "api_token_revoked",
        actor=actor,
        subject_user=token.user,
        details={"token_ids": [token.id], "name": token.name, "prefix": token.prefix},
    )


def revoke_user_tokens(user: User, actor: User | None = None) -> int:
    """Revoke every token of the user (role change, password reset, deactivation).

    Returns how many were revoked; one audit entry names them all.
    """
    revoked = list(
        db.session.scalars(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .returning(ApiToken.id),
            execution_options={"synchronize_session": "fetch"},
        )
    )
    if revoked:
        audit.record_security_event(
            "api_token_revoked",
            actor=actor,
            subject_user=user,
            details={"token_ids": sorted(revoked), "reason": "all of the user's tokens"},
        )
    return len(revoked)
