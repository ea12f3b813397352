"""After-sales policies per market and their versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import PolicyStatus, PublishRequestStatus
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
    # Publishing needs a second ops manager's approval (see PublishRequest).
    requires_approval: Mapped[bool] = mapped_column(default=False, server_default=false())

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


class PublishRequest(CreatedAt, Base):
    """A manager asked to publish a draft; another ops manager approves (publishing it) or rejects it."""

    __tablename__ = "policy_publish_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id"))
    token: Mapped[str] = mapped_column(String(80))  # the draft as reviewed (policies.edit_token)
    comment: Mapped[str] = mapped_column(Text)  # why the change; becomes the version's comment
    status: Mapped[PublishRequestStatus] = mapped_column(str_enum(PublishRequestStatus))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)

    version: Mapped[PolicyVersion] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
