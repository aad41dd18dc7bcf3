"""Server-side login sessions: the cookie names a UserSession row, which the server can end.

The browser's signed cookie holds a random key (``session["sid"]``); the database keeps
only its SHA-256. Every request checks the row: ended, idle too long, or older than the
absolute lifetime all mean logged out — whatever cookie is replayed.
"""

import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from sqlalchemy import bindparam, func, select, update

from tracker import pipeline
from tracker.api.auth import is_api_path
from tracker.audit.services import current_client
from tracker.auth import tokens, two_factor
from tracker.auth.models import (
    USER_AND_ORGANIZATION_COLUMNS,
    User,
    UserSession,
    join_user_and_organization,
    user_from_row,
)
from tracker.database import persistent_from_row, utcnow
from tracker.extensions import db
from tracker.pipeline import SAFE_METHODS

SESSION_KEY = "sid"
#: last_seen_at is written at most this often, so reads stay (almost) write-free.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
#: Where the session's ended_at is in _session_query's row.
ENDED_AT = [column.key for column in UserSession.__table__.c].index("ended_at")


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie, with its serializer built once per set of secret keys rather
    than on every request (twice when the cookie is written back).

    A signed-in cookie lasts the session's absolute lifetime (``SESSION_ABSOLUTE_LIFETIME``)
    rather than the idle one, and is not written again on every page
    (``SESSION_REFRESH_EACH_REQUEST`` off): it holds only the key of the server-side session,
    whose idle timeout the server checks on every request (``current_session``).
    """

    def __init__(self) -> None:
        self._serializers = {}

    def open_session(self, app, request):
        # The API authenticates by bearer token alone and never reads or writes the cookie:
        # no cookie to verify, and nothing to save (nor a Vary: Cookie) after its requests.
        if is_api_path(request.path):
            return self.make_null_session(app)
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.config["SESSION_ABSOLUTE_LIFETIME"].total_seconds())
        try:
            return self.session_class(serializer.loads(value, max_age=max_age))
        except BadSignature:
            return self.session_class()

    def get_expiration_time(self, app, session):
        if session.permanent:
            return datetime.now(UTC) + app.config["SESSION_ABSOLUTE_LIFETIME"]
        return None

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(user: User, *, second_factor_done: bool) -> str:
    """Record a new login and return the key the cookie must carry. No commit."""
    key = secrets.token_urlsafe(32)
    client = current_client()
    now = utcnow()
    enrolling = not user.totp_secret  # advocates may enrol too
    db.session.add(
        UserSession(
            key_hash=_hash(key),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            second_factor_at=now if second_factor_done else None,
            # The secret an enrolment will confirm, chosen now so the setup page's GET writes
            # nothing; kept on this server-side row, never in the readable cookie.
            pending_totp_secret=two_factor.new_secret() if enrolling else None,
            ip_address=client.ip_address,
            user_agent=client.user_agent,
        )
    )
    return key


def current_session() -> UserSession | None:
    """The live UserSession named by this request's cookie, or None.

    Writes nothing in the request's transaction: ending a stale session and touching
    last_seen_at (at most once a minute) are bookkeeping the request pipeline writes apart,
    whatever becomes of the request (``tracker.pipeline.write_apart``).
    """
    key = session.get(SESSION_KEY)
    if not key:
        return None
    counts_unread = request.method in SAFE_METHODS
    orm_session = db.session()
    statement = _session_query(counts_unread)
    found = orm_session.connection().execute(statement, {"key_hash": _hash(key)}).first()
    if found is None or found[ENDED_AT] is not None:
        return None
    # As the ORM's joined loading would leave them (see _session_query).
    columns = len(UserSession.__table__.c)
    user = user_from_row(orm_session, found[columns:])
    row = persistent_from_row(orm_session, UserSession, found[:columns], user=user)
    if counts_unread:
        # A safe method writes nothing, so the count stays true for the whole request
        # (tracker.notifications.services.unread_count reads it from here).
        g.setdefault("unread_notifications", {})[row.user_id] = found[-1]
    now = utcnow()
    config = current_app.config
    if now - row.created_at > config["SESSION_ABSOLUTE_LIFETIME"]:
        end_session_apart(row, "expired")
        return None
    if now - row.last_seen_at > config["PERMANENT_SESSION_LIFETIME"]:
        end_session_apart(row, "idle")
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        pipeline.write_apart(functools.partial(_touch, row.id, now))
    return row


@functools.cache
def _session_query(counts_unread: bool):
    """One query, with Core, for the session's row, its user's and their organization's
    (which can_sign_in reads), and on a page view the notification bell's count, which every
    page shows. The objects are made from the row (``persistent_from_row``), each holding the
    next (``row.user``, ``user.organization``), not by the ORM's loading, which cost more
    than the query on SQLite.

    Built once per process (the key is a parameter): every request runs it, and building
    the statement and its cache key cost more than SQLite takes to answer it.
    """
    statement = (
        select(*UserSession.__table__.c, *USER_AND_ORGANIZATION_COLUMNS)
        .select_from(join_user_and_organization(UserSession.__table__, UserSession.user_id))
        .where(UserSession.key_hash == bindparam("key_hash"))
    )
    if counts_unread:
        statement = statement.add_columns(_unread_count())
    return statement


def _unread_count():
    from tracker.notifications.models import Notification  # it imports the auth models

    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == UserSession.user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def _touch(session_id: int, now) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.last_seen_at < now)
        .values(last_seen_at=now)
    )


def _end_by_id(session_id: int, reason: str) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


def end_session_apart(row: UserSession, reason: str) -> None:
    """End the session whatever the request does next (written apart from its work)."""
    pipeline.write_apart(functools.partial(_end_by_id, row.id, reason))


def end_session(row: UserSession | None, reason: str = "logout") -> None:
    """End one session (logout). The caller commits."""
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason


def end_all_access(
    user: User, reason: str, *, keep: UserSession | None = None, actor: User | None = None
) -> None:
    """End every session of the user (but ``keep``); without ``keep``, revoke their API
    tokens too (audited as api_token_revoked). No commit."""
    now = utcnow()
    statement = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    db.session.execute(statement.values(ended_at=now, end_reason=reason))
    if keep is None:
        tokens.revoke_user_tokens(user, actor)


def end_sessions_of(user_ids: list[int], reason: str) -> int:
    """End every open session of these users (their API tokens stay); returns how many.

    No commit.
    """
    if not user_ids:
        return 0
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id.in_(user_ids), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return result.rowcount
