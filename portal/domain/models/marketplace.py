"""The marketplace connection: notification inbox, newest state per object, sync cursors, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base
from portal.domain.models.cases import Case
from portal.domain.types import utcnow


class MarketplaceEvent(Base):
    """One notification as received (raw body kept), and how processing it went.

    Webhooks and the reconciliation job both write here; the scheduler processes the rows afterwards.
    """

    __tablename__ = "marketplace_events"
    __table_args__ = (Index("ix_marketplace_events_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The marketplace's tts_notification_id (or "recon:..." for a repair found by reconciliation).
    notification_id: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[int]
    shop_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="webhook")
    body: Mapped[str] = mapped_column(Text)
    # pending → done | stale | ignored | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))


class MarketplaceEntity(Base):
    """The newest state heard of one marketplace object, so an older notification never overwrites it."""

    __tablename__ = "marketplace_entities"
    __table_args__ = (UniqueConstraint("kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # order, return, cancellation, package
    external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(64))
    # The marketplace's update_time (Unix seconds) of the state we hold.
    update_time: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    return_type: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    case: Mapped[Case | None] = relationship()


class MarketplaceSyncCursor(Base):
    """How far reconciliation has read one of the marketplace's lists (returns, cancellations, orders)."""

    __tablename__ = "marketplace_sync_cursors"

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource: Mapped[str] = mapped_column(String(32), primary_key=True)
    # Everything updated before this Unix time has been read.
    synced_until: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    repaired_total: Mapped[int] = mapped_column(default=0)


class MarketplaceCommand(Base):
    """A decision to tell the marketplace (approve, reject, refund), sent by the scheduler, once."""

    __tablename__ = "marketplace_commands"
    __table_args__ = (Index("ix_marketplace_commands_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # approve_return, reject_return, refund
    return_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Sent with every attempt, so a retry after a timeout cannot act twice on the marketplace.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # pending → sending (claimed, with a lease) → sent | failed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship()
