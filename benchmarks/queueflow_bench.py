"""Queue flow speed: "next case", presence in the queue, and automatic assignment, on a filled database.

Run by hand:  .venv/bin/python benchmarks/queueflow_bench.py [--cases 100000] [--backend sqlite|postgresql]

Each figure is set against a baseline measured in the same run on the same data:
- next case vs the queue's own first page (the query every queue view runs anyway);
- the presence lookup for one page of 50 rows (with 2,000 open tabs) vs that same first page;
- automatic assignment per case (choosing the agent: availability, shift, cap, round robin) vs
  assigning the same number of cases to a fixed agent by hand (`operations.assign_to` alone).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

from queue_bench import fill  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from portal import migrate  # noqa: E402
from portal.db import make_engine  # noqa: E402
from portal.domain import operations as ops  # noqa: E402
from portal.domain.enums import OPEN_STATUSES, Role  # noqa: E402
from portal.domain.lifecycle import Actor  # noqa: E402
from portal.domain.models import Case, CasePresence, User  # noqa: E402
from portal.domain.queue import CaseFilter, case_query, sort_keys  # noqa: E402
from portal.domain.queueflow import assignment, presence  # noqa: E402
from portal.domain.queueflow.navigation import next_case  # noqa: E402
from portal.domain.types import utcnow  # noqa: E402
from portal.pagination import keyset_page  # noqa: E402

RUNS = 50
AGENTS = 50


def median_ms(action: Callable[[], object], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            cluster = None
        else:
            from support.postgres import PostgresCluster

            cluster = PostgresCluster()
            cluster.start()
            url = cluster.create_database("queueflow_bench")
        try:
            migrate.upgrade(url)
            started = time.perf_counter()
            fill(url, args.cases)
            print(f"{args.backend}: {args.cases:,} cases filled in {time.perf_counter() - started:.0f} s")
            measure(url)
        finally:
            if cluster is not None:
                cluster.stop()


def measure(url: str) -> None:
    from sqlalchemy.orm import Session

    engine = make_engine(url)
    rng = random.Random(3)
    now = utcnow()
    with Session(engine) as session:
        f = CaseFilter(now=now)
        keys = sort_keys(f.sort)
        page = median_ms(lambda: keyset_page(session, case_query(f), keys, None, 50))
        samples = list(session.scalars(select(Case).where(Case.status.in_(OPEN_STATUSES)).limit(2000)))
        nxt = median_ms(lambda: next_case(session, f, rng.choice(samples)))
        print(f"  queue first page (baseline)   {page:8.2f} ms")
        print(f"  next case                     {nxt:8.2f} ms   ratio {nxt / page:.2f}")

        people = [
            {"id": 1000 + i, "email": f"a{i}@bench.test", "name": f"Agent {i}", "role": Role.CS_AGENT,
             "password_hash": "-", "active": True, "created_at": now}
            for i in range(AGENTS)
        ]
        session.execute(insert(User), people)
        tabs = {(rng.choice(samples).id, 1000 + rng.randrange(AGENTS)) for _ in range(2000)}
        session.execute(insert(CasePresence), [{"case_id": c, "user_id": u, "seen_at": now} for c, u in tabs])
        session.commit()
        shown = [c.id for c in keyset_page(session, case_query(f), keys, None, 50).items]
        seen = median_ms(lambda: presence.viewers(session, shown, 1))
        print(f"  presence for 50 rows          {seen:8.2f} ms   ratio {seen / page:.2f} of the page query")

        # Every open case unassigned, one queue on with no cap in the way.
        session.execute(update(Case).values(assignee_id=None, queue="general"))
        assignment.configure_queue(session, "general", True, assignment.CAP_RANGE[1])
        session.commit()
        batch = 200
        start = time.perf_counter()
        done = assignment.assign_waiting(session, now, limit=batch)
        session.commit()
        auto = (time.perf_counter() - start) * 1000 / max(1, done)
        fixed = session.get(User, 1000)
        actor = Actor.system("bench")
        by_hand = list(session.scalars(
            select(Case).where(Case.status.in_(OPEN_STATUSES), Case.assignee_id.is_(None))
            .order_by(Case.next_deadline_at, Case.id).limit(batch)
        ))
        start = time.perf_counter()
        for case in by_hand:
            ops.assign_to(session, case, actor, fixed)
        session.commit()
        manual = (time.perf_counter() - start) * 1000 / max(1, len(by_hand))
        print(f"  assign by hand (baseline)     {manual:8.2f} ms per case")
        print(f"  automatic assignment          {auto:8.2f} ms per case   ratio {auto / manual:.2f} "
              f"({done} cases over {AGENTS} agents in one batch)")
    engine.dispose()


if __name__ == "__main__":
    main()
