"""Queue and case page speed with 1,000,000 cases, on SQLite and PostgreSQL.

Run by hand:  .venv/bin/python benchmarks/queue_bench.py [--cases 1000000] [--backend sqlite|postgresql|both]

For each backend it fills a fresh database, then times the queue page (server time of the whole
request, in-process) with common filters, the same query as raw SQL, and the case page, and prints
median and p95. Target: queue p95 under 150 ms and within 3x of the raw query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import insert, text  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.domain.enums import (  # noqa: E402
    OPEN_STATUSES,
    CaseReason,
    CaseStatus,
    CaseType,
    Channel,
    DeadlineKind,
    DeadlineState,
    OrderStatus,
    Role,
)
from portal.domain.models import (  # noqa: E402
    Buyer,
    Case,
    CaseItem,
    Deadline,
    Market,
    Order,
    OrderItem,
    Shop,
    User,
)
from portal.domain.queue import CaseFilter, case_query, sort_keys  # noqa: E402
from portal.domain.types import NO_DEADLINE  # noqa: E402
from portal.domain.users import hash_password  # noqa: E402

QUERIES = {
    "default (open, by deadline)": "",
    "overdue": "view=overdue",
    "market + type": "market=DE&type=return_and_refund",
    "search order id": "q=5770012345",
    "search buyer name": "q=Buyer 1234",
    "value range + reason": "value_min=50&value_max=200&reason=size&status=all",
    "newest, all statuses": "status=all&sort=newest",
}
BATCH = 20_000


def fill(url: str, cases: int) -> None:
    from portal.db import make_engine

    rng = random.Random(7)
    engine = make_engine(url)
    now = datetime.now(UTC)
    statuses = list(CaseStatus)
    with engine.begin() as conn:
        conn.execute(
            insert(Shop),
            [
                {
                    "id": 1,
                    "name": "Bench",
                    "company_name": "Bench",
                    "platform": "tiktok_shop",
                    "external_shop_id": "bench",
                    "created_at": now,
                }
            ],
        )
        conn.execute(
            insert(Market),
            [
                {
                    "id": i + 1,
                    "shop_id": 1,
                    "code": code,
                    "name": code,
                    "currency": cur,
                    "timezone": "UTC",
                    "language": "en",
                    "return_window_days": 30,
                }
                for i, (code, cur) in enumerate([("US", "USD"), ("UK", "GBP"), ("DE", "EUR"), ("MY", "MYR")])
            ],
        )
        conn.execute(
            insert(User),
            [
                {
                    "id": 1,
                    "email": "agent@bench.test",
                    "name": "Agent",
                    "role": Role.CS_AGENT,
                    "password_hash": hash_password("bench-password"),
                    "active": True,
                    "created_at": now,
                }
            ],
        )
        buyers = max(1, cases // 20)
        for start in range(0, buyers, BATCH):
            conn.execute(
                insert(Buyer),
                [
                    {
                        "id": i + 1,
                        "shop_id": 1,
                        "pseudonym": f"b{i}",
                        "display_name": f"Buyer {i}",
                        "market_id": i % 4 + 1,
                        "language": "en",
                        "timezone": "UTC",
                        "orders_count": 2,
                        "returns_90d": 0,
                        "created_at": now,
                    }
                    for i in range(start, min(buyers, start + BATCH))
                ],
            )
    for start in range(0, cases, BATCH):
        rows = range(start, min(cases, start + BATCH))
        orders, items, case_rows, case_items, deadlines = [], [], [], [], []
        for i in rows:
            market = i % 4 + 1
            opened = now - timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            value = Decimal(rng.randint(500, 50000)) / 100
            orders.append(
                {
                    "id": i + 1,
                    "shop_id": 1,
                    "market_id": market,
                    "buyer_id": i % buyers + 1,
                    "external_order_id": f"577{i:010d}",
                    "channel": rng.choice(list(Channel)),
                    "status": OrderStatus.DELIVERED,
                    "currency": "USD",
                    "total_amount": value,
                    "placed_at": opened - timedelta(days=5),
                    "created_at": opened,
                }
            )
            items.append(
                {
                    "id": i + 1,
                    "order_id": i + 1,
                    "sku": f"SKU-{i % 200}",
                    "title": "Item",
                    "category": rng.choice(["jewelry", "apparel", "electronics", "beauty", "home"]),
                    "quantity": 1,
                    "unit_price": value,
                    "currency": "USD",
                    "customized": False,
                }
            )
            status = rng.choice(statuses)
            due = now + timedelta(hours=rng.randint(-48, 48)) if status in OPEN_STATUSES else NO_DEADLINE
            case_rows.append(
                {
                    "id": i + 1,
                    "number": f"AS-{i:07d}",
                    "shop_id": 1,
                    "market_id": market,
                    "order_id": i + 1,
                    "buyer_id": i % buyers + 1,
                    "type": rng.choice(list(CaseType)),
                    "reason": rng.choice(list(CaseReason)),
                    "status": status,
                    "queue": rng.choice(["general", "jewelry", "senior", "qc"]),
                    "assignee_id": 1 if i % 7 == 0 else None,
                    "value": value,
                    "currency": "USD",
                    "waiting_for_buyer": i % 11 == 0,
                    "on_hold": False,
                    "escalated": False,
                    "opened_at": opened,
                    "updated_at": opened,
                    "version": 1,
                    "next_deadline_at": due,
                }
            )
            case_items.append({"id": i + 1, "case_id": i + 1, "order_item_id": i + 1, "quantity": 1})
            if due != NO_DEADLINE:
                deadlines.append(
                    {
                        "case_id": i + 1,
                        "name": "seller_response",
                        "kind": DeadlineKind.PLATFORM,
                        "state": DeadlineState.PENDING,
                        "due_at": due,
                        "pauses_while_waiting": False,
                        "attempts": 0,
                        "fired_late": False,
                        "created_at": opened,
                    }
                )
        with engine.begin() as conn:
            for model, batch in (
                (Order, orders),
                (OrderItem, items),
                (Case, case_rows),
                (CaseItem, case_items),
                (Deadline, deadlines),
            ):
                conn.execute(insert(model), batch)
        print(f"  filled {min(cases, start + BATCH):,} cases", end="\r", flush=True)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    print()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(url: str, runs: int, only: str = "") -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"email": "agent@bench.test", "password": "bench-password"})
    factory = app.extensions["database"].sessionmaker
    print(f"  {'view':<32} {'page p50':>9} {'page p95':>9} {'SQL p50':>9} {'SQL p95':>9}  ratio")
    for name, query in QUERIES.items():
        if only not in name:
            continue
        page_times, sql_times = [], []
        args = dict(part.split("=") for part in query.split("&") if part)
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(f"/cases?{query}")
            page_times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            with app.test_request_context(f"/cases?{query}"):
                f = CaseFilter(
                    **{
                        k: v
                        for k, v in args.items()
                        if k in ("q", "status", "view", "market", "type", "reason", "sort")
                    },
                    value_min=Decimal(args["value_min"]) if "value_min" in args else None,
                    value_max=Decimal(args["value_max"]) if "value_max" in args else None,
                    me=1,
                    now=datetime.now(UTC),
                )
            statement = (
                case_query(f).order_by(*[k.desc() if d else k.asc() for k, d in sort_keys(f.sort)]).limit(51)
            )
            with factory() as session:
                started = time.perf_counter()
                session.execute(statement).all()
                sql_times.append((time.perf_counter() - started) * 1000)
        p50, p95 = statistics.median(page_times), percentile(page_times, 0.95)
        s50, s95 = statistics.median(sql_times), percentile(sql_times, 0.95)
        print(
            f"  {name:<32} {p50:>7.1f}ms {p95:>7.1f}ms {s50:>7.1f}ms {s95:>7.1f}ms"
            f"  {p95 / max(s95, 0.01):.1f}x"
        )
    case_times = []
    for i in range(runs):
        number = f"AS-{(i * 7919) % 1000:07d}"
        started = time.perf_counter()
        assert client.get(f"/cases/{number}").status_code == 200
        case_times.append((time.perf_counter() - started) * 1000)
    print(
        f"  {'case page':<32} {statistics.median(case_times):>7.1f}ms {percentile(case_times, 0.95):>7.1f}ms"
    )
    app.extensions["database"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--only", default="", help="measure only the views whose name contains this")
    options = parser.parse_args()
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    for backend in backends:
        cluster = None
        if backend == "sqlite":
            url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        else:
            from support.postgres import PostgresCluster

            cluster = PostgresCluster()
            cluster.start()
            url = cluster.create_database("bench")
        try:
            print(f"{backend}: {options.cases:,} cases")
            migrate.upgrade(url)
            started = time.perf_counter()
            fill(url, options.cases)
            print(f"  filled in {time.perf_counter() - started:.0f}s")
            measure(url, options.runs, options.only)
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()
