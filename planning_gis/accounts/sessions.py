"""Server-side session records (table ``user_sessions``, migration 0007).

Why: the signed cookie alone cannot be taken back, so a copy of it kept working after sign-out
for the cookie's whole lifetime. Now the cookie carries a random token; the database keeps only
its sha256 (a leaked table does not give usable cookies), with the user, the expiry and
``revoked_at``. Sign-out ends one record; a password change and "sign out everywhere" end all
of a user's records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.orm import Session

from planning_gis.models import User, UserSession

#: How often ``last_seen_at`` is written for a busy session (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=1)
#: How long an ended session's row is kept before the user's next sign-in removes it.
KEEP_ENDED = dt.timedelta(days=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def start(session: Session, user: User, lifetime: dt.timedelta,
          now: dt.datetime | None = None) -> str:
    """A new session for ``user``; returns the token to put in the cookie (never stored).

    The user's sessions that ended (expired or revoked) more than :data:`KEEP_ENDED` ago are
    removed here, so the table holds about one row per live session (the audit log keeps the
    history)."""
    now = now or _now()
    session.execute(delete(UserSession).where(
        UserSession.user_id == user.id,
        or_(UserSession.expires_at < now - KEEP_ENDED, UserSession.revoked_at < now - KEEP_ENDED)))
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_sha256=_digest(token), user_id=user.id, created_at=now,
                            last_seen_at=now, expires_at=now + lifetime))
    return token


def user_of(session: Session, token: object, now: dt.datetime | None = None) -> User | None:
    """The active user of a live session (not revoked, not expired), or None."""
    if not isinstance(token, str) or not token:
        return None
    now = now or _now()
    row = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_sha256 == _digest(token), UserSession.revoked_at.is_(None),
               UserSession.expires_at > now)
    ).one_or_none()
    if row is None or not row.User.is_active:
        return None
    record = row.UserSession
    if now - record.last_seen_at > TOUCH_EVERY:
        touch = update(UserSession).where(UserSession.id == record.id).values(last_seen_at=now)
        bind = session.get_bind()
        if isinstance(bind, Engine):  # its own short transaction: the request's stays clean
            with bind.begin() as conn:
                conn.execute(touch)
        else:
            session.execute(touch)
    return row.User


def end(session: Session, token: object, now: dt.datetime | None = None) -> bool:
    """End the session of this token (sign-out); True when one was alive."""
    if not isinstance(token, str) or not token:
        return False
    result = session.execute(
        update(UserSession).where(UserSession.token_sha256 == _digest(token),
                                  UserSession.revoked_at.is_(None))
        .values(revoked_at=now or _now()))
    return bool(result.rowcount)


def end_all(session: Session, user_id: int, now: dt.datetime | None = None) -> int:
    """End every live session of a user; returns how many there were."""
    result = session.execute(
        update(UserSession).where(UserSession.user_id == user_id,
                                  UserSession.revoked_at.is_(None))
        .values(revoked_at=now or _now()))
    return int(result.rowcount or 0)
