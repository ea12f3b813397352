"""A PDF renderer never outlives the process that started it, even when that process is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Starts a renderer whose stdin stays open after this process dies (a sleeping helper keeps the
# pipe's other end), so only the parent-death signal can end it, as for a renderer busy mid-document.
PARENT = """
import os, subprocess, sys, time
read_end, write_end = os.pipe()
keeper = subprocess.Popen(["sleep", "60"], pass_fds=(write_end,), start_new_session=True)
renderer = subprocess.Popen([sys.executable, "-m", "portal.documents.worker", "0", str(os.getpid())],
                            stdin=read_end, stdout=subprocess.PIPE)
os.close(read_end)
renderer.stdout.read(4)  # the length of its "ready" frame: it is up
print(renderer.pid, keeper.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


def test_a_renderer_dies_with_its_killed_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    renderer_pid, keeper_pid = (int(pid) for pid in parent.stdout.readline().split())
    try:
        assert _alive(renderer_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(renderer_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(renderer_pid), "the renderer was orphaned"
    finally:
        os.kill(keeper_pid, signal.SIGKILL)
        if _alive(renderer_pid):
            os.kill(renderer_pid, signal.SIGKILL)
