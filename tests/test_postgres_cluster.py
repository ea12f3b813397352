"""The suite's throwaway PostgreSQL cluster stops when the run is killed by a timeout (SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.postgres import _pg_bin

ROOT = Path(__file__).resolve().parent.parent

HOLD_A_CLUSTER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from support.postgres import PostgresCluster

cluster = PostgresCluster()
cluster.start()
pid = (cluster.data / "postmaster.pid").read_text().split()[0]
print(cluster.base, pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A stopped server's process may linger as a zombie of an exited parent for a moment.
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_killed_by_a_timeout_stops_its_cluster(tmp_path: Path, signum: signal.Signals) -> None:
    script = tmp_path / "hold.py"
    script.write_text(HOLD_A_CLUSTER)
    process = subprocess.Popen([sys.executable, str(script), str(ROOT / "tests")], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    assert line, process.stderr.read() if process.stderr else ""
    base, pid = Path(line.split()[0]), int(line.split()[1])
    try:
        process.send_signal(signum)
        process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.returncode == -signum  # the run still ends the way the signal says
        assert not _alive(pid), "the PostgreSQL server outlived the test run"
        assert not base.exists()
    finally:
        if _alive(pid):  # leave nothing behind when the test fails
            runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
            subprocess.run([*runner, str(_pg_bin() / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
                            "stop"], check=False, capture_output=True)
        if process.poll() is None:
            process.kill()
            process.wait()
