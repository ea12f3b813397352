"""The auditors' trail on PostgreSQL: one page with each filter, and the CSV export, against a large log.

Run by hand:  .venv/bin/python benchmarks/audit_trail_bench.py [--entries 500000] [--runs 7] [--export 20000]

Fills a throwaway PostgreSQL with ENTRIES audit entries (40 people, 50,000 cases, a year of time), then
times whole requests in-process (sign-in cookie, rendering, everything): the first page unfiltered, by
person, by action family, by case, by one day, and all together, and the CSV export of EXPORT entries.
Baseline, measured in the same run: the cheapest read of the log there is, the newest 50 rows by primary
key straight from SQL; each figure is printed with its ratio to that. Target: a page under 300 ms. --with-index then measures the pages again with an index on
(occurred_at, id), which the schema does not have.
"""

# The fill is SQL in strings, one row expression per line.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import text  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain.enums import Role  # noqa: E402
from portal.domain.users import hash_password  # noqa: E402

PEOPLE = 40


def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (id, email, name, password_hash, role, active, created_at) "
            "SELECT g, 'person' || g || '@example.test', 'Person ' || g, :hash, :role, true, now() "
            "FROM generate_series(1, :people) g"
        ), {"hash": hash_password("bench-password"), "role": Role.AUDITOR.value, "people": PEOPLE})
        conn.execute(text("SELECT setval('users_id_seq', :people)"), {"people": PEOPLE})
        conn.execute(text(
            """INSERT INTO audit_log (occurred_at, actor_id, actor_label, action, entity_type, entity_id, details)
               SELECT now() - make_interval(secs => (n * 63)::double precision),
                      CASE WHEN n % 5 = 0 THEN NULL ELSE n % :people + 1 END,
                      CASE WHEN n % 5 = 0 THEN 'scheduler' ELSE 'person' || (n % :people + 1) || '@example.test' END,
                      CASE n % 4 WHEN 0 THEN 'case.status_changed' WHEN 1 THEN 'case.note'
                                 WHEN 2 THEN 'user.login' ELSE 'policy.published' END,
                      CASE WHEN n % 4 < 2 THEN 'case' ELSE 'user' END,
                      CASE WHEN n % 4 < 2 THEN 'AS-' || (n % 50000) ELSE (n % :people + 1)::text END,
                      json_build_object('kind', 'status_changed', 'from', 'new', 'to', 'in_review')
               FROM generate_series(1, :count) AS n"""
        ), {"count": count, "people": PEOPLE})
        conn.execute(text("ANALYZE"))
    engine.dispose()


def timed(runs: int, work: Callable[[], object]) -> float:
    work()  # warm caches and compiled statements
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--export", type=int, default=20_000)
    parser.add_argument("--with-index", action="store_true", help="then add an index on the trail's order")
    options = parser.parse_args()
    from support.app import csrf_token
    from support.postgres import PostgresCluster

    cluster = PostgresCluster()
    cluster.start()
    try:
        url = cluster.create_database("audit_trail_bench")
        migrate.upgrade(url)
        started = time.perf_counter()
        fill(url, options.entries)
        print(f"{options.entries:,} audit entries in {time.perf_counter() - started:.1f}s")
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True,
                          "ATTACHMENTS_DIR": tempfile.mkdtemp()})
        client = app.test_client()
        token = csrf_token(client)
        client.post("/login", data={"email": "person1@example.test", "password": "bench-password",
                                    "csrf_token": token})
        engine = app.extensions["database"].engine

        def baseline() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT * FROM audit_log ORDER BY id DESC LIMIT 50")).all()

        base = timed(options.runs, baseline)
        print(f"baseline: newest 50 rows by primary key in SQL: {base * 1000:.1f} ms")
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400))
        pages = {
            "first page, no filter": "/audit",
            "one person": "/audit?user=7",
            "no person (scheduler)": "/audit?user=none",
            "action family case.": "/audit?action=case.",
            "one case": "/audit?case=AS-1234",
            "one day, a month ago": f"/audit?from={day}&to={day}",
            "all together": f"/audit?from={day}&to={day}&user=7&action=case.",
        }
        def measure_pages() -> None:
            for name, address in pages.items():
                def page(address: str = address) -> None:
                    response = client.get(address)
                    assert response.status_code == 200, response.status_code
                elapsed = timed(options.runs, page)
                print(f"  {name:<24} {elapsed * 1000:7.1f} ms  ({elapsed / base:,.0f}x baseline)")

        measure_pages()

        with engine.connect() as conn:
            oldest = conn.scalar(text(
                "SELECT occurred_at FROM audit_log ORDER BY occurred_at DESC OFFSET :n LIMIT 1"),
                {"n": options.export})
        since = oldest.strftime("%Y-%m-%d")

        def export() -> int:
            response = client.get(f"/audit/export.csv?from={since}")
            return sum(chunk.count(b"\n") for chunk in response.response)  # type: ignore[union-attr]

        rows = export()
        elapsed = timed(max(1, options.runs // 3), export)
        print(f"  CSV export of {rows - 1:,} entries: {elapsed:.2f}s ({(rows - 1) / elapsed:,.0f} entries/s)"
              f" [load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]")
        if options.with_index:
            # Not in the schema: what an index on the trail's order would buy, to decide whether to add one.
            with engine.begin() as conn:
                conn.execute(text("CREATE INDEX bench_audit_log_time ON audit_log (occurred_at, id)"))
                conn.execute(text("ANALYZE audit_log"))
            print("with an index on audit_log (occurred_at, id):")
            measure_pages()
        engine.dispose()
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
