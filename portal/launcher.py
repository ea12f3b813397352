"""Run the web server and the scheduler side by side, and stop both when either stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _commands(host: str, port: int, workers: int) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        "web": [str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", str(workers),
                "--threads", "4", "--access-logfile", "-", "--graceful-timeout", "5", "wsgi:app"],
        "scheduler": [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
    }


def launch(host: str, port: int, workers: int) -> int:
    processes = {name: subprocess.Popen(cmd, cwd=PROJECT_DIR) for name, cmd in
                 _commands(host, port, workers).items()}
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
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    print(f"The {name} process stopped (exit code {code}); stopping the rest.", flush=True)
                    exit_code = code or 1
                    stopping = True
            time.sleep(0.3)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    print("Stopped.", flush=True)
    return exit_code
