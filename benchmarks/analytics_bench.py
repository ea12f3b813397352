"""Analytics dashboard speed with 1,000,000 cases and 5,000,000 orders on PostgreSQL.

Run by hand:  .venv/bin/python benchmarks/analytics_bench.py [--cases 1000000] [--runs 15]

It starts a throwaway PostgreSQL, fills a year of orders (five per case) and cases with refunds,
returns, decisions, deadlines, agent targets, disputes, replies by agents and parcels in set-based SQL
(INSERT ... SELECT generate_series), then prints: the time to build every rollup from scratch; for the
default view (last 30 days, all markets), a filtered one (one market, 90 days), the last 365 days, twelve
whole months, a year from mid-month to mid-month and eleven months from a 2nd to a month's last day but
one, p50/p95 of reading the figures the previous way (every day's rows) and the current way (whole
months', whole dekads' and the days around them), with their ratio, and of the whole dashboard request
(in-process); the p95 of each year against the twelve whole months; and, after a case changes, the
time to refresh its day, dekad and month and the first dashboard request that follows.
Target: the whole year, all markets, under 500 ms p95.
"""

# The fill is SQL in strings, one row expression per line.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import select, text  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.domain import analytics as an  # noqa: E402
from portal.domain import analytics_build  # noqa: E402
from portal.domain.enums import CaseReason  # noqa: E402
from portal.domain.models import AnalyticsDirty, Case  # noqa: E402
from portal.domain.users import hash_password  # noqa: E402

YEAR_SECONDS = 365 * 86400

