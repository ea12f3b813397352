"""Bearer tokens of the JSON API, and the idempotency keys its clients send when they create cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import Role
from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.cases import Case
from portal.domain.models.users import User
from portal.domain.types import str_enum


class ApiToken(CreatedAt, Base):
    """A token an admin gave a program; only the SHA-256 of the secret is kept, and its first characters."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The start of the secret, shown in lists so people can tell their tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiIdempotencyKey(CreatedAt, Base):
    """The case a token created with an Idempotency-Key, so a retried request returns it again."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the request body: the same key with a different request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))

    case: Mapped[Case] = relationship()
