"""The state shared by the demo builders: randomness, clock, the shop's rows and the attachment cache."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.demo.catalog_data import MarketSpec
from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.models import (
    Campaign,
    Case,
    Market,
    Policy,
    PolicyVersion,
    Product,
    ReturnAddress,
    Shipment,
    Shop,
    User,
)

CENT = Decimal("0.01")


def money(value: Decimal | int) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def local_price(usd: Decimal, currency: str, usd_per_unit: Decimal) -> Decimal:
    """A shelf price in the market's currency: .99 endings, and .90 in ringgit as Malaysian shops do."""
    whole = max(Decimal(1), (usd / usd_per_unit).to_integral_value(rounding=ROUND_HALF_UP))
    if currency == "MYR":
        return money(whole - Decimal("0.10"))
    return money(whole - CENT)


@dataclass
class World:
    session: Session
    store: AttachmentStore
    rng: random.Random
    now: datetime
    rates: dict[str, Decimal]
    shop: Shop | None = None
    markets: dict[str, Market] = field(default_factory=dict)
    specs: dict[str, MarketSpec] = field(default_factory=dict)
    # Default address first.
    addresses: dict[str, list[ReturnAddress]] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    ad_campaigns: list[Campaign] = field(default_factory=list)
    ad_weights: list[float] = field(default_factory=list)
    other_campaigns: dict[str, list[Campaign]] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    # Per market, the versions in the order they were published: (published_at, version, compiled policy).
    policy_history: dict[str, list[tuple[datetime, PolicyVersion, Any]]] = field(default_factory=dict)
    # Tracking events are inserted in bulk once their shipments have ids.
    tracking: list[tuple[Shipment, dict[str, Any]]] = field(default_factory=list)
    # Case timelines likewise: many small rows that nothing reads back while seeding.
    case_events: list[tuple[Case, dict[str, Any]]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    issued: set[str] = field(default_factory=set)  # RMA and dispute numbers already handed out
    _attachments: set[str] = field(default_factory=set)
    _ids: dict[type[Any], int] = field(default_factory=dict)

    @property
    def shop_id(self) -> int:
        assert self.shop is not None and self.shop.id is not None, "flush the shop first"
        return self.shop.id

    def attach(self, data: bytes, content_type: str = "image/png") -> str:
        """Store a file once and return its SHA-256.

        The cache matters: two identical files before a flush would otherwise add two pending
        Attachment rows with the same key.
        """
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._attachments:
            self._attachments.add(digest)
            attachment = store_attachment(self.session, self.store, data, content_type)
            if attachment in self.session.new:
                self.counts["attachments"] += 1
        return digest

    def add_tracking(self, shipment: Shipment, status: str, description: str, location: str | None,
                     when: datetime, source: str = "carrier") -> None:
        self.tracking.append((shipment, {"status": status, "description": description, "location": location,
                                         "occurred_at": when, "source": source}))

    def new_id(self, model: type[Any]) -> int | None:
        """The next primary key of a table on SQLite, handed out here so the ORM inserts rows in batches.

        With keys unknown, SQLite's RETURNING forces one INSERT per row. PostgreSQL batches RETURNING
        well, and keys given there would leave its sequences behind, so it numbers the rows itself.
        """
        if self.session.get_bind().dialect.name != "sqlite":
            return None
        if model not in self._ids:
            self._ids[model] = self.session.scalar(select(func.max(model.id))) or 0
        self._ids[model] += 1
        return self._ids[model]

    def add_case_event(self, case: Case, row: dict[str, Any]) -> None:
        self.case_events.append((case, row))

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(hours=self.rng.uniform(low, high))

    def days(self, low: float, high: float) -> timedelta:
        return timedelta(days=self.rng.uniform(low, high))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p
