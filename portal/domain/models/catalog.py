"""The seller's side: shops, markets, return addresses, products and ad campaigns."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import AddressKind, Channel
from portal.domain.models.base import Base, CreatedAt
from portal.domain.types import MONEY, str_enum


class Shop(CreatedAt, Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    company_name: Mapped[str] = mapped_column(String(120))
    platform: Mapped[str] = mapped_column(String(32), default="tiktok_shop")
    external_shop_id: Mapped[str] = mapped_column(String(64), unique=True)

    markets: Mapped[list[Market]] = relationship(back_populates="shop", order_by="Market.code")


class Market(Base):
    """A country the shop sells into, with its currency, clock and buyers' language."""

    __tablename__ = "markets"
    __table_args__ = (UniqueConstraint("shop_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    code: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    return_window_days: Mapped[int] = mapped_column(default=30)

    shop: Mapped[Shop] = relationship(back_populates="markets")
    return_addresses: Mapped[list[ReturnAddress]] = relationship(back_populates="market")


class ReturnAddress(Base):
    __tablename__ = "return_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), index=True)
    kind: Mapped[AddressKind] = mapped_column(str_enum(AddressKind))
    label: Mapped[str] = mapped_column(String(120))
    recipient: Mapped[str] = mapped_column(String(120))
    street: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(40))
    # Comma-separated tracked carriers the buyer may use for this address.
    carriers: Mapped[str] = mapped_column(String(200), default="")
    is_default: Mapped[bool] = mapped_column(default=False)

    market: Mapped[Market] = relationship(back_populates="return_addresses")


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("shop_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32), index=True)
    base_price_usd: Mapped[Decimal] = mapped_column(MONEY)
    customizable: Mapped[bool] = mapped_column(default=False)
    image_sha256: Mapped[str | None] = mapped_column(String(64))


class Campaign(Base):
    """An ad campaign that brought buyers in."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel), default=Channel.AD)


class ExchangeRate(Base):
    """How many US dollars one unit of a currency buys, for the policy's `value_usd`."""

    __tablename__ = "exchange_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    usd_per_unit: Mapped[Decimal] = mapped_column(Numeric(18, 8, asdecimal=True))
