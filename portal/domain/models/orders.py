"""What was sold: buyers, orders and their items, and the parcels that carried them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import Channel, OrderStatus, ShipmentKind, TrackingStatus
from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Campaign, Market, Product
from portal.domain.types import MONEY, str_enum


class Buyer(CreatedAt, Base):
    """A buyer known only by the marketplace's pseudonymous id, with their history counts."""

    __tablename__ = "buyers"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    language: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    orders_count: Mapped[int] = mapped_column(default=0)
    returns_90d: Mapped[int] = mapped_column(default=0)
    first_order_at: Mapped[datetime | None]
    # How to reach the buyer: an e-mail address (own-site, CSV and API orders) and, for marketplace
    # buyers, their user id and the customer-service conversation the shop has with them.
    email: Mapped[str | None] = mapped_column(String(254))
    marketplace_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)

    market: Mapped[Market] = relationship()


class Order(CreatedAt, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_market_placed", "market_id", "placed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)
    external_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus))
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[Decimal] = mapped_column(MONEY)
    placed_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    # Return-shipping insurance sold with the order (the insurer pays the return postage): None when
    # the intake did not say, which the policy reads as a missing fact, never as "not insured".
    return_insurance: Mapped[bool | None]
    return_insurer: Mapped[str | None] = mapped_column(String(80))

    market: Mapped[Market] = relationship()
    buyer: Mapped[Buyer] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id")
    shipments: Mapped[list[Shipment]] = relationship(back_populates="order", order_by="Shipment.id")


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    customized: Mapped[bool] = mapped_column(default=False)
    customization_note: Mapped[str | None] = mapped_column(String(200))

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product | None] = relationship()

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class Shipment(CreatedAt, Base):
    """A tracked parcel: the original delivery, a return, or a replacement."""

    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[ShipmentKind] = mapped_column(str_enum(ShipmentKind))
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[TrackingStatus] = mapped_column(str_enum(TrackingStatus))
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="shipments")
    events: Mapped[list[TrackingEvent]] = relationship(
        back_populates="shipment", order_by="TrackingEvent.occurred_at"
    )


class TrackingEvent(Base):
    __tablename__ = "tracking_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    status: Mapped[TrackingStatus] = mapped_column(str_enum(TrackingStatus))
    description: Mapped[str] = mapped_column(String(300))
    location: Mapped[str | None] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32), default="carrier")

    shipment: Mapped[Shipment] = relationship(back_populates="events")
