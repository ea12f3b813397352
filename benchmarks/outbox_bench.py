"""How fast the outbox delivers buyer messages through real channels, and that each is sent exactly once.

Run by hand:  .venv/bin/python benchmarks/outbox_bench.py [--messages 10000] [--processes 1 2]

Fills a fresh PostgreSQL database with MESSAGES queued buyer messages, half to buyers with an e-mail
address and half to marketplace buyers, then starts one (and, on a fresh copy, two) real scheduler
processes (`flask --app wsgi scheduler run`, MESSAGE_CHANNEL=auto) against a local SMTP server
(aiosmtpd) and the marketplace simulator, both on loopback in this process. It times how long until
nothing is queued, and checks that the SMTP server got each e-mail once (by Message-ID) and the
simulator each chat message once (by idempotency key). As a baseline on the same machine, in the same
run, it sends the same number of messages straight through smtplib and the marketplace client from one
thread, with no database: the ceiling of the two receivers themselves.

Target: 200 messages per second or more.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from queue_bench import fill  # noqa: E402
from sqlalchemy import text  # noqa: E402
from support.smtp import smtp_server  # noqa: E402

from portal import migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain.marketplace.client import MarketplaceClient  # noqa: E402
from portal.simulator.server import SimulatorServer  # noqa: E402
from portal.simulator.state import MarketplaceState  # noqa: E402

KEY, SECRET, TOKEN = "bench-key", "bench-secret", "bench-token"


def queue_messages(url: str, count: int) -> None:
    """COUNT queued messages over the cases: even buyers get e-mail, odd buyers are marketplace buyers."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE buyers SET email = 'buyer' || id || '@bench.test' WHERE id % 2 = 0"))
        conn.execute(text("UPDATE buyers SET marketplace_user_id = 'u' || id WHERE id % 2 = 1"))
        cases = conn.scalar(text("SELECT count(*) FROM cases"))
        conn.execute(
            text(
                """INSERT INTO messages (case_id, direction, status, language, template, body, subject,
                                         channel, attempts, idempotency_key, next_attempt_at, created_at)
                   SELECT (n % :cases) + 1, 'outbound', 'queued', 'en', NULL,
                          'Hello, this is message ' || n || ' about your order.', 'About your order',
                          'case_record', 0, 'bench-' || n, now(), now()
                   FROM generate_series(0, :count - 1) AS n"""
            ),
            {"cases": cases, "count": count},
        )
    engine.dispose()


def scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql))
    engine.dispose()
    return int(value or 0)


def run_schedulers(url: str, processes: int, smtp_port: int, api_url: str, workdir: Path) -> float:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench",
        "ATTACHMENTS_DIR": str(workdir / "att"),
        "SCHEDULER_INTERVAL_SECONDS": "0.2",
        "MESSAGE_CHANNEL": "auto",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "MAIL_FROM": "returns@bench.test",
        "TIKTOK_SHOP_APP_KEY": KEY,
        "TIKTOK_SHOP_APP_SECRET": SECRET,
        "TIKTOK_SHOP_ACCESS_TOKEN": TOKEN,
        "TIKTOK_SHOP_API_URL": api_url,
        # Reconciliation polls the simulator; keep it out of the way of the measurement.
        "MARKETPLACE_SYNC_SECONDS": "86400",
        "PYTHONPATH": str(ROOT),
    }
    started = time.perf_counter()
    running = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    try:
        deadline = started + 1800
        while time.perf_counter() < deadline:
            left = scalar(url, "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')")
            if left == 0:
                break
            time.sleep(0.2)
        else:
            raise SystemExit("the outbox did not empty in 30 minutes")
        return time.perf_counter() - started
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=30)


def baseline(count: int, smtp_port: int, api_url: str) -> float:
    """Messages per second straight to the two receivers from one thread, no database."""
    client = MarketplaceClient(base_url=api_url, app_key=KEY, app_secret=SECRET, access_token=TOKEN)
    conversation = client.request("POST", "/customer_service/202309/conversations", None,
                                  {"buyer_user_id": "baseline"})["conversation_id"]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        for n in range(count // 2):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "a@bench.test", "b@bench.test", "Baseline"
            mail.set_content(f"Baseline message {n}")
            smtp.send_message(mail)
    for n in range(count - count // 2):
        client.request("POST", f"/customer_service/202309/conversations/{conversation}/messages",
                       {"idempotency_key": f"baseline-{n}"},
                       {"type": "TEXT", "content": f'{{"content": "{n}"}}'})
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=2_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulator's request log
    # Stopped from outside: still stop the scheduler processes and the database cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    from support.postgres import PostgresCluster

    cluster = PostgresCluster()
    cluster.start()
    workdir = Path(tempfile.mkdtemp())
    print(f"outbox: {options.messages:,} queued messages (plus the fill's own), half e-mail, half "
          "marketplace chat (PostgreSQL)")
    try:
        for processes in options.processes:
            url = cluster.create_database(f"outbox{processes}")
            migrate.upgrade(url)
            fill(url, options.cases)
            queue_messages(url, options.messages)
            # Everything queued, the bench's messages and the few the demo-like fill left queued.
            queued = scalar(url, "SELECT count(*) FROM messages WHERE status = 'queued'")
            simulator = SimulatorServer(MarketplaceState(shop_id="bench"), KEY, SECRET, TOKEN).start()
            with smtp_server() as (inbox, port):
                base = baseline(min(2_000, options.messages), port, simulator.url)
                inbox.messages.clear()
                with simulator.state.lock:
                    simulator.state.conversations.clear()
                    simulator.state.idempotency.clear()
                seconds = run_schedulers(url, processes, port, simulator.url, workdir)
                ids = Counter(str(m["Message-ID"]) for m in inbox.messages)
                chat = Counter(m["idempotency_key"] for m in simulator.state.shop_messages())
            simulator.stop()
            failed = scalar(url, "SELECT count(*) FROM messages WHERE status = 'failed'")
            # Deadlines of the filled cases fire meanwhile and queue messages of their own: compare what
            # arrived with what the database says was sent, per channel.
            mailed = scalar(url, "SELECT count(*) FROM messages WHERE channel = 'email' AND status = 'sent'")
            chatted = scalar(url, "SELECT count(*) FROM messages WHERE channel = 'marketplace' "
                                  "AND status = 'delivered'")
            rate = queued / seconds
            print(f"  {processes} scheduler process(es): {seconds:.1f} s, {rate:,.0f} messages/s "
                  f"(receivers alone: {base:,.0f}/s, ratio {rate / base:.2f}); target ≥ 200/s "
                  f"{'met' if rate >= 200 else 'MISSED'}")
            print(f"    e-mails received {sum(ids.values()):,}, recorded as sent {mailed:,}, "
                  f"sent twice {sum(1 for c in ids.values() if c > 1)}; chat messages received "
                  f"{sum(chat.values()):,}, recorded as delivered {chatted:,}, "
                  f"twice {sum(1 for c in chat.values() if c > 1)}; failed {failed}")
            exact = (sum(ids.values()) == len(ids) == mailed and sum(chat.values()) == len(chat) == chatted
                     and failed == 0 and mailed + chatted >= queued)
            print(f"    each sent exactly once: {'yes' if exact else 'NO'}")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
