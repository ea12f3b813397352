"""Times a policy simulation over 100,000 cases by hand: reading the facts, deciding both versions, total.

Run: python benchmarks/simulation_bench.py [--cases N] [--postgres]
The cases are bulk-inserted into a temporary SQLite database (or a throwaway PostgreSQL cluster), each
with its `case_opened` decision and, for one in five, a `return_received` decision, both with the facts
they were made on, as the portal records them. A second run replays the same cases as if they had been
decided before facts were kept, which rebuilds the facts from the tables.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from portal import migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain.backtest import stored_facts  # noqa: E402
from portal.domain.enums import (  # noqa: E402
    CaseReason,
    CaseStatus,
    CaseType,
    Channel,
    OrderStatus,
    PolicyStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.models import (  # noqa: E402
    Buyer,
    Case,
    CaseItem,
    Decision,
    ExchangeRate,
    Market,
    Order,
    OrderItem,
    Policy,
    PolicyVersion,
    Shipment,
    Shop,
)
from portal.domain.simulation import bulk_facts, simulate  # noqa: E402

PUBLISHED = """policy "US"
if item.customized then reject "Personalised items cannot be returned"
if days_since_delivery > 30 then reject "Outside the 30-day return window"
if value < 10 then refund_without_return
rule "high value": if value >= 500 then request_evidence "video", assign "senior"
if reason == "damaged" and evidence.photos >= 1 then partial_refund 30%
if reason in ["size", "changed_mind"] and channel != "ad" then approve_return, notify "return_approved"
else manual_review

on return_received:
  if value < 100 then refund
  else manual_review
