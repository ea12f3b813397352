"""Server-side sign-in state: sessions, second-factor recovery codes, and throttling counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base, CreatedAt


class UserSession(CreatedAt, Base):
    """One signed-in browser. The cookie carries a random secret; only its SHA-256 is kept here."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_id_revoked_at", "user_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # Remembered sessions outlive the browser (up to their fixed expiry); others end when idle too long.
    remember: Mapped[bool] = mapped_column(default=False)
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class RecoveryCode(CreatedAt, Base):
    """A one-time code that stands in for the authenticator app; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class ThrottleBucket(Base):
    """How many requests one subject (an account, an address, a token) made in one short slice of time.

    Held in the database so every worker of every host counts together; the key is a hash, so e-mail
    addresses typed at the sign-in page are not kept.
    """

    __tablename__ = "throttle_buckets"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)