FILL = [
    (
        "shop and markets",
        """
        INSERT INTO shops (id, name, company_name, platform, external_shop_id, created_at)
        VALUES (1, 'Bench', 'Bench', 'tiktok_shop', 'bench', now());
        INSERT INTO markets (id, shop_id, code, name, currency, timezone, language, return_window_days) VALUES
          (1, 1, 'US', 'United States', 'USD', 'America/New_York', 'en', 30),
          (2, 1, 'UK', 'United Kingdom', 'GBP', 'Europe/London', 'en', 30),
          (3, 1, 'DE', 'Germany', 'EUR', 'Europe/Berlin', 'de', 30),
          (4, 1, 'MY', 'Malaysia', 'MYR', 'Asia/Kuala_Lumpur', 'ms', 30);
        INSERT INTO exchange_rates (currency, usd_per_unit) VALUES
          ('USD', 1), ('GBP', 1.27), ('EUR', 1.08), ('MYR', 0.21);
        INSERT INTO return_addresses (id, market_id, kind, label, recipient, street, city, postcode, country,
                                      phone, carriers, is_default)
        SELECT m, m, 'local_warehouse', 'W', 'Bench Returns', '1 Dock St', 'City', '00000', 'US', '+1', 'UPS', true
        FROM generate_series(1, 4) m;
        INSERT INTO campaigns (id, shop_id, external_id, name, channel)
        SELECT g, 1, 'c' || g, 'Campaign ' || g, 'ad' FROM generate_series(1, 50) g;
        INSERT INTO users (id, email, name, role, password_hash, active, created_at)
        SELECT g, 'agent' || g || '@bench.test', 'Agent ' || g, 'cs_agent', 'x', true, now()
        FROM generate_series(2, 21) g;
        INSERT INTO buyers (id, shop_id, pseudonym, display_name, market_id, language, timezone, orders_count,
                            returns_90d, created_at)
        SELECT g, 1, 'b' || g, 'Buyer ' || g, g % 4 + 1, 'en', 'UTC', 1, 0, now()
        FROM generate_series(1, :buyers) g;
    """,
    ),
    (
        "orders",
        """
        INSERT INTO orders (id, shop_id, market_id, buyer_id, external_order_id, channel, campaign_id, status,
                            currency, total_amount, placed_at, created_at)
        SELECT g, 1, g % 4 + 1, g % :buyers + 1, 'o' || g,
               (ARRAY['organic', 'live', 'video', 'ad', 'affiliate'])[(g / 4) % 5 + 1],
               CASE WHEN (g / 4) % 5 = 3 THEN (g * 31) % 50 + 1 END,
               'delivered', (ARRAY['USD', 'GBP', 'EUR', 'MYR'])[g % 4 + 1],
               ((g::bigint * 7919) % 50000) / 100.0 + 5,
               now() - make_interval(secs => (g::bigint * 104729) % :year), now()
        FROM generate_series(1, :orders) g;
    """,
    ),
    (
        "order items",
        """
        INSERT INTO order_items (id, order_id, sku, title, category, quantity, unit_price, currency, customized)
        SELECT o.id, o.id, 'SKU-' || ((o.id::bigint * 7919) % 1000003) % 200, 'Item',
               (ARRAY['apparel', 'jewelry', 'electronics', 'beauty', 'home'])[((o.id::bigint * 7919) % 1000003) % 5 + 1],
               1, o.total_amount, o.currency, false
        FROM orders o;
    """,
    ),
    (
        "parcels",
        """
        INSERT INTO shipments (id, order_id, kind, carrier, tracking_number, status, created_at)
        SELECT o.id, o.id, 'outbound', (ARRAY['UPS', 'FedEx', 'DHL', 'USPS', 'Royal Mail', 'J&T', 'Pos Laju', 'SF'])[o.id % 8 + 1],
               't' || o.id, CASE WHEN o.id % 37 = 0 THEN 'exception' ELSE 'delivered' END, o.placed_at
        FROM orders o;
    """,
    ),
    (
        "cases",
        """
        INSERT INTO cases (id, number, shop_id, market_id, order_id, buyer_id, type, reason, status, queue, value,
                           currency, waiting_for_buyer, on_hold, escalated, opened_at, first_response_at,
                           resolved_at, assignee_id, updated_at, next_deadline_at, version)
        SELECT g, 'AS-' || lpad(g::text, 8, '0'), 1, o.market_id, o.id, o.buyer_id,
               (ARRAY['refund_only', 'return_and_refund', 'exchange', 'not_received', 'delivery_failed',
                      'dispute'])[g % 6 + 1],
               (ARRAY['size', 'color', 'quality', 'damaged', 'missing_parts', 'not_as_described', 'wrong_item',
                      'changed_mind', 'not_received', 'late_delivery'])[(g * 7) % 10 + 1],
               (ARRAY['resolved', 'closed', 'in_review', 'rejected'])[g % 4 + 1], 'general',
               o.total_amount, o.currency, false, false, false,
               o.placed_at + make_interval(secs => 86400 + g % 7200),
               o.placed_at + make_interval(secs => 86400 + g % 7200 + (g::bigint * 13) % 100000),
               CASE WHEN g % 4 < 2 THEN o.placed_at + make_interval(secs => 86400 + g % 7200 + (g::bigint * 29) % 900000) END,
               CASE WHEN g % 7 > 0 THEN g % 20 + 2 END, now(), '9999-12-31 00:00:00+00', 1
        FROM generate_series(1, :cases) g JOIN orders o ON o.id = (g::bigint * 5 - (g % 5)) ;
        UPDATE cases SET opened_at = now() - interval '1 minute', first_response_at = NULL, resolved_at = NULL
        WHERE opened_at > now();
        INSERT INTO case_items (id, case_id, order_item_id, quantity) SELECT c.id, c.id, c.order_id, 1 FROM cases c;
    """,
    ),
    (
        "refunds, returns, decisions",
        """
        INSERT INTO refunds (case_id, kind, method, status, amount, currency, created_at)
        SELECT c.id, (ARRAY['full', 'partial', 'coupon'])[c.id % 3 + 1],
               CASE WHEN c.id % 3 = 2 THEN 'coupon' ELSE 'original_payment' END,
               CASE WHEN c.id % 50 = 0 THEN 'failed' ELSE 'completed' END,
               CASE WHEN c.id % 3 = 0 THEN c.value ELSE round(c.value * 0.2, 2) END, c.currency,
               c.opened_at + make_interval(secs => (c.id * 17) % 400000)
        FROM cases c WHERE c.id % 10 < 6;
        INSERT INTO returns (case_id, rma_number, status, return_address_id, shipping_payer, received_at, created_at)
        SELECT c.id, 'RMA' || c.id, 'received', c.market_id, 'buyer', c.opened_at + interval '5 days', c.opened_at
        FROM cases c WHERE c.id % 10 < 3;
        INSERT INTO decisions (case_id, event, rule_name, rule_line, actions, explanation, automated, decided_at)
        SELECT c.id, 'case_opened', 'rule ' || c.id % 8, c.id % 8 + 1,
               CASE WHEN c.id % 4 = 0 THEN '[{"name": "manual_review", "args": []}]'
                    ELSE '[{"name": "approve_return", "args": []}]' END::json, '{}'::json, true, c.opened_at
        FROM cases c WHERE c.id % 10 < 5;
    """,
    ),
    (
        "deadlines and disputes",
        """
        INSERT INTO deadlines (case_id, name, kind, clock, state, due_at, pauses_while_waiting, attempts, fired_late,
                               created_at)
        SELECT c.id, 'seller_response', 'platform', 'calendar',
               CASE WHEN c.id % 20 = 0 THEN 'fired' ELSE 'cancelled' END, c.opened_at + interval '48 hours',
               false, 0, false, c.opened_at
        FROM cases c;
        INSERT INTO disputes (case_id, reason, status, amount, currency, opened_at, respond_by)
        SELECT c.id, 'Escalated', (ARRAY['won', 'lost', 'open'])[c.id % 3 + 1], c.value, c.currency,
               c.opened_at + interval '3 days', c.opened_at + interval '6 days'
        FROM cases c WHERE c.id % 33 = 0;
        INSERT INTO deadlines (case_id, name, kind, clock, state, due_at, pauses_while_waiting, attempts, fired_late,
                               created_at)
        SELECT c.id, 'review_target', 'agent_sla', 'business',
               CASE WHEN c.id % 9 = 0 THEN 'fired' ELSE 'cancelled' END, c.opened_at + interval '8 hours',
               false, 0, false, c.opened_at
        FROM cases c WHERE c.assignee_id IS NOT NULL;
    """,
    ),
    (
        "replies",
        """
        INSERT INTO messages (case_id, direction, status, language, template, body, channel, author_id, attempts,
                              created_at)
        SELECT c.id, 'outbound', 'sent', 'en', 'reply', 'Hello', 'case_record',
               CASE WHEN c.id % 3 = 0 THEN NULL ELSE c.assignee_id END, 1, c.first_response_at
        FROM cases c WHERE c.first_response_at IS NOT NULL AND c.id % 2 = 0;
    """,
    ),
]
SEQUENCES = [
    "refunds",
    "returns",
    "decisions",
    "deadlines",
    "disputes",
    "messages",
    "cases",
    "orders",
    "order_items",
    "shipments",
    "case_items",
    "buyers",
    "campaigns",
    "return_addresses",
    "markets",
    "shops",
    "users",
]


