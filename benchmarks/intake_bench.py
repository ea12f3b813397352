"""Sustained TikTok Shop webhook intake on gunicorn (2 workers) and PostgreSQL, with 20% duplicates.

Run by hand:  .venv/bin/python benchmarks/intake_bench.py [--seconds 20] [--clients 8] [--duplicates 0.2]
              [--rate 300]  (a fixed rate in all, instead of as fast as the clients can send)

It starts a throwaway PostgreSQL cluster, migrates it, runs gunicorn with 2 workers on loopback, and
fires signed notifications from several client processes for the given time, re-sending 20% of them
(the platform's retries). Then it checks that every unique notification is stored exactly once (none
lost), processes the inbox the way the scheduler does, and prints both rates.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

APP_KEY, APP_SECRET = "bench-app", "bench-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(args: tuple[int, str, float, float, float]) -> dict[str, object]:
    """One sender: new notifications, and a share of re-sends of ones it already sent; at `rate` per
    second when given (sends on a fixed schedule, however slow the answers), else as fast as it can."""
    import requests

    from portal.domain.marketplace.signing import webhook_signature

    number, url, seconds, duplicates, rate = args
    rng = random.Random(number)
    http = requests.Session()
    sent_ids: list[str] = []
    bodies: dict[str, bytes] = {}
    accepted = failed = resent = 0
    latencies: list[float] = []
    end = time.monotonic() + seconds
    n = 0
    next_send = time.monotonic() + rng.random() / rate if rate else 0.0
    while time.monotonic() < end:
        if rate:
            time.sleep(max(0.0, next_send - time.monotonic()))
            next_send += 1 / rate
        fresh = None
        if sent_ids and rng.random() < duplicates:
            body = bodies[rng.choice(sent_ids)]
            resent += 1
        else:
            n += 1
            notification_id = fresh = f"bench-{number}-{n}"
            order = f"5770{number:03d}{rng.randrange(5000):06d}"
            body = json.dumps(
                {
                    "type": 1,
                    "tts_notification_id": notification_id,
                    "shop_id": "bench-shop",
                    "timestamp": int(time.time()),
                    "data": {
                        "order_id": order,
                        "order_status": rng.choice(["IN_TRANSIT", "DELIVERED", "COMPLETED"]),
                        "is_on_hold_order": False,
                        "update_time": int(time.time()) * 1000 + n,
                    },
                },
                separators=(",", ":"),
            ).encode()
        started = time.perf_counter()
        if rate:  # the time it waited behind a slow answer counts: the platform would be waiting too
            started -= max(0.0, time.monotonic() - (next_send - 1 / rate))
        try:
            response = http.post(
                url,
                data=body,
                timeout=10,
                headers={"Authorization": webhook_signature(APP_KEY, APP_SECRET, body)},
            )
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        latencies.append(time.perf_counter() - started)
        if ok:
            accepted += 1
            if fresh is not None:  # acknowledged: the portal must now have it
                bodies[fresh] = body
                sent_ids.append(fresh)
        else:
            failed += 1
    return {
        "accepted": accepted,
        "failed": failed,
        "resent": resent,
        "unique": len(sent_ids),
        "ids": sent_ids,
        "latencies": latencies,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=0,
                        help="notifications per second in all (0: as fast as the clients can send)")
    options = parser.parse_args()

    from sqlalchemy import func, select
    from support.postgres import PostgresCluster

    from portal import migrate
    from portal.db import make_engine
    from portal.domain.marketplace.processing import process_pending
    from portal.domain.models import MarketplaceEvent

    cluster = PostgresCluster()
    cluster.start()
    web = None
    try:
        url = cluster.create_database("intake_bench")
        migrate.upgrade(url)
        port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "bench",
            "TIKTOK_SHOP_APP_KEY": APP_KEY,
            "TIKTOK_SHOP_APP_SECRET": APP_SECRET,
            "TIKTOK_SHOP_API_URL": "",
            "THROTTLE_WEBHOOK_SOURCE": "off",  # every client here is one loopback source
        }
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        web = subprocess.Popen(
            [
                gunicorn,
                "--workers",
                "2",
                "--threads",
                "4",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )
        webhook = f"http://127.0.0.1:{port}/webhooks/tiktok-shop"
        _wait_for(port)

        print(
            f"Sending for {options.seconds:.0f} s from {options.clients} client processes, "
            f"{options.duplicates:.0%} duplicates, to gunicorn (2 workers x 4 threads) on PostgreSQL..."
        )
        started = time.perf_counter()
        with multiprocessing.Pool(options.clients) as pool:
            results = pool.map(
                _client, [(i, webhook, options.seconds, options.duplicates, options.rate / options.clients)
                 for i in range(options.clients)]
            )
        elapsed = time.perf_counter() - started
        accepted = sum(r["accepted"] for r in results)
        failed = sum(r["failed"] for r in results)
        resent = sum(r["resent"] for r in results)
        unique = {i for r in results for i in r["ids"]}
        latencies = sorted(t for r in results for t in r["latencies"])

        engine = make_engine(url)
        from sqlalchemy.orm import sessionmaker

        factory = sessionmaker(engine, expire_on_commit=False)
        with factory() as session:
            stored = set(session.scalars(select(MarketplaceEvent.notification_id)))
            rows = session.scalar(select(func.count()).select_from(MarketplaceEvent))
        lost = unique - stored
        print(
            f"accepted {accepted} requests in {elapsed:.1f} s: {accepted / elapsed:.0f} events/s "
            f"({resent} of them duplicates), {failed} failed"
        )
        print(
            f"latency median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, "
            f"max {latencies[-1] * 1000:.1f} ms (the platform's limit is 3000 ms)"
        )
        print(f"unique notifications acknowledged {len(unique)}, rows stored {rows}, lost {len(lost)}")

        started = time.perf_counter()
        result = process_pending(factory, None, batch=500)
        took = time.perf_counter() - started
        with factory() as session:
            waiting = session.scalar(
                select(func.count()).select_from(MarketplaceEvent).where(MarketplaceEvent.state == "pending")
            )
        print(
            f"processed {result.total} events in {took:.1f} s: {result.total / took:.0f} events/s "
            f"(applied {result.done}, older than held {result.stale}, failed {result.failed}); "
            f"{waiting} left waiting"
        )
        engine.dispose()
        if lost or rows != len(unique) or waiting:
            raise SystemExit("FAILED: notifications were lost, duplicated or left unprocessed")
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=10)
        cluster.stop()


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(1.0)  # let both workers finish booting
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    main()
