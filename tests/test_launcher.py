"""The launcher's supervision: a child that dies is started again with backoff, the others stay up, and
a web server that cannot start stops the launcher instead of looping."""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

import pytest

from portal import launcher
from portal.launcher import Child, Supervisor

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _crash(code: int) -> list[str]:
    return [sys.executable, "-c", f"raise SystemExit({code})"]


def _report_then_crash(path: str) -> list[str]:
    """Append what the launcher told this run through the environment, then fail."""
    script = (
        "import os\n"
        f"with open({path!r}, 'a') as out:\n"
        "    out.write(repr((os.environ['PORTAL_PROCESS_NAME'], os.environ['PORTAL_RESTARTS'],"
        " os.environ.get('PORTAL_LAST_EXIT_CODE'))) + '\\n')\n"
        "raise SystemExit(3)\n"
    )
    return [sys.executable, "-c", script]


def _run(supervisor: Supervisor, seconds: float) -> int | None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        code = supervisor.check()
        if code is not None:
            return code
        time.sleep(0.02)
    return None


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launcher, "BACKOFF_START", 0.1)
    monkeypatch.setattr(launcher, "BACKOFF_CAP", 0.4)


def test_a_dying_child_is_restarted_with_backoff_and_the_other_keeps_running(tmp_path: Path) -> None:
    record = str(tmp_path / "runs.txt")
    lines: list[str] = []
    web = Child("web", SLEEP, give_up_after=5)
    scheduler = Child("scheduler", _report_then_crash(record))
    supervisor = Supervisor([web, scheduler], say=lines.append)
    supervisor.start()
    first_web = web.process
    try:
        assert _run(supervisor, 2.5) is None  # never gives up on the scheduler
        assert web.process is first_web and first_web is not None and first_web.poll() is None
        assert scheduler.restarts >= 3 and scheduler.last_exit_code == 3
        runs = [ast.literal_eval(line) for line in Path(record).read_text().splitlines()]
        assert runs[0][1:] == ("0", None) and runs[1][1:] == ("1", "3") and runs[2][1:] == ("2", "3")
        assert len({name for name, _, _ in runs}) == 1 and runs[0][0].endswith(":scheduler")
        delays = [float(line.split("again in ")[1].split(" s")[0]) for line in lines]
        assert delays[:3] == [0.1, 0.2, 0.4] and max(delays) == 0.4  # doubling, capped
    finally:
        supervisor.stop()
    assert first_web.poll() is not None  # stopped with the launcher


def test_a_web_server_that_cannot_start_stops_the_launcher() -> None:
    lines: list[str] = []
    supervisor = Supervisor([Child("web", _crash(4), give_up_after=5), Child("scheduler", SLEEP)],
                            say=lines.append)
    supervisor.start()
    try:
        assert _run(supervisor, 10) == 4
    finally:
        supervisor.stop()
    assert "The web process stopped (exit code 4) and does not stay up; stopping the rest." in lines

