"""How fast the scheduler fires a flood of due deadlines on PostgreSQL, and what a sweep costs when
nothing is due.

Run by hand:  .venv/bin/python benchmarks/deadline_bench.py [--deadlines 100000] [--pending 1000000]

1. Fills a fresh PostgreSQL database with cases and DEADLINES deadlines all due now, starts one (then,
   on a second fresh copy, two) real scheduler processes (`flask --app wsgi scheduler run`), and times
   how long until every deadline has fired. Each firing is the real effect: timeline entry, audit entry
   and the policy's decision for `deadline "NAME"`, in one transaction.
2. Adds PENDING deadlines due in the future and times a sweep that finds nothing due.
It then checks that every deadline fired exactly once.

Each scheduler claims up to 500 due deadlines per transaction and fires them there (a savepoint per
deadline). `--audit unchained` runs the schedulers with audit appends that skip the audit chain's
global lock (see unchained_scheduler.py), to show what the lock costs; the default is the portal as is.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from queue_bench import fill  # noqa: E402
from sqlalchemy import text  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain import deadlines  # noqa: E402


def add_deadlines(url: str, count: int, due: str, name: str) -> None:
    """COUNT deadlines spread over the cases, due at the SQL expression DUE."""
    engine = make_engine(url)
    with engine.begin() as conn:
        cases = conn.scalar(text("SELECT count(*) FROM cases"))
        conn.execute(text(
            f"""INSERT INTO deadlines (case_id, name, kind, clock, state, due_at, pauses_while_waiting,
                                       attempts, fired_late, created_at)
                SELECT (n % :cases) + 1, :name || '_' || (n / :cases), 'policy', 'calendar', 'pending', {due},
                       false, 0, false, now()
                FROM generate_series(0, :count - 1) AS n"""
        ), {"cases": cases, "count": count, "name": name})
    engine.dispose()


def scalar(url: str, sql: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(text(sql))
    engine.dispose()
    return int(value or 0)


def cpu_seconds(pid: int, children: bool = True) -> float:
    """CPU time of a process (user + system) and, with `children`, of its children that have exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu(cluster: Any) -> float:
    """CPU time the PostgreSQL server has used so far: the postmaster, its exited backends, and the
    backends still running."""
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == postmaster:
                total += cpu_seconds(int(entry.name), children=False)
    return total


