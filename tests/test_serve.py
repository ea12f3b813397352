"""`flask serve` (what `make run` starts) runs the portal and the scheduler, restarts a scheduler that
dies without taking the web server down, and Ctrl-C stops both without a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from portal import migrate

ROOT = Path(__file__).resolve().parent.parent


def _alive(pid: int) -> bool:
    """Whether the process still exists; its parent (gunicorn, the launcher) reaps it promptly."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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


def _serve(tmp_path: Path, url: str, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "test",
        "ATTACHMENTS_DIR": str(tmp_path / "att"),
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port), "--workers", "1"],
        cwd=ROOT, env=env, stdout=(tmp_path / "serve.log").open("w"), stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def _heartbeat(url: str) -> tuple[int, int, int | None] | None:
    """(pid, restarts, last exit code) of the one scheduler's heartbeat, once it has beaten."""
    from sqlalchemy import text

    from portal.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT pid, restarts, last_exit_code FROM scheduler_heartbeats")).first()
    finally:
        engine.dispose()
    return (row[0], row[1], row[2]) if row else None


def _wait(condition: Callable[[], object], seconds: float, what: str, log: Path) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {seconds} s:\n{log.read_text()[-4000:]}")


def test_a_killed_scheduler_is_restarted_and_the_web_keeps_answering(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    log = tmp_path / "serve.log"
    process = _serve(tmp_path, url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{base}/login")[0] == 200, 40, "the portal answering", log)
        first = _wait(lambda: _heartbeat(url), 40, "a scheduler heartbeat", log)
        assert isinstance(first, tuple) and first[1] == 0
        os.kill(first[0], signal.SIGKILL)
        statuses: list[int] = []
        restarted = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and restarted is None:
            statuses.append(_get(f"{base}/login")[0])  # an OSError here fails the test: the web went down
            beat = _heartbeat(url)
            if beat and beat[0] != first[0]:
                restarted = beat
            time.sleep(0.1)
        assert restarted is not None, log.read_text()[-4000:]
        assert restarted[1:] == (1, -signal.SIGKILL)  # one restart; the previous run was SIGKILLed
        assert statuses and set(statuses) == {200}
        assert process.poll() is None
        assert "The scheduler process stopped (exit code -9); starting it again" in log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    output = log.read_text()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "SchedulerNotRunningError" not in output, output


def test_stopping_a_scheduler_twice_prints_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C reaches the scheduler and then the launcher's SIGTERM does too: it stops once, quietly."""
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    migrate.upgrade(url)
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "test", "ATTACHMENTS_DIR": str(tmp_path / "att"),
           "SCHEDULER_INTERVAL_SECONDS": "0.5"}
    log = tmp_path / "scheduler.log"
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=ROOT,
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _heartbeat(url), 40, "a scheduler heartbeat", log)
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert process.returncode == 0, output
    assert "Traceback" not in output and "SchedulerNotRunningError" not in output, output
    assert "stopped" in output


def test_a_crashing_worker_or_scheduler_leaves_its_python_stacks_in_the_log(tmp_path: Path) -> None:
    """faulthandler is on in production: a SIGSEGV in native code says where Python was."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(url)
    port = _free_port()
    log = tmp_path / "serve.log"
    process = _serve(tmp_path, url, port)
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{port}/login")[0] == 200, 40, "the portal answering", log)
        scheduler = _wait(lambda: _heartbeat(url), 40, "a scheduler heartbeat", log)
        assert isinstance(scheduler, tuple)
        booted = re.search(r"Booting worker with pid: (\d+)", log.read_text())
        assert booted, log.read_text()[-4000:]
        # One at a time: two dumps written at once into the same log would interleave. A dump is
        # complete only when its process is gone (faulthandler writes it, then lets the signal kill),
        # and its first line appears long before its last on a busy machine.
        for number, pid in enumerate((int(booted.group(1)), scheduler[0]), 1):
            os.kill(pid, signal.SIGSEGV)
            _wait(lambda p=pid: not _alive(p), 40, f"process {pid} ended by its crash", log)
            _wait(lambda n=number: log.read_text().count("Fatal Python error: Segmentation fault") >= n, 40,
                  f"crash dump {number}", log)
        # Both came back: gunicorn boots a new worker, the launcher a new scheduler.
        _wait(lambda: _get(f"http://127.0.0.1:{port}/login")[0] == 200, 40, "the portal answering", log)
        _wait(lambda: (_heartbeat(url) or (0, 0, None))[1] == 1, 40, "the scheduler restarted", log)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    output = log.read_text()
    assert output.count("Current thread") + output.count("Thread 0x") >= 2, output[-4000:]
