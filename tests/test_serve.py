"""`flask serve` (what `make run` starts) runs the portal and the scheduler, and Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from portal import migrate

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
        return response.status, response.read().decode()


def test_serve_starts_web_and_scheduler_and_stops_on_interrupt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "test",
        "ATTACHMENTS_DIR": str(tmp_path / "att"),
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 40
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/login")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200 and "Sign in" in body
        # The scheduler beats into the database while the web server answers.
        from sqlalchemy import text

        from portal.db import make_engine

        engine = make_engine(url)
        beats = 0
        while time.monotonic() < deadline and not beats:
            with engine.connect() as conn:
                beats = conn.execute(text("SELECT count(*) FROM scheduler_heartbeats")).scalar() or 0
            time.sleep(0.3)
        engine.dispose()
        assert beats == 1
    finally:
        # Ctrl-C in a terminal interrupts the whole process group.
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Stopped." in output