def fire_with(
    url: str, processes: int, total: int, workdir: Path, cluster: Any, unchained: bool = False
) -> float:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "ATTACHMENTS_DIR": str(workdir / "att"),
           "SCHEDULER_INTERVAL_SECONDS": "0.5", "PYTHONPATH": str(ROOT)}
    started, server_before = time.perf_counter(), server_cpu(cluster)
    command = ([sys.executable, str(ROOT / "benchmarks" / "unchained_scheduler.py")] if unchained
               else [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"])
    running = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
        last_report = started
        while True:
            # Pending whenever due: a deadline whose effect failed goes back to pending with a later due
            # time (the backoff), and is not done until it fired.
            left = scalar(url, "SELECT count(*) FROM deadlines "
                               "WHERE state = 'pending' AND name LIKE 'flood%'")
            if left == 0:
                break
            if time.perf_counter() - last_report > 30:
                done = total - left
                rate = done / (time.perf_counter() - started)
                print(f"    … {done:,} fired, {rate:,.0f}/s")
                last_report = time.perf_counter()
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        schedulers = sum(cpu_seconds(process.pid) for process in running)
        server = server_cpu(cluster) - server_before
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=60)
    fired = scalar(url, "SELECT count(*) FROM case_events WHERE kind = 'deadline_expired'")
    twice = scalar(url, """SELECT count(*) FROM (SELECT data->>'deadline_id' FROM case_events
                           WHERE kind = 'deadline_expired' GROUP BY 1 HAVING count(*) > 1) AS d""")
    retried = scalar(url, "SELECT count(*) FROM deadlines WHERE name LIKE 'flood%' AND attempts > 0")
    lock = "audit appends unchained (no global lock)" if unchained else "audit chain lock as today"
    print(f"  {processes} scheduler process(es), {lock}: {total:,} deadlines fired in {elapsed:.1f}s "
          f"({total / elapsed:,.0f}/s); timeline entries {fired:,}, fired twice: {twice}, "
          f"retried after a failed attempt: {retried:,}")
    # With one scheduler, what each deadline costs in CPU says how far two can go on this machine:
    # together they cannot use more than its cores.
    cores = os.cpu_count() or 1
    per = (schedulers + server) / total * 1e6
    print(f"    CPU per deadline: schedulers {schedulers / total * 1e6:,.0f} us, PostgreSQL "
          f"{server / total * 1e6:,.0f} us; {cores} cores allow at most {cores / per * 1e6:,.0f}/s")
    if retried:
        engine = make_engine(url)
        with engine.connect() as conn:
            for (error,) in conn.execute(text(
                "SELECT DISTINCT last_error FROM deadlines WHERE attempts > 0 LIMIT 3"
            )):
                causes = [line for line in (error or "").splitlines() if "Error:" in line]
                print("    failed attempt:", causes[-1][:300] if causes else (error or "")[-300:])
                if os.environ.get("BENCH_VERBOSE"):
                    print(error)
        engine.dispose()
    return elapsed


def flood(cluster: Any, name: str, cases: int, count: int) -> str:
    """A fresh database with CASES cases and COUNT deadlines all due a minute ago (and no others)."""
    url = cluster.create_database(name)
    migrate.upgrade(url)
    fill(url, cases)
    engine = make_engine(url)
    with engine.begin() as conn:  # only the benchmark's deadlines
        conn.execute(text("UPDATE deadlines SET state = 'cancelled'"))
    engine.dispose()
    add_deadlines(url, count, "now() - interval '1 minute'", "flood")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadlines", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2],
                        help="scheduler process counts to try, each on a fresh database")
    parser.add_argument("--audit", choices=["chained", "unchained"], nargs="+", default=["chained"],
                        help="audit appends as today (chained), and/or without the chain's lock")
    parser.add_argument("--skip-idle", action="store_true", help="skip the idle sweep measurement")
    options = parser.parse_args()
    from support.postgres import PostgresCluster

    # Stopped from outside: still stop the schedulers and the throwaway cluster (the finally blocks).
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(1))

    cluster = PostgresCluster()
    cluster.start()
    workdir = Path(tempfile.mkdtemp())
    try:
        timings: dict[tuple[str, int], float] = {}
        for mode in options.audit:
            for processes in options.processes:
                url = flood(cluster, f"bench_{mode}_{processes}", options.cases, options.deadlines)
                print(f"{options.deadlines:,} deadlines due at once over {options.cases:,} cases")
                timings[mode, processes] = fire_with(url, processes, options.deadlines, workdir, cluster,
                                                     unchained=mode == "unchained")
            if (mode, 1) in timings and (mode, 2) in timings:
                ratio = timings[mode, 1] / timings[mode, 2]
                print(f"  {mode}: two schedulers are {ratio:.2f}x as fast as one")
        if options.skip_idle:
            return
        url = cluster.url(f"bench_{options.audit[0]}_{options.processes[0]}")
        add_deadlines(url, options.pending, "now() + interval '30 days'", "later")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE deadlines"))
        engine.dispose()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench",
                          "ATTACHMENTS_DIR": str(workdir / "att")})
        factory = app.extensions["database"].sessionmaker
        times = []
        for _ in range(50):
            started = time.perf_counter()
            result = deadlines.sweep(factory)
            times.append((time.perf_counter() - started) * 1000)
            assert result.processed == 0
        pending = scalar(url, "SELECT count(*) FROM deadlines WHERE state = 'pending'")
        times.sort()
        print(f"idle sweep with {pending:,} pending deadlines: median {statistics.median(times):.2f} ms, "
              f"p95 {times[int(len(times) * 0.95) - 1]:.2f} ms (50 sweeps)")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
