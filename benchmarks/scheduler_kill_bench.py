"""Requests failed when the scheduler is killed with SIGKILL under load (`flask serve`, SQLite, loopback).

Run by hand:  .venv/bin/python benchmarks/scheduler_kill_bench.py [--seconds 20] [--clients 4] [--kills 2]
              [--project DIR]   (another checkout of the portal, to measure it the same way)

It migrates a throwaway SQLite database, starts `flask --app wsgi serve` (gunicorn with 2 workers and a
scheduler under the launcher) on a free loopback port, and has several clients request the sign-in
page, the health check and a signed-in agent's queue for about `--seconds`. Meanwhile it kills the
scheduler with SIGKILL `--kills` times, evenly spread, each time waiting for a new one to beat. It
prints the requests answered and failed (refused connections, errors, 5xx) before and after the first
kill, how long the portal took to have a scheduler beating again, and the restarts the scheduler's
heartbeat records. The target is 0 failed.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
EMAIL, PASSWORD = "bench-agent@example.test", "bench-password-42"
RECOVERY_SECONDS = 90.0  # how long to wait for a new scheduler after each kill


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(project: Path, env: dict[str, str]) -> None:
    """Schema and one CS agent, through the portal's own command line."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=project, env=env, check=True, capture_output=True)
    create = ["users", "create", "--email", EMAIL, "--role", "cs_agent", "--password", PASSWORD]
    subprocess.run([*flask, *create], cwd=project, env=env, check=True, capture_output=True)


def _scheduler(database: Path) -> tuple[int, int] | None:
    """(pid, restarts) of the newest scheduler heartbeat, read straight from the database file."""
    import sqlite3

    with sqlite3.connect(database, timeout=5) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(scheduler_heartbeats)")}
        restarts = "restarts" if "restarts" in columns else "0"
        row = conn.execute(
            f"SELECT pid, {restarts} FROM scheduler_heartbeats ORDER BY last_sweep_at DESC LIMIT 1"
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


class Client(threading.Thread):
    """Requests pages in a loop and counts what came back, before and after the first kill."""

    def __init__(self, base: str, stop: threading.Event, killed: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base, self.stop, self.killed = base, stop, killed
        self.outcomes: dict[str, Counter[str]] = {"before": Counter(), "after": Counter()}
        cookies = urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        self.opener = urllib.request.build_opener(cookies)

    def _get(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data else None
        try:
            with self.opener.open(self.base + path, body, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    def sign_in(self) -> None:
        _, page = self._get("/login")
        match = CSRF.search(page)
        assert match, "no sign-in form"
        self._get("/login", {"email": EMAIL, "password": PASSWORD, "csrf_token": match.group(1)})

    def run(self) -> None:
        paths = ["/healthz", "/login", "/cases"]
        i = 0
        while not self.stop.is_set():
            phase = "after" if self.killed.is_set() else "before"
            try:
                status, _ = self._get(paths[i % len(paths)])
                self.outcomes[phase]["failed" if status >= 500 else "ok"] += 1
            except OSError:
                self.outcomes[phase]["failed"] += 1
                time.sleep(0.05)  # a refused connection fails at once; do not spin
            i += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--project", type=Path, default=ROOT)
    args = parser.parse_args()
    project = args.project.resolve()
    work = Path(tempfile.mkdtemp(prefix="scheduler-kill-"))
    database = work / "bench.db"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "bench",
           "ATTACHMENTS_DIR": str(work / "attachments"), "SCHEDULER_INTERVAL_SECONDS": "1",
           "PYTHONPATH": str(project)}
    _prepare(project, env)
    log = (work / "serve.log").open("w")
    serve = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port),
                              "--workers", "2"], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        ready = time.monotonic() + 60
        while time.monotonic() < ready:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()  # noqa: S310 (loopback)
                if _scheduler(database):
                    break
            except (OSError, Exception):  # noqa: BLE001 (not up yet, or the table not written yet)
                pass
            time.sleep(0.3)
        else:
            raise SystemExit("the portal did not start; see " + str(work / "serve.log"))
        killed, stop = threading.Event(), threading.Event()
        clients = [Client(base, stop, killed) for _ in range(args.clients)]
        for client in clients:
            client.sign_in()  # one at a time: concurrent sign-ins are not what this measures
            client.start()
        recoveries: list[float] = []
        pause = args.seconds / (args.kills + 1)
        for _ in range(args.kills):
            time.sleep(pause)
            found = _scheduler(database)
            if found is None or serve.poll() is not None:
                break
            pid, _restarts = found
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.set()
            started = time.monotonic()
            while time.monotonic() < started + RECOVERY_SECONDS:
                now = _scheduler(database)
                if now and now[0] != pid:
                    recoveries.append(time.monotonic() - started)
                    break
                time.sleep(0.1)
        time.sleep(pause)
        stop.set()
        for client in clients:
            client.join(timeout=30)
        before = sum((c.outcomes["before"] for c in clients), Counter())
        after = sum((c.outcomes["after"] for c in clients), Counter())
        final = _scheduler(database)
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5).close()  # noqa: S310 (loopback)
            still_up = True
        except OSError:
            still_up = False
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGINT)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(serve.pid, signal.SIGKILL)
        log.close()
    total_failed = before["failed"] + after["failed"]
    print(f"project: {project}")
    print(f"load: {args.clients} clients on 2 gunicorn workers; scheduler SIGKILLed {args.kills} times, "
          f"{pause:.1f} s apart (plus the time each restart took)")
    print(f"before the first kill: {before['ok']:>7,} answered, {before['failed']:>7,} failed")
    print(f"after the first kill:  {after['ok']:>7,} answered, {after['failed']:>7,} failed")
    print(f"requests failed: {total_failed:,} (target 0)")
    if recoveries:
        print("a new scheduler beating after: " + ", ".join(f"{s:.1f} s" for s in recoveries))
    else:
        print(f"a new scheduler beating after: never (waited {RECOVERY_SECONDS:g} s)")
    print(f"restarts recorded on the health page: {final[1] if final else 'none'}")
    print(f"web server still up at the end: {'yes' if still_up else 'no'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
