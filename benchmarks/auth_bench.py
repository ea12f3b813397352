"""What sign-in protection costs and allows: throttle counting, session checks, and a brute-force run.

Run by hand:  .venv/bin/python benchmarks/auth_bench.py [--requests 2000]

On SQLite (a file) and on a throwaway PostgreSQL cluster it prints: the time of one throttle count
(upsert and window sum, its own transaction); the time of an API request with the per-token throttle off
and on, and their ratio; the time of a page request of a signed-in user (server-side session check);
and how many of 200 wrong passwords sent as fast as possible are evaluated before the throttle answers
429, with the sign-in attempts allowed per minute per account.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _per_call(action: Callable[[], object], count: int) -> float:
    """Milliseconds per call, after a short warm-up."""
    for _ in range(min(50, count)):
        action()
    started = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - started) * 1000 / count


def _run(name: str, url: str, tmp: Path, count: int) -> None:
    from argon2 import PasswordHasher
    from support.api import bearer, make_token
    from support.app import PASSWORD, csrf_token, make_test_app

    from portal.domain import users as user_service
    from portal.domain.accounts import throttle
    from portal.domain.enums import Role
    from portal.domain.models import User

    # The cheap hasher of the tests: the figures are about the protection, not argon2's cost.
    user_service.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    print(f"\n{name}")
    apps = {
        "off": make_test_app(url, tmp, THROTTLE_API_TOKEN="off"),
        "on": make_test_app(url, tmp, THROTTLE_API_TOKEN="1000000/min"),
    }
    session = apps["on"].extensions["database"].session()
    secret = make_token(session, Role.CS_AGENT, "bench")
    session.add(User(email="agent@bench.test", name="Agent", role=Role.CS_AGENT,
                     password_hash=user_service.hash_password(PASSWORD)))
    session.commit()
    session.close()

    engine = apps["on"].extensions["auth_bookkeeping"]
    limit = throttle.Limit(10**9, 60)
    counter = iter(range(10**9))
    hit_ms = _per_call(lambda: throttle.hit(engine, "bench", f"subject-{next(counter) % 100}", limit), count)
    print(f"  one throttle count (upsert + window sum, own transaction): {hit_ms:.2f} ms")

    timings = {}
    for state, app in apps.items():
        client = app.test_client()
        timings[state] = _per_call(
            lambda c=client: c.get("/api/v1/cases?limit=1", headers=bearer(secret)), count
        )
    print(f"  API GET /api/v1/cases, throttle off: {timings['off']:.2f} ms, on: {timings['on']:.2f} ms "
          f"(ratio {timings['on'] / timings['off']:.2f})")

    client = apps["on"].test_client()
    client.post("/login", data={"email": "agent@bench.test", "password": PASSWORD,
                                "csrf_token": csrf_token(client)})
    page_ms = _per_call(lambda: client.get("/settings"), max(100, count // 10))
    print(f"  signed-in page (/settings, server-side session checked): {page_ms:.2f} ms")

    attacker = apps["on"].test_client()
    token = csrf_token(attacker)
    started = time.perf_counter()
    statuses = [
        attacker.post("/login", data={"email": "agent@bench.test", "password": f"guess-{n}",
                                      "csrf_token": token}).status_code
        for n in range(200)
    ]
    elapsed = time.perf_counter() - started
    right = attacker.post("/login", data={"email": "agent@bench.test", "password": PASSWORD,
                                          "csrf_token": token})
    account_limit = throttle.parse_limit(apps["on"].config["THROTTLE_SIGNIN_ACCOUNT"])
    assert account_limit is not None
    print(f"  200 wrong passwords in {elapsed:.1f} s: {statuses.count(401)} evaluated, "
          f"{statuses.count(429)} refused with 429; then the right one: {right.status_code} "
          f"(Retry-After {right.headers.get('Retry-After')} s)")
    print(f"  sign-in attempts allowed per account: {account_limit.count} per "
          f"{account_limit.seconds // 60} min "
          f"(at most {account_limit.count} in any minute, {account_limit.per_minute():.2f}/min sustained, "
          f"{account_limit.per_minute() * 60 * 24:.0f} a day)")
    for app in apps.values():
        app.extensions["database"].engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    options = parser.parse_args()

    from support.postgres import PostgresCluster

    from portal import migrate

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
        migrate.upgrade(sqlite_url)
        _run("SQLite (file, WAL)", sqlite_url, tmp, options.requests)

        cluster = PostgresCluster()
        cluster.start()
        try:
            url = cluster.create_database("auth_bench")
            migrate.upgrade(url)
            _run("PostgreSQL", url, tmp, options.requests)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
