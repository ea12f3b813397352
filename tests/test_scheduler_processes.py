"""Exactly once with real processes: two schedulers beside four web workers on PostgreSQL, and a
scheduler killed with SIGKILL between claiming a deadline and committing its effect."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import PASSWORD, ROLE_EMAILS
from support.audit import problems, verify
from support.factories import make_case, shop_with_market
from test_serve import _free_port

from portal.domain import deadlines, events
from portal.domain.enums import DeadlineKind, DeadlineState, Role
from portal.domain.models import AuditEntry, Case, CaseEvent, Deadline, SchedulerHeartbeat, User
from portal.domain.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


def _due(db: Session, cases: int, per_case: int) -> list[Case]:
    _shop, market = shop_with_market(db)
    made = [make_case(db, market) for _ in range(cases)]
    db.commit()
    _make_due(db, made, per_case)
    return made


def _make_due(db: Session, cases: list[Case], per_case: int) -> None:
    now = utcnow()
    db.add_all(
        Deadline(case_id=case.id, name=f"chase_{i}", kind=DeadlineKind.POLICY,
                 due_at=now - timedelta(seconds=i), state=DeadlineState.PENDING)
        for case in cases
        for i in range(per_case)
    )
    db.commit()


def _env(app: Flask, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": "test-secret",
        "ATTACHMENTS_DIR": str(tmp_path / "attachments"),
        "SCHEDULER_INTERVAL_SECONDS": "0.3",
        "AUDIT_SIGNING_KEY": app.config["AUDIT_SIGNING_KEY"],
        "PYTHONPATH": str(ROOT),
    }


def _fired_once(db: Session, expected: int) -> Counter[int]:
    fired = Counter(
        e.data["deadline_id"]
        for e in db.scalars(select(CaseEvent).where(CaseEvent.kind == "deadline_expired"))
    )
    assert len(fired) == expected
    assert set(fired.values()) == {1}, "a deadline fired more than once"
    audited = db.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "deadline.fired")
    )
    assert audited == expected
    return fired


class Agent:
    """A CS agent in a browser-like HTTP client (cookies and CSRF tokens) adding notes to cases."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        self.statuses: Counter[int] = Counter()

    def request(self, path: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def sign_in(self) -> None:
        _, page = self.request("/login")
        status, _ = self.request("/login", {"email": ROLE_EMAILS[Role.CS_AGENT], "password": PASSWORD,
                                            "csrf_token": CSRF.search(page).group(1)})
        assert status == 302

    def add_note(self, number: str, text: str) -> None:
        status, page = self.request(f"/cases/{number}")
        self.statuses[status] += 1
        if status != 200:
            return
        token, version = CSRF.search(page).group(1), VERSION.search(page).group(1)
        form = {"csrf_token": token, "version": version, "note": text}
        status, _ = self.request(f"/cases/{number}/note", form)
        self.statuses[status] += 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None

    def http_error_302(self, req, fp, code, msg, headers):  # noqa: ANN001, ANN201
        return fp


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_schedulers_and_four_web_workers_fire_each_deadline_once(
    app: Flask, db: Session, users: dict[Role, User], tmp_path: Path
) -> None:
    _shop, market = shop_with_market(db)
    cases = [make_case(db, market) for _ in range(50)]
    db.commit()
    port = _free_port()
    env = _env(app, tmp_path)
    web = subprocess.Popen(  # gunicorn with four workers, plus one scheduler
        [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(port), "--workers", "4"],
        cwd=ROOT, env=env, stdout=(tmp_path / "web.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    second = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT, env=env, stdout=(tmp_path / "scheduler.log").open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stop = threading.Event()
    agents = [Agent(f"http://127.0.0.1:{port}") for _ in range(4)]
    # Read here, once: the agents' threads must not touch `db`, which the test keeps using (a commit
    # expires the cases, and four threads reloading them at once share one session).
    numbers = [case.number for case in cases]

    def work(agent: Agent, offset: int) -> None:
        while True:
            try:
                agent.sign_in()
                break
            except OSError:
                time.sleep(0.3)
        i = offset
        while not stop.is_set():
            agent.add_note(numbers[i % len(numbers)], f"checked {i}")
            i += 4

    threads = [threading.Thread(target=work, args=(agent, n), daemon=True) for n, agent in enumerate(agents)]
    for thread in threads:
        thread.start()
    try:
        # The deadlines fall due only once the agents are at work, so firing overlaps their requests
        # (a fast scheduler once fired all of them before the web workers had answered a request).
        limit = time.monotonic() + 120
        while time.monotonic() < limit and not all(agent.statuses[302] for agent in agents):
            time.sleep(0.2)
        _make_due(db, cases, per_case=20)  # 1,000 deadlines due at once
        # Generous: the test is about exactly-once, not speed, and a busy 2-core machine runs it too
        # (it ends as soon as the last deadline fires).
        limit = time.monotonic() + 240
        pending = 1
        while time.monotonic() < limit:
            pending = db.scalar(
                select(func.count()).select_from(Deadline)
                .where(Deadline.state == DeadlineState.PENDING, Deadline.name.like("chase_%"))
            )
            db.rollback()
            if pending == 0:
                break
            time.sleep(0.5)
        logs = "\n".join((tmp_path / name).read_text()[-3000:] for name in ("web.log", "scheduler.log"))
        assert pending == 0, f"the schedulers did not fire every deadline in time:\n{logs}"
        time.sleep(1)  # let the agents' requests overlap a last sweep
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for process in (web, second):
            os.killpg(process.pid, signal.SIGINT)
        for process in (web, second):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    db.expire_all()
    _fired_once(db, 1000)
    beats = db.scalars(select(SchedulerHeartbeat)).all()
    assert len(beats) == 2 and sum(b.processed_total for b in beats) == 1000
    statuses = sum((agent.statuses for agent in agents), Counter())
    assert statuses[200] > 0 and statuses[302] > 0, statuses  # the agents really worked meanwhile
    assert not [code for code in statuses if code >= 500], statuses
    # Both schedulers sequenced the audit log side by side while the web workers wrote to it.
    report = verify(app)
    assert report.ok and report.entries > 0 and report.checkpoints > 0, problems(report)


SLOW_SWEEP = """
import sys, time
from portal import create_app
from portal.domain import deadlines, events

app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "x", "ATTACHMENTS_DIR": sys.argv[2]})

def effect_then_hang(session, deadline, now):
    events.deadline_effect(session, deadline, now)
    session.flush()  # the claim and the effect are written, not committed
    print("claimed", deadline.id, flush=True)
    time.sleep(600)

deadlines.sweep(app.extensions["database"].sessionmaker, effect=effect_then_hang)
"""


def test_a_scheduler_killed_between_claim_and_commit_loses_nothing(
    app: Flask, db: Session, tmp_path: Path
) -> None:
    _due(db, cases=3, per_case=10)
    script = tmp_path / "slow_sweep.py"
    script.write_text(SLOW_SWEEP)
    process = subprocess.Popen(
        [sys.executable, str(script), app.config["DATABASE_URL"], str(tmp_path / "att")],
        cwd=ROOT, env=_env(app, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("claimed"), process.stderr.read()
        claimed = int(line.split()[1])
    finally:
        process.kill()  # SIGKILL: no cleanup, no rollback from the process itself
        process.wait(timeout=30)
    db.expire_all()
    row = db.get(Deadline, claimed)
    assert row.state == DeadlineState.PENDING and row.fired_at is None  # the claim died with the process
    expired = select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "deadline_expired")
    assert db.scalar(expired) == 0
    db.rollback()
    result = deadlines.sweep(app.extensions["database"].sessionmaker, effect=events.deadline_effect)
    assert result.processed == 30 and result.failures == 0
    db.expire_all()
    _fired_once(db, 30)
    assert db.get(Deadline, claimed).state == DeadlineState.FIRED
