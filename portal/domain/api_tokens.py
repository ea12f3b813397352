"""API tokens: creating them (the secret is shown once), finding the token a request presents, revoking.

Only the SHA-256 of a token is stored. A token is 256 random bits, so unlike a password it cannot be
guessed from its hash, and a plain hash can be looked up through the unique index on every request.
Argon2 is salted and slow on purpose: each request would need a scan and ~50 ms of hashing for no gain.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import ApiToken, User
from portal.domain.types import utcnow

TOKEN_PREFIX = "asd_"
PREFIX_SHOWN = 12
NAME_MAX = 80
# Writing last_used_at on every call would make each read a write; once a minute is precise enough.
LAST_USED_PRECISION = timedelta(minutes=1)


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(session: Session, name: str, role: Role | str, created_by: User | None = None) -> NewToken:
    """A new token; the secret is returned here and never again."""
    name = " ".join(name.split())
    if not name:
        raise TokenError("give the token a name, such as the program that will use it")
    if len(name) > NAME_MAX:
        raise TokenError(f"the name may have at most {NAME_MAX} characters")
    try:
        role = Role(role)
    except ValueError:
        raise TokenError(f"unknown role '{role}'; choose one of {', '.join(r.value for r in Role)}") from None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        role=role,
        token_hash=hash_token(secret),
        prefix=secret[:PREFIX_SHOWN],
        created_by_id=created_by.id if created_by else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "api_token.created",
        "api_token",
        token.id,
        {"name": name, "role": role.value, "prefix": token.prefix},
        actor=created_by,
        actor_label=None if created_by else "cli",
    )
    return NewToken(token, secret)


def find_active(session: Session, secret: str, now: datetime | None = None) -> ApiToken | None:
    """The unrevoked token with this secret, noting when it was used; None for anything else."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        session.commit()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """Active tokens first, newest first within each group."""
    return list(
        session.scalars(
            select(ApiToken).order_by(
                ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id
            )
        )
    )


def revoke_token(session: Session, token_id: int, revoked_by: User | None = None) -> ApiToken:
    """Refuse the token from now on; revoking twice changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenError(f"there is no API token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            "api_token.revoked",
            "api_token",
            token.id,
            {"name": token.name, "prefix": token.prefix},
            actor=revoked_by,
            actor_label=None if revoked_by else "cli",
        )
    return token
