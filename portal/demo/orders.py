"""A month of sales for the demo: buyers, orders with their items, and the parcels that carried them."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from portal.demo import logistics
from portal.demo.catalog_data import (
    CUSTOM_NOTES,
    FIRST_NAMES,
    MARKETS,
    MY_CHINESE_NAMES,
    MY_CHINESE_SURNAMES,
    SURNAME_INITIALS,
    MarketSpec,
)
from portal.demo.world import World, local_price, money
from portal.domain.enums import Channel, OrderStatus, ShipmentKind, TrackingStatus
from portal.domain.models import Buyer, Campaign, Order, OrderItem, Product, Shipment

WINDOW_DAYS = 35
CHANNEL_WEIGHTS: dict[Channel, float] = {
    Channel.ORGANIC: 0.30, Channel.LIVE: 0.25, Channel.VIDEO: 0.20, Channel.AD: 0.15, Channel.AFFILIATE: 0.10,
}
# Share of a non-ad channel's orders credited to one of its campaigns (a creator code, a live drop).
CAMPAIGN_SHARE: dict[Channel, float] = {Channel.AFFILIATE: 0.5, Channel.LIVE: 0.4, Channel.VIDEO: 0.3}
CATEGORY_WEIGHTS: dict[str, float] = {
    "jewelry": 0.32, "apparel": 0.28, "electronics": 0.12, "beauty": 0.13, "home": 0.10, "accessories": 0.05,
}
# Buyers shop in the evening, when the live streams run.
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 5, 5, 6, 6, 5, 5, 6, 7, 9, 11, 13, 13, 10, 5)


@dataclass
class OrderRecord:
    """An order with what the case builder needs to know about its journey."""

    order: Order
    spec: MarketSpec
    city: str
    outbound: Shipment | None = None
    steps: list[logistics.Step] = field(default_factory=list)
    fate: str = "paid"  # paid, cancelled, in_transit, delivered, failed, lost
    shipped_at: datetime | None = None
    crossborder: bool = False

    @property
    def failed_at(self) -> datetime | None:
        return next((s[3] for s in self.steps if s[0] == "attempt_fail"), None)


@dataclass
class Pool:
    """Orders a kind of case can be opened on, sorted by the earliest moment a case makes sense."""

    anchors: list[datetime] = field(default_factory=list)
    records: list[OrderRecord] = field(default_factory=list)

    def add_all(self, items: list[tuple[datetime, OrderRecord]]) -> None:
        items.sort(key=lambda item: item[0])
        self.anchors = [a for a, _ in items]
        self.records = [r for _, r in items]

    def __len__(self) -> int:
        return len(self.records)

    def take(self, world: World, earliest: datetime, latest: datetime,
             prefer: Callable[[OrderRecord], bool] | None = None) -> tuple[datetime, OrderRecord] | None:
        """Remove and return an order whose anchor lies in [earliest, latest], else the latest one before.

        Within the window a few random orders are tried for one that `prefer` likes.
        """
        if not self.records:
            return None
        lo, hi = bisect.bisect_left(self.anchors, earliest), bisect.bisect_right(self.anchors, latest)
        if lo < hi:
            tries = [world.rng.randrange(lo, hi) for _ in range(8 if prefer else 1)]
            index = next((i for i in tries if prefer and prefer(self.records[i])), tries[0])
        elif hi > 0:
            index = hi - 1
        else:
            index = 0  # nothing early enough: the caller squeezes the case's story to fit
        return self.anchors.pop(index), self.records.pop(index)


def _pseudonym(world: World, taken: set[str]) -> str:
    while True:
        value = f"tts_b_{world.rng.getrandbits(48):012x}"
        if value not in taken:
            taken.add(value)
            return value


def _buyer(world: World, spec: MarketSpec, taken: set[str]) -> tuple[Buyer, int, int]:
    rng = world.rng
    language = spec.language
    if spec.code == "MY":
        language = rng.choices(["ms", "zh", "en"], [0.62, 0.32, 0.06])[0]
    if language == "zh":
        name = f"{rng.choice(MY_CHINESE_NAMES)} {rng.choice(MY_CHINESE_SURNAMES)}."
    else:
        name = f"{rng.choice(FIRST_NAMES[spec.code])} {rng.choice(SURNAME_INITIALS[spec.code])}."
    prior = 0 if rng.random() < 0.6 else int(rng.paretovariate(1.3))
    # A few regulars send a lot back: the buyers the policy's "serial returners" rule is about.
    prior_returns = min(prior, rng.randint(0, 4)) if prior >= 3 and rng.random() < 0.25 else 0
    pseudonym = _pseudonym(world, taken)
    # Demo buyers bought on the shop's own site, so the shop has their e-mail address.
    buyer = Buyer(id=world.new_id(Buyer), shop_id=world.shop_id, pseudonym=pseudonym,
                  display_name=name, market=world.markets[spec.code], language=language,
                  timezone=spec.timezone, email=f"{pseudonym.lower()}@buyers.demo.test")
    return buyer, prior, prior_returns


def _placed_at(world: World, spec: MarketSpec) -> datetime:
    rng = world.rng
    rough = world.now - timedelta(days=rng.uniform(0, WINDOW_DAYS))
    local = rough.astimezone(ZoneInfo(spec.timezone))
    hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
    local = local.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)
    placed = local.astimezone(UTC)
    return placed - timedelta(days=1) if placed > world.now else placed


def _campaign(world: World, channel: Channel) -> Campaign | None:
    if channel == Channel.AD:
        return world.rng.choices(world.ad_campaigns, world.ad_weights)[0]
    group = world.other_campaigns.get(channel.value)
    if group and world.rng.random() < CAMPAIGN_SHARE.get(channel, 0):
        return world.rng.choice(group)
    return None


def _items(world: World, order: Order, spec: MarketSpec, by_category: dict[str, list[Product]],
           prices: dict[tuple[str, str], Decimal]) -> Decimal:
    rng = world.rng
    total = Decimal(0)
    categories = [c for c in CATEGORY_WEIGHTS if by_category.get(c)]
    weights = [CATEGORY_WEIGHTS[c] for c in categories]
    chosen: set[str] = set()
    for _ in range(rng.choices((1, 2, 3), (0.70, 0.22, 0.08))[0]):
        product = rng.choice(by_category[rng.choices(categories, weights)[0]])
        if product.sku in chosen:
            continue
        chosen.add(product.sku)
        key = (product.sku, spec.currency)
        if key not in prices:
            prices[key] = local_price(product.base_price_usd, spec.currency, world.rates[spec.currency])
        cheap = product.base_price_usd < 30
        quantity = rng.choices((1, 2, 3), (0.86, 0.11, 0.03))[0] if cheap else 1
        customized = product.customizable and rng.random() < 0.85
        note = rng.choice(CUSTOM_NOTES.get(product.category, ("Custom order",))) if customized else None
        OrderItem(id=world.new_id(OrderItem), order=order, product=product, sku=product.sku,
                  title=product.title, category=product.category, quantity=quantity, unit_price=prices[key],
                  currency=spec.currency, customized=customized, customization_note=note)
        total += prices[key] * quantity
    return money(total)


def build_orders(world: World, n_orders: int, n_buyers: int, min_failed: int,
                 min_lost: int) -> dict[str, Pool]:
    rng, now = world.rng, world.now
    n_buyers = max(1, min(n_buyers, n_orders))
    taken: set[str] = set()
    codes = [spec.code for spec in MARKETS]
    shares = [spec.share for spec in MARKETS]
    buyers = [_buyer(world, world.specs[rng.choices(codes, shares)[0]], taken) for _ in range(n_buyers)]
    # Every buyer gets one order; the rest go mostly to buyers who already came back before.
    owners = list(range(n_buyers)) + rng.choices(range(n_buyers), [1 + p for _, p, _ in buyers],
                                                k=n_orders - n_buyers)
    by_category: dict[str, list[Product]] = defaultdict(list)
    for product in world.products:
        by_category[product.category].append(product)
    prices: dict[tuple[str, str], Decimal] = {}
    order_ids: set[str] = set()
    records: list[OrderRecord] = []
    for owner in owners:
        buyer = buyers[owner][0]
        spec = world.specs[buyer.market.code]
        channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        placed = _placed_at(world, spec)
        while (external := f"57{rng.randrange(10**15, 10**16)}") in order_ids:
            pass
        order_ids.add(external)
        order = Order(id=world.new_id(Order), shop_id=world.shop_id, market=world.markets[spec.code],
                      buyer=buyer, external_order_id=external, channel=channel,
                      campaign=_campaign(world, channel), status=OrderStatus.PAID, currency=spec.currency,
                      total_amount=Decimal(0), placed_at=placed, created_at=placed)
        order.total_amount = _items(world, order, spec, by_category, prices)
        records.append(OrderRecord(order, spec, rng.choice(spec.cities)))
    _ship(world, records, min_failed, min_lost)
    _history(world, buyers, records)
    world.session.add_all([b for b, _, _ in buyers])
    world.session.add_all([r.order for r in records])
    world.counts.update(buyers=len(buyers), orders=len(records),
                        order_items=sum(len(r.order.items) for r in records),
                        shipments=sum(1 for r in records if r.outbound is not None))
    return _pools(records, now)


def _ship(world: World, records: list[OrderRecord], min_failed: int, min_lost: int) -> None:
    rng, now = world.rng, world.now
    for record in records:
        order = record.order
        if rng.random() < 0.02:
            record.fate = "cancelled"
            order.status = OrderStatus.CANCELLED
            continue
        shipped = order.placed_at + world.days(0.3, 3)
        if shipped > now:
            continue
        record.shipped_at = shipped
        record.crossborder = rng.random() < (0.8 if record.spec.code == "MY" else 0.7)
        local_carrier = rng.choice(record.spec.local_carriers)
        carrier = rng.choice(record.spec.crossborder_carriers) if record.crossborder else local_carrier
        record.steps = logistics.outbound_trail(world, record.spec, shipped, record.crossborder, record.city,
                                                local_carrier)
        record.outbound = Shipment(id=world.new_id(Shipment), order=order, kind=ShipmentKind.OUTBOUND,
                                   carrier=carrier, tracking_number=logistics.tracking_number(rng, carrier),
                                   status=TrackingStatus.INFO_RECEIVED, shipped_at=shipped,
                                   created_at=shipped)
    complete = [r for r in records if r.steps and logistics.trail_end(r.steps) <= now]
    failed = rng.sample(complete, min(len(complete), max(min_failed, round(0.025 * len(records)))))
    for record in failed:
        record.steps = logistics.fail_delivery(world, record.steps)
        record.fate = "failed"
    # Lost parcels left the warehouse at least nine days ago and have not been scanned since.
    cutoff = now - timedelta(days=9)
    old = [r for r in records if r.fate == "paid" and r.shipped_at and r.shipped_at <= cutoff]
    for record in rng.sample(old, min(len(old), max(min_lost, round(0.03 * len(records))))):
        record.steps = logistics.stall(world, record.steps)
        record.fate = "lost"
    for record in records:
        if record.outbound is None:
            continue
        logistics.apply_trail(world, record.outbound, record.steps, now)
        status = record.outbound.status
        if status == TrackingStatus.DELIVERED:
            record.fate = "delivered"
            record.order.status = OrderStatus.DELIVERED
            record.order.delivered_at = record.outbound.delivered_at
        elif record.fate == "failed":
            record.order.status = OrderStatus.DELIVERY_FAILED
        else:
            record.fate = "lost" if record.fate == "lost" else "in_transit"
            record.order.status = OrderStatus.SHIPPED


def _history(world: World, buyers: list[tuple[Buyer, int, int]], records: list[OrderRecord]) -> None:
    placed: dict[int, list[datetime]] = defaultdict(list)
    for record in records:
        placed[id(record.order.buyer)].append(record.order.placed_at)
    for buyer, prior, prior_returns in buyers:
        times = placed[id(buyer)]
        first = min(times)
        if prior:
            first -= timedelta(days=world.rng.uniform(30, 420))
        buyer.orders_count = prior + len(times)
        buyer.returns_90d = prior_returns
        buyer.first_order_at = first
        buyer.created_at = first


def _pools(records: list[OrderRecord], now: datetime) -> dict[str, Pool]:
    """delivered: by delivery time; failed: by the failed attempt; lost: from when the buyer would worry."""
    grouped: dict[str, list[tuple[datetime, OrderRecord]]] = defaultdict(list)
    for record in records:
        if record.fate == "delivered" and record.order.delivered_at is not None:
            grouped["delivered"].append((record.order.delivered_at, record))
        elif record.fate == "failed" and record.failed_at is not None:
            grouped["failed"].append((record.failed_at, record))
        elif record.fate == "lost" and record.shipped_at is not None:
            grouped["lost"].append((record.shipped_at + timedelta(days=8), record))
    pools = {name: Pool() for name in ("delivered", "failed", "lost")}
    for name, items in grouped.items():
        pools[name].add_all(items)
    return pools