"""
DRAFT = (
    PUBLISHED.replace("value < 10", "value < 15")
    .replace("partial_refund 30%", "coupon 5")
    .replace("value < 100 then refund", "value < 80 then refund")
)
TARGET_SECONDS = 3.0
CATEGORIES = ["apparel", "jewelry", "electronics", "beauty", "home", "accessories"]
BATCH = 10_000


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def build(session: Session, count: int, now: datetime) -> tuple[Policy, PolicyVersion]:
    rng = random.Random(7)
    shop = Shop(name="Bench shop", company_name="Bench", external_shop_id="bench")
    market = Market(
        shop=shop, code="US", name="United States", currency="USD", timezone="America/New_York", language="en"
    )
    session.add_all([shop, market, ExchangeRate(currency="USD", usd_per_unit=Decimal(1))])
    session.flush()
    buyers = [
        {
            "id": i + 1,
            "shop_id": shop.id,
            "pseudonym": f"b{i}",
            "display_name": f"Buyer {i}",
            "market_id": market.id,
            "language": "en",
            "timezone": "America/New_York",
            "orders_count": rng.randint(1, 9),
            "returns_90d": rng.randint(0, 3),
        }
        for i in range(count // 5)
    ]
    orders, items, shipments, cases, case_items = [], [], [], [], []
    for i in range(count):
        opened = now - timedelta(minutes=rng.randint(10, 30 * 24 * 60 - 10))
        value = Decimal(rng.randint(300, 60000)) / 100
        placed = opened - timedelta(days=rng.randint(3, 40))
        delivered = placed + timedelta(days=rng.randint(2, 9))
        orders.append(
            {
                "id": i + 1,
                "shop_id": shop.id,
                "market_id": market.id,
                "buyer_id": rng.randint(1, len(buyers)),
                "external_order_id": f"o{i}",
                "channel": rng.choice(list(Channel)),
                "status": OrderStatus.DELIVERED,
                "currency": "USD",
                "total_amount": value,
                "placed_at": placed,
                "delivered_at": delivered,
                "created_at": placed,
            }
        )
        items.append(
            {
                "id": i + 1,
                "order_id": i + 1,
                "sku": f"SKU-{i % 500}",
                "title": "Item",
                "category": rng.choice(CATEGORIES),
                "quantity": 1,
                "unit_price": value,
                "currency": "USD",
                "customized": rng.random() < 0.03,
            }
        )
        shipments.append(
            {
                "order_id": i + 1,
                "kind": ShipmentKind.OUTBOUND,
                "carrier": "UPS",
                "tracking_number": f"1Z{i:09d}",
                "status": TrackingStatus.DELIVERED,
                "delivered_at": delivered,
                "created_at": placed,
            }
        )
        cases.append(
            {
                "id": i + 1,
                "number": f"AS-{i:07d}",
                "shop_id": shop.id,
                "market_id": market.id,
                "order_id": i + 1,
                "buyer_id": orders[-1]["buyer_id"],
                "type": CaseType.RETURN_AND_REFUND,
                "reason": rng.choice(list(CaseReason)),
                "status": CaseStatus.NEW,
                "queue": "general",
                "value": value,
                "currency": "USD",
                "opened_at": opened,
                "updated_at": opened,
                "version": 1,
                "waiting_for_buyer": False,
                "on_hold": False,
                "escalated": False,
            }
        )
        case_items.append({"case_id": i + 1, "order_item_id": i + 1, "quantity": 1})
    for model, rows in (
        (Buyer, buyers),
        (Order, orders),
        (OrderItem, items),
        (Shipment, shipments),
        (Case, cases),
        (CaseItem, case_items),
    ):
        for chunk in _chunks(rows):
            session.execute(insert(model), chunk)
    session.flush()
    decisions = []
    for row, facts in bulk_facts(session, [Case.market_id == market.id]):
        decided = {"event": "case_opened", "decided_at": row.opened_at}
        decisions.append({"case_id": row.id, "facts": stored_facts.encode(facts), **decided})
        if row.id % 5 == 0:
            later = {"event": "return_received", "decided_at": row.opened_at + timedelta(days=3)}
            decisions.append({"case_id": row.id, "facts": stored_facts.encode(facts), **later})
    for chunk in _chunks(decisions):
        session.execute(
            insert(Decision),
            [{"actions": [], "explanation": {}, "automated": True, **decision} for decision in chunk],
        )
    policy = Policy(name="US policy", market_id=market.id)
    session.add(policy)
    session.flush()
    session.add(
        PolicyVersion(
            policy_id=policy.id, number=1, status=PolicyStatus.PUBLISHED, text=PUBLISHED, published_at=now
        )
    )
    draft = PolicyVersion(policy_id=policy.id, number=2, status=PolicyStatus.DRAFT, text=DRAFT)
    session.add(draft)
    session.commit()
    return policy, draft


def replay(engine: Any, policy_id: int, draft_id: int, now: datetime, label: str) -> float:
    with Session(engine) as session:
        reports: list[int] = []
        started = time.perf_counter()
        cpu = time.process_time()
        result = simulate(
            session,
            session.get(Policy, policy_id),
            session.get(PolicyVersion, draft_id),
            30,
            until=now,
            progress=lambda done, total: reports.append(done),
        )
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu
    by_event = ", ".join(f"{row['key']} {row['cases']:,}" for row in result["breakdown"]["event"])
    print(f"{label}:")
    print(f"  cases / decisions replayed: {result['cases']:>8,} / {result['total']:,} ({by_event})")
    print(f"  decisions changed:          {result['changed']:>8,}")
    print(f"  money delta (USD):          {result['money_delta'].get('USD', '0'):>8}")
    print(f"  read facts:                 {result['seconds']['facts']:>8.2f} s")
    print(f"  decide both versions:       {result['seconds']['decide']:>8.2f} s")
    print(f"  total:                      {total:>8.2f} s  (this process's CPU {cpu:.2f} s; target < "
          f"{TARGET_SECONDS:g} s)")
    return total


def run(url: str, count: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        started = time.perf_counter()
        policy, draft = build(session, count, now)
        policy_id, draft_id = policy.id, draft.id
        print(f"built {count:,} cases in {time.perf_counter() - started:.1f} s ({engine.dialect.name})")
    replay(engine, policy_id, draft_id, now, "every event, on the stored facts")
    with Session(engine) as session:
        session.execute(update(Decision).values(facts=None))
        session.commit()
    replay(engine, policy_id, draft_id, now, "decided before facts were kept: openings, facts rebuilt")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also run on a throwaway PostgreSQL cluster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db", args.cases)
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from support.postgres import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        try:
            run(cluster.create_database("simulation_bench"), args.cases)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
