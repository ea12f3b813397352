"""Durable background jobs under a worker crash: many CSV imports queued at once, two worker
processes, one of them SIGKILLed midway (PostgreSQL).

Run by hand:  .venv/bin/python benchmarks/job_bench.py [--imports 20] [--rows 10000] [--lease-seconds 30]

Queues IMPORTS order files of ROWS lines each (as the import page does), starts two
`flask --app wsgi worker run` processes, kills one with SIGKILL once a quarter of the imports are
done (it is then in the middle of another), and waits for the rest. The killed worker's import is
taken over when its lease runs out (LEASE_SECONDS), so the total includes that wait. It then checks
that every import landed exactly once: every batch done, every order there once, one audit entry each.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import func, select  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.domain.models import AuditEntry, ImportBatch, Job, Order  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imports", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    options = parser.parse_args()
    from support.factories import shop_with_market
    from support.imports import queue_import
    from support.postgres import PostgresCluster

    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(1))
    cluster = PostgresCluster()
    cluster.start()
    workdir = Path(tempfile.mkdtemp())
    workers: list[subprocess.Popen[bytes]] = []
    try:
        url = cluster.create_database("jobs")
        migrate.upgrade(url)
        config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "ATTACHMENTS_DIR": str(workdir / "att")}
        app = create_app(config)
        factory = app.extensions["database"].sessionmaker
        with factory() as session:
            _shop, market = shop_with_market(session)
            session.commit()
            started = time.perf_counter()
            for n in range(options.imports):
                queue_import(app, session, market, options.rows, f"B{n:02d}")
        queued = time.perf_counter() - started
        print(f"{options.imports} imports of {options.rows:,} rows queued in {queued:.1f}s")
        env = {**os.environ, **config, "PYTHONPATH": str(ROOT),
               "JOB_LEASE_SECONDS": str(options.lease_seconds)}
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "run"]
        started = time.perf_counter()
        workers = [subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.STDOUT,
                                    stdout=(workdir / f"worker{n}.log").open("w")) for n in range(2)]
        killed_at = None
        while True:
            with factory() as session:
                finished = Job.status.in_(("done", "failed"))
                done = session.scalar(select(func.count()).select_from(Job).where(finished)) or 0
            if killed_at is None and done >= max(1, options.imports // 4):
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                killed_at = time.perf_counter() - started
                print(f"  worker 1 SIGKILLed after {killed_at:.1f}s, {done} imports done")
            if done == options.imports:
                break
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        with factory() as session:
            statuses = dict(
                session.execute(select(ImportBatch.status, func.count()).group_by(ImportBatch.status)).all()
            )
            jobs = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
            retried = session.scalar(select(func.count()).select_from(Job).where(Job.attempts > 1))
            orders = session.scalar(select(func.count()).select_from(Order))
            distinct = session.scalar(select(func.count(func.distinct(Order.external_order_id))))
            audited = session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import.done")
            )
        expected = options.imports * ((options.rows + 1) // 2)
        rows = options.imports * options.rows
        print(f"all {options.imports} imports finished in {elapsed:.1f}s ({rows / elapsed:,.0f} rows/s, "
              f"including one lease of {options.lease_seconds:g}s after the kill)")
        print(f"  batches {statuses}, jobs {jobs}, taken over after the kill: {retried}")
        print(f"  orders {orders:,} (expected {expected:,}, distinct {distinct:,}), "
              f"import audit entries {audited}")
        ok = (statuses == {"done": options.imports} and orders == expected == distinct
              and audited == options.imports and retried >= 1)
        print("every import landed exactly once" if ok else "PROBLEM: see the figures above")
        if not ok:
            with factory() as session:
                for job in session.scalars(select(Job).where(Job.status != "done")):
                    print(f"  job {job.id} {job.status} after {job.attempts} attempts: {job.error}")
                    print((job.result or {}).get("traceback", "")[-1500:])
            raise SystemExit(1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=120)
        cluster.stop()


if __name__ == "__main__":
    main()
