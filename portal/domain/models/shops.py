"""A shop's connection to the marketplace: its app, encrypted tokens, and where its authorisation stands."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Shop


class ShopConnection(CreatedAt, Base):
    """How the portal reaches one shop on the marketplace, authorised by the seller for that shop alone.

    Secrets and tokens are Fernet tokens (portal.domain.shops.secrets), never plain text. The row is
    also the token refresh's stored work (portal.domain.work.queues.SHOP_TOKENS): `refresh_state`,
    `refresh_due_at`, `refresh_attempts` and `refresh_error` are its claim columns.
    """

    __tablename__ = "shop_connections"
    __table_args__ = (Index("ix_shop_connections_refresh", "refresh_state", "refresh_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), unique=True)
    app_key: Mapped[str] = mapped_column(String(64))
    app_secret: Mapped[str] = mapped_column(Text)
    # During a secret rotation, the old secret still verifies webhooks until `previous_secret_until`.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None]
    access_token: Mapped[str | None] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    open_id: Mapped[str | None] = mapped_column(String(64))
    seller_name: Mapped[str | None] = mapped_column(String(120))
    shop_cipher: Mapped[str | None] = mapped_column(String(128))
    region: Mapped[str | None] = mapped_column(String(8))
    # pending (not authorised yet) → connected → deauthorised | failed (its token stopped working)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    # The marketplace said the authorisation expires soon (its notification type 7).
    expires_warning_at: Mapped[datetime | None]
    authorisation_expires_at: Mapped[datetime | None]
    # An authorisation under way: the SHA-256 of its `state`, until when it is valid, and who began it.
    auth_state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    auth_state_expires_at: Mapped[datetime | None]
    auth_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_tested_at: Mapped[datetime | None]
    last_test_error: Mapped[str | None] = mapped_column(Text)
    # idle (nothing to refresh) | scheduled → refreshing (leased) → scheduled | failed
    refresh_state: Mapped[str] = mapped_column(String(16), default="idle")
    refresh_due_at: Mapped[datetime | None]
    refresh_attempts: Mapped[int] = mapped_column(default=0)
    refresh_error: Mapped[str | None] = mapped_column(Text)
    last_refreshed_at: Mapped[datetime | None]

    shop: Mapped[Shop] = relationship()
