"""Small builders for the rows most tests need: a shop, a market, an order and a case."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from portal.domain.enums import (
    AddressKind,
    CaseReason,
    CaseStatus,
    CaseType,
    Channel,
    OrderStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.models import (
    Buyer,
    Case,
    CaseItem,
    Market,
    Order,
    OrderItem,
    ReturnAddress,
    Shipment,
    Shop,
    TrackingEvent,
)
from portal.domain.types import utcnow

_seq = itertools.count(1)


def shop_with_market(session: Session, code: str = "US", currency: str = "USD") -> tuple[Shop, Market]:
    n = next(_seq)
    shop = Shop(name=f"Test shop {n}", company_name="Testco", external_shop_id=f"shop-{n}")
    market = Market(
        shop=shop, code=code, name=code, currency=currency, timezone="America/New_York", language="en"
    )
    session.add_all(
        [
            shop,
            market,
            ReturnAddress(
                market=market,
                kind=AddressKind.LOCAL_WAREHOUSE,
                label="Main",
                recipient="Testco Returns",
                street="1 Dock St",
                city="Newark",
                region="NJ",
                postcode="07101",
                country=code,
                phone="+1 555 0100",
                carriers="UPS,FedEx",
                is_default=True,
            ),
        ]
    )
    session.flush()
    return shop, market


def make_case(
    session: Session,
    market: Market,
    *,
    number: str | None = None,
    type: CaseType = CaseType.RETURN_AND_REFUND,
    reason: CaseReason = CaseReason.SIZE,
    status: CaseStatus = CaseStatus.NEW,
    value: str = "25.00",
    opened_at: datetime | None = None,
    buyer_name: str = "Jordan M.",
    tracking_number: str | None = None,
) -> Case:
    n = next(_seq)
    opened_at = opened_at or utcnow() - timedelta(hours=n)
    buyer = Buyer(
        shop_id=market.shop_id,
        pseudonym=f"tts_b_{n:06d}",
        display_name=buyer_name,
        market=market,
        language=market.language,
        timezone=market.timezone,
        orders_count=2,
    )
    order = Order(
        shop_id=market.shop_id,
        market=market,
        buyer=buyer,
        external_order_id=f"57700{n:08d}",
        channel=Channel.LIVE,
        status=OrderStatus.DELIVERED,
        currency=market.currency,
        total_amount=Decimal(value),
        placed_at=opened_at - timedelta(days=6),
        delivered_at=opened_at - timedelta(days=1),
    )
    item = OrderItem(
        order=order,
        sku=f"SKU-{n}",
        title="Linen shirt",
        category="apparel",
        quantity=1,
        unit_price=Decimal(value),
        currency=market.currency,
    )
    shipment = Shipment(
        order=order,
        kind=ShipmentKind.OUTBOUND,
        carrier="UPS",
        tracking_number=tracking_number or f"1Z999{n:010d}",
        status=TrackingStatus.DELIVERED,
        shipped_at=opened_at - timedelta(days=5),
        delivered_at=opened_at - timedelta(days=1),
    )
    shipment.events.append(
        TrackingEvent(
            status=TrackingStatus.DELIVERED,
            description="Delivered, front door",
            location="Austin, US",
            occurred_at=opened_at - timedelta(days=1),
        )
    )
    case = Case(
        number=number or f"AS-{n:06d}",
        shop_id=market.shop_id,
        market=market,
        order=order,
        buyer=buyer,
        type=type,
        reason=reason,
        status=status,
        value=Decimal(value),
        currency=market.currency,
        opened_at=opened_at,
    )
    case.items.append(CaseItem(order_item=item, quantity=1))
    session.add_all([buyer, order, item, shipment, case])
    session.flush()
    return case


TEST_POLICY = """policy "Test returns"
rule "cheap": if value < 10 then refund_without_return
if type == "return_and_refund" then approve_return
if type == "refund_only" and reason == "damaged" then partial_refund 20%
else manual_review

on inspection_done:
  rule "passed": if inspection.result == "pass" then refund
  else assign "qc"

on deadline "nudge":
  if value >= 0 then notify "tracking_stale"
"""


def publish_policy(session: Session, text: str = TEST_POLICY, market: Market | None = None, number: int = 1):
    """A published policy version for `market` (or the shared default)."""
    from portal.domain.enums import PolicyStatus
    from portal.domain.models import Policy, PolicyVersion

    policy = Policy(name=f"Policy {next(_seq)}", market=market)
    version = PolicyVersion(
        policy=policy, number=number, status=PolicyStatus.PUBLISHED, text=text, published_at=utcnow()
    )
    session.add_all([policy, version])
    session.flush()
    return version
