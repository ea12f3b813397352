"""Run the web server and the scheduler side by side, restart whichever dies, and stop both on request.

The launcher is a small supervisor. Each child is a `Child`: a name and a command line. A child that
exits while the launcher is not stopping is started again after a backoff (doubling from
`BACKOFF_START` to `BACKOFF_CAP` while it keeps dying young; reset once it ran `STABLE_SECONDS`), so a
killed scheduler never takes the web server down with it. Each start gets `portal.supervision`'s
environment (a stable name, the restart count, how the previous run ended), which the scheduler writes
into its heartbeat for the health page. Only a child with `give_up_after` set (the web server: a port
that cannot be bound will not free itself) makes the launcher stop everything: when its first run
fails at once, or after that many quick failures in a row.

Another kind of process (a job worker, say) joins by adding a `Child` to `_commands`: it gets the same
restarts, backoff, environment and shutdown (SIGTERM, then SIGKILL after `STOP_SECONDS`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from portal.domain.types import utcnow
from portal.observability import logs
from portal.supervision import Supervision

PROJECT_DIR = Path(__file__).resolve().parent.parent

BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
STABLE_SECONDS = 30.0
STOP_SECONDS = 10.0


@dataclass
class Child:
    name: str
    command: list[str]
    # Stop everything after this many failures in a row, each within STABLE_SECONDS of its start, or
    # when its very first run fails that quickly (a port in use); None: keep restarting with backoff.
    give_up_after: int | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    start_at: float = 0.0  # monotonic time of the next start while no process runs
    restarts: int = 0
    quick_failures: int = 0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


def _commands(host: str, port: int, workers: int) -> list[Child]:
    bin_dir = Path(sys.executable).parent
    return [
        Child("web", [str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
                      "--threads", "4", "--graceful-timeout", "5",
                      "--config", str(PROJECT_DIR / "gunicorn.conf.py"), "wsgi:app"], give_up_after=5),
        Child("scheduler", [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"]),
    ]


class Supervisor:
    """Starts the children, restarts the ones that die, and stops them all when asked."""

    def __init__(self, children: list[Child], say: Callable[[str], None] | None = None) -> None:
        self.children = children
        self.say = say or (lambda line: print(line, flush=True))
        self.prefix = f"{socket.gethostname()}:{os.getpid()}"

    def _start(self, child: Child) -> None:
        supervision = Supervision(f"{self.prefix}:{child.name}"[-64:], child.restarts,
                                  child.last_exit_code, child.last_exit_at)
        # faulthandler prints every thread's stack when a child dies of SIGSEGV, SIGABRT or the like.
        env = {**os.environ, "PYTHONFAULTHANDLER": "1", **supervision.environ(), **child.extra_env}
        child.process = subprocess.Popen(child.command, cwd=PROJECT_DIR, env=env)
        child.started_at = time.monotonic()

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def check(self) -> int | None:
        """Reap and restart children; an exit code when the launcher must give up and stop."""
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                if now >= child.start_at:
                    self._start(child)
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.process = None
            child.last_exit_code, child.last_exit_at = code, utcnow()
            child.restarts += 1
            quick = now - child.started_at < STABLE_SECONDS
            child.quick_failures = child.quick_failures + 1 if quick else 0
            first_run = child.restarts == 1
            if child.give_up_after is not None and (child.quick_failures >= child.give_up_after
                                                    or (first_run and quick)):
                self.say(f"The {child.name} process stopped (exit code {code}) and does not stay up; "
                         "stopping the rest.")
                return code or 1
            delay = min(BACKOFF_CAP, BACKOFF_START * 2 ** max(0, child.quick_failures - 1))
            child.start_at = now + delay
            self.say(f"The {child.name} process stopped (exit code {code}); starting it again in "
                     f"{delay:g} s (restart {child.restarts}).")
        return None

    def stop(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def launch(host: str, port: int, workers: int) -> int:
    logs.configure("launcher")
    supervisor = Supervisor(_commands(host, port, workers), say=logging.getLogger("portal.launcher").warning)
    supervisor.start()
    print(f"\nAftersales Desk is starting on http://{host}:{port}  (Ctrl-C stops it)\n", flush=True)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            code = supervisor.check()
            if code is not None:
                exit_code = code
                break
            time.sleep(0.2)
    finally:
        supervisor.stop()
    print("Stopped.", flush=True)
    return exit_code
