"""After-sales policies per market and their versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import PolicyStatus
from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Market
from portal.domain.models.users import User
from portal.domain.types import str_enum


class Policy(CreatedAt, Base):
    """The policy of one market, or the shared default when `market_id` is empty."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("markets.id"), unique=True)
    name: Mapped[str] = mapped_column(String(120))

    market: Mapped[Market | None] = relationship()
    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.number.desc()"
    )


class PolicyVersion(CreatedAt, Base):
    __tablename__ = "policy_versions"
    __table_args__ = (UniqueConstraint("policy_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    number: Mapped[int]
    status: Mapped[PolicyStatus] = mapped_column(str_enum(PolicyStatus))
    text: Mapped[str] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    policy: Mapped[Policy] = relationship(back_populates="versions")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
