"""One-time links that let a user set a new password: signed, expiring, and spent by the password they set.

The link carries the user's id and a fingerprint of their current password hash, signed with the
portal's secret. Setting a password changes the hash, so the same link (and any older one) stops
working; nothing about the link is stored.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.accounts import sessions
from portal.domain.models import User

LIFETIME = timedelta(hours=24)
TOKEN_MAX = 400
_SALT = "aftersales-password-reset"


class ResetLinkError(Exception):
    """A link that cannot be used: `reason` is "expired", "used" or "invalid"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def make_token(user: User, secret_key: str) -> str:
    return str(_serializer(secret_key).dumps({"u": user.id, "p": _fingerprint(user.password_hash)}))


def user_for(session: Session, token: str, secret_key: str, lifetime: timedelta = LIFETIME) -> User:
    """The user a link is for; ResetLinkError when it is forged, expired, spent, or the user is inactive."""
    if not token or len(token) > TOKEN_MAX:
        raise ResetLinkError("invalid")
    try:
        data: Any = _serializer(secret_key).loads(token, max_age=int(lifetime.total_seconds()))
    except SignatureExpired:
        raise ResetLinkError("expired") from None
    except BadSignature:
        raise ResetLinkError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        raise ResetLinkError("invalid")
    user = session.get(User, data["u"])
    if user is None or not user.active:
        raise ResetLinkError("invalid")
    if data.get("p") != _fingerprint(user.password_hash):
        raise ResetLinkError("used")
    return user


def record_made(session: Session, user: User, actor: User, *, sent_by_email: bool) -> None:
    hours = LIFETIME // timedelta(hours=1)
    details = {"email": user.email, "sent_by_email": sent_by_email, "valid_hours": hours}
    audit.record(session, "user.password_reset_link", "user", user.id, details, actor=actor)


def set_password(session: Session, user: User, new_hash: str) -> int:
    """Spend the link: set the new password and end every session; how many sessions ended.

    Conditional on the hash the link was made for, so two uses of one link at once cannot both pass."""
    old_hash = user.password_hash
    changed = session.execute(
        update(User).where(User.id == user.id, User.password_hash == old_hash).values(password_hash=new_hash)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise ResetLinkError("used")
    session.refresh(user)
    ended = sessions.revoke_all(session, user.id)
    details = {"email": user.email, "sessions_ended": ended}
    audit.record(session, "user.password_reset", "user", user.id, details, actor=user)
    return ended
