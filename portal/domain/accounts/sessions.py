"""Server-side sessions: started at sign-in, checked on every request, revocable one by one or all at once.

The browser's cookie holds a random secret (256 bits); the table keeps its SHA-256, so a copy of the
database does not hand out working cookies. A session ends when it is revoked, when it expires, or (if
the user did not ask to be remembered) when it has been idle too long.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from portal.domain.models import User, UserSession
from portal.domain.types import utcnow

# Writing last_seen_at on every request would make each page view a write; once a minute is enough.
LAST_SEEN_PRECISION = timedelta(minutes=1)
USER_AGENT_MAX = 200
ADDRESS_MAX = 64
# Ended sessions stay this long (who signed in from where, for a while), then go at the user's next sign-in.
KEEP_ENDED = timedelta(days=30)


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live: idle limit for ordinary ones, a fixed lifetime for remembered ones."""

    idle: timedelta
    remember: timedelta


@dataclass(frozen=True)
class NewSession:
    row: UserSession
    secret: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start(session: Session, user: User, policy: SessionPolicy, *, remember: bool, user_agent: str,
          address: str, now: datetime | None = None) -> NewSession:
    """A new session for a user who has just proved who they are; the secret goes into their cookie."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=hash_secret(secret),
        user_id=user.id,
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (policy.remember if remember else policy.idle),
        user_agent=user_agent[:USER_AGENT_MAX],
        address=address[:ADDRESS_MAX],
    )
    session.add(row)
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            (UserSession.expires_at < now - KEEP_ENDED) | (UserSession.revoked_at < now - KEEP_ENDED),
        )
    )
    session.flush()
    return NewSession(row, secret)


def find_valid(session: Session, secret: str, policy: SessionPolicy,
               now: datetime | None = None) -> UserSession | None:
    """The live session with this secret, its idle clock restarted (the caller commits); None if unknown,
    revoked or expired."""
    if not secret or len(secret) > 100:
        return None
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == hash_secret(secret)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at >= LAST_SEEN_PRECISION:
        values: dict[str, datetime] = {"last_seen_at": now}
        if not row.remember:
            values["expires_at"] = now + policy.idle
        # Conditional, so a session revoked a moment ago is not brought back by a late request.
        session.execute(
            update(UserSession)
            .where(UserSession.id == row.id, UserSession.revoked_at.is_(None))
            .values(**values)
        )
    return row


def revoke(session: Session, secret: str, now: datetime | None = None) -> bool:
    """End the session with this secret (signing out); whether one was live."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_secret(secret), UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_all(session: Session, user_id: int, now: datetime | None = None) -> int:
    """End every session of a user at once; how many were live."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def live_sessions(session: Session, user_id: int, now: datetime | None = None) -> Sequence[UserSession]:
    """A user's unrevoked, unexpired sessions, most recently used first."""
    now = now or utcnow()
    return session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc())
    ).all()


def live_counts(session: Session, now: datetime | None = None) -> dict[int, int]:
    """How many live sessions each user has (for the admin's user list)."""
    now = now or utcnow()
    rows = session.execute(
        select(UserSession.user_id, func.count())
        .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now)
        .group_by(UserSession.user_id)
    ).all()
    return {user_id: count for user_id, count in rows}