def fill(url: str, cases: int) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    params = {"cases": cases, "orders": cases * 5, "buyers": max(1, cases // 4), "year": YEAR_SECONDS}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name, sql in FILL:
            started = time.perf_counter()
            for statement in filter(str.strip, sql.split(";")):
                for key, value in params.items():
                    statement = statement.replace(f":{key}", str(value))
                conn.execute(statement)
            print(f"  {name:<30} {time.perf_counter() - started:6.1f}s", flush=True)
        conn.execute(
            "INSERT INTO users (id, email, name, role, password_hash, active, created_at) "
            "VALUES (1, 'ops@bench.test', 'Ops', 'ops_manager', %s, true, now())",
            (hash_password("bench-password"),),
        )
        for table in SEQUENCES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':<30} {time.perf_counter() - started:6.1f}s", flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(url: str, runs: int, cases: int) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False})
    factory = app.extensions["database"].sessionmaker
    with factory() as session:
        started = time.perf_counter()
        built = analytics_build.rebuild_everything(session)
        elapsed = time.perf_counter() - started
        rows = session.scalar(text("SELECT count(*) FROM analytics_daily"))
        dekads = session.scalar(text("SELECT count(*) FROM analytics_dekads"))
        monthly = session.scalar(text("SELECT count(*) FROM analytics_monthly"))
    print(
        f"  built {built:,} market-days ({rows:,} daily, {dekads:,} dekad and {monthly:,} monthly rollup rows) "
        f"from scratch in {elapsed:.1f}s",
        flush=True,
    )

    client = app.test_client()
    client.post("/login", data={"email": "ops@bench.test", "password": "bench-password"})
    today = datetime.now(UTC).date()
    mid = today.replace(day=15) if today.day >= 15 else (today.replace(day=1) - timedelta(days=1)).replace(day=15)
    # From a month's 2nd to the day before a month's end: a month of days at either end without dekads.
    late = today.replace(day=1) - timedelta(days=2)
    early = (late - timedelta(days=320)).replace(day=2)
    months_end = today.replace(day=1) - timedelta(days=1)
    months_start = analytics_build.next_month(months_end.replace(day=1, year=months_end.year - 1))
    views = {
        "default (30 days, all markets)": (an.Period(today - timedelta(days=29), today), None, ""),
        "one market, 90 days": (
            an.Period(today - timedelta(days=89), today),
            3,
            f"market=DE&from={today - timedelta(days=89)}&to={today}",
        ),
        "whole year, all markets": (
            an.Period(today - timedelta(days=364), today),
            None,
            f"from={today - timedelta(days=364)}&to={today}",
        ),
        "twelve whole months, all markets": (
            an.Period(months_start, months_end),
            None,
            f"from={months_start}&to={months_end}",
        ),
        # Half a month of days at either end.
        "year to the 15th, all markets": (
            an.Period(mid - timedelta(days=364), mid),
            None,
            f"from={mid - timedelta(days=364)}&to={mid}",
        ),
        "2nd to a month's last but one": (an.Period(early, late), None, f"from={early}&to={late}"),
    }
    print(
        f"  {'view':<32} {'previous p50/p95':>17} {'now p50/p95':>14} {'p95 ratio':>9}"
        f" {'page p50/p95':>15}"
    )
    now_p95: dict[str, float] = {}
    for name, (period, market_id, query) in views.items():
        timed: dict[str, list[float]] = {"previous": [], "now": [], "page": []}
        before: an.Figures | None = None
        for _ in range(runs):
            for way, months in (("previous", False), ("now", True)):
                with factory() as session:
                    started = time.perf_counter()
                    figs = an.figures(session, period, market_id, months=months)
                    timed[way].append((time.perf_counter() - started) * 1000)
                    if before is None or way == "previous":
                        before = figs
                    else:
                        assert figs.total.counts == before.total.counts, "the two ways disagree"
                        assert figs.durations == before.durations, "the two ways disagree"
            started = time.perf_counter()
            response = client.get(f"/analytics?{query}")
            timed["page"].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code

        def cell(values: list[float]) -> str:
            return f"{statistics.median(values):.0f}/{percentile(values, 0.95):.0f}ms"

        now_p95[name] = percentile(timed["now"], 0.95)
        ratio = percentile(timed["previous"], 0.95) / now_p95[name]
        print(
            f"  {name:<32} {cell(timed['previous']):>17} {cell(timed['now']):>14} {ratio:8.1f}x"
            f" {cell(timed['page']):>15}",
            flush=True,
        )

    aligned = now_p95["twelve whole months, all markets"]
    for name in ("whole year, all markets", "year to the 15th, all markets", "2nd to a month's last but one"):
        print(f"  {name}: p95 {now_p95[name]:.0f}ms, {now_p95[name] / aligned:.2f}x the twelve whole months'")

    # A case changes: its day is marked in the same transaction, then rebuilt before the next read.
    refresh_times, first_page = [], []
    for i in range(5):
        with factory() as session:
            case = session.scalars(select(Case).where(Case.id == 1 + (1000 + i * 7919) % cases)).one()
            case.reason = CaseReason.WRONG_ITEM if case.reason != CaseReason.WRONG_ITEM else CaseReason.SIZE
            session.commit()
            assert session.scalar(select(text("count(*)")).select_from(AnalyticsDirty)) == 1
            started = time.perf_counter()
            analytics_build.refresh_dirty(session)
            refresh_times.append((time.perf_counter() - started) * 1000)
            case.reason = CaseReason.COLOR
            session.commit()
        opened = case.opened_at.date()
        started = time.perf_counter()
        assert client.get(f"/analytics?from={opened - timedelta(days=29)}&to={opened}").status_code == 200
        first_page.append((time.perf_counter() - started) * 1000)
    print(
        f"  refresh one changed market-day, its dekad and its month: p50 {statistics.median(refresh_times):.0f}ms, "
        f"max {max(refresh_times):.0f}ms"
    )
    print(
        f"  first dashboard after a change (refresh included): p50 {statistics.median(first_page):.0f}ms, "
        f"max {max(first_page):.0f}ms"
    )
    app.extensions["database"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="orders are five times as many")
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args()
    from support.postgres import PostgresCluster

    cluster = PostgresCluster()
    cluster.start()
    try:
        url = cluster.create_database("bench")
        print(f"postgresql: {options.cases:,} cases, {options.cases * 5:,} orders")
        migrate.upgrade(url)
        started = time.perf_counter()
        fill(url, options.cases)
        print(f"  filled in {time.perf_counter() - started:.0f}s")
        measure(url, options.runs, options.cases)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
