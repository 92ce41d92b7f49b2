"""Server-side sign-in sessions: the cookie carries a random token, the database decides whether it
still counts (not revoked, not idle too long, not older than the absolute limit)."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any, cast

from flask import current_app, g, request, session
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import joinedload

from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import User, UserSession

COOKIE_KEY = "sid"
# Requests that must not count as activity (the Today board reloading itself).
PASSIVE_PARAM = "refresh"
# Writing last_seen_at on every request would turn every page view into a write.
TOUCH_EVERY = timedelta(seconds=30)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def idle_timeout() -> timedelta:
    return timedelta(minutes=current_app.config["IDLE_TIMEOUT_MINUTES"])


def absolute_timeout() -> timedelta:
    return timedelta(hours=current_app.config["ABSOLUTE_TIMEOUT_HOURS"])


def start(user: User, mfa_pending: bool) -> UserSession:
    """A new session for `user`; the old cookie content is dropped (no fixation)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        token_hash=_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        mfa_pending=mfa_pending,
        ip_address=(request.remote_addr or "")[:45],
        user_agent=(request.user_agent.string or "")[:200],
    )
    db.session.add(row)
    session.clear()
    session[COOKIE_KEY] = token
    g.user_session = row
    return row


def current(allow_pending: bool = False) -> UserSession | None:
    """The request's live session row, or None. Expired rows are revoked on the way."""
    if "user_session" in g:
        row = g.user_session
    else:
        token = session.get(COOKIE_KEY)
        row = (
            db.session.scalar(
                select(UserSession)
                .where(UserSession.token_hash == _hash(token))
                .options(joinedload(UserSession.user))
            )
            if token
            else None
        )
        g.user_session = row
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if now - row.last_seen_at > idle_timeout():
        revoke(row, "idle_timeout")
        return None
    if now - row.created_at > absolute_timeout():
        revoke(row, "absolute_timeout")
        return None
    if row.mfa_pending and not allow_pending:
        return None
    if request.args.get(PASSIVE_PARAM) is None and now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
        g.session_changed = True
    return row


def revoke(row: UserSession, reason: str) -> None:
    """End one session now; its cookie stops working on the next request."""
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_reason = reason
        g.session_changed = True


def revoke_all(user: User, reason: str, keep: UserSession | None = None) -> int:
    """End every live session of `user` (deactivation, password reset), except `keep`."""
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(
        query.values(revoked_at=utcnow(), revoked_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return cast(CursorResult[Any], result).rowcount  # an UPDATE's result is a CursorResult


def seconds_left(row: UserSession) -> int:
    """Seconds until the idle timeout ends `row`, for the client-side warning."""
    return max(0, int((row.last_seen_at + idle_timeout() - utcnow()).total_seconds()))
