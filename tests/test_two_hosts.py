"""Two hosts: two web servers and two scheduler processes on one PostgreSQL and one object store.

A case changed through one web server is current on the other, a file uploaded through one downloads
from the other, a queued import is run by one of the schedulers and its result shows on both, and
every deadline fires exactly once with both schedulers working.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import PASSWORD, ROLE_EMAILS, make_test_app
from support.factories import make_case, shop_with_market
from support.imports import queue_import
from support.s3 import make_bucket
from test_serve import _free_port

from portal.domain.enums import DeadlineKind, DeadlineState, Role
from portal.domain.models import CaseEvent, Deadline, SchedulerHeartbeat, User
from portal.domain.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
BIN = Path(sys.executable).parent


class Host:
    """One machine of the portal: its own port and local folders, the shared database and bucket."""

    def __init__(self, name: str, env: dict[str, str], tmp_path: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "STORAGE_CACHE_DIR": str(tmp_path / f"{name}-cache"),
                    "ATTACHMENTS_DIR": str(tmp_path / f"{name}-attachments")}
        self.log = tmp_path / f"{name}.log"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, with_scheduler: bool) -> None:
        commands = [[str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "wsgi:app"]]
        if with_scheduler:
            commands.append([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"])
        with self.log.open("a") as log:
            for command in commands:
                self.processes.append(subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                                       stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=10).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")


def _browser(host: Host, role: Role) -> requests.Session:
    """A signed-in person on that host (a cookie jar per person, as in a browser)."""
    browser = requests.Session()
    page = browser.get(f"{host.url}/login", timeout=30).text
    answer = browser.post(f"{host.url}/login", data={"email": ROLE_EMAILS[role], "password": PASSWORD,
                                                     "csrf_token": CSRF.search(page).group(1)},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    return browser


def _form(browser: requests.Session, url: str) -> dict[str, str]:
    page = browser.get(url, timeout=30).text
    return {"csrf_token": CSRF.search(page).group(1), "version": VERSION.search(page).group(1)}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_hosts_share_cases_files_jobs_and_deadlines(
    app: Flask, db: Session, users: dict[Role, User], s3_endpoint: str, tmp_path: Path
) -> None:
    make_bucket(s3_endpoint, "two-hosts")
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-2HOST1")
    others = [make_case(db, market) for _ in range(20)]
    now = utcnow()
    db.add_all(Deadline(case_id=c.id, name=f"chase_{i}", kind=DeadlineKind.POLICY,
                        due_at=now - timedelta(seconds=i)) for c in others for i in range(15))
    db.commit()
    shared = {"STORAGE_URL": "s3://two-hosts/portal", "STORAGE_ENDPOINT_URL": s3_endpoint}
    env = {**os.environ, **shared, "DATABASE_URL": app.config["DATABASE_URL"],
           "SECRET_KEY": "two-hosts-secret", "SCHEDULER_INTERVAL_SECONDS": "0.3", "PYTHONPATH": str(ROOT)}
    # The file of an import, uploaded into the shared store before the hosts start.
    uploader = make_test_app(app.config["DATABASE_URL"], tmp_path / "uploader",
                             STORAGE_CACHE_DIR=str(tmp_path / "uploader-cache"), **shared)
    batch, _job = queue_import(uploader, db, market, 200, "HOSTS")
    uploader.extensions["database"].engine.dispose()
    one, two = Host("one", env, tmp_path), Host("two", env, tmp_path)
    for host in (one, two):
        host.start(with_scheduler=True)
    try:
        for host in (one, two):
            host.wait_until_up()
        agent_on_one, agent_on_two = _browser(one, Role.CS_AGENT), _browser(two, Role.CS_AGENT)
        case_on = {host: f"{host.url}/cases/AS-2HOST1" for host in (one, two)}

        # A note added through one host is on the case page the other host serves.
        note = {**_form(agent_on_one, case_on[one]), "note": "Buyer called, host one"}
        noted = agent_on_one.post(f"{case_on[one]}/note", data=note, allow_redirects=False, timeout=30)
        assert noted.status_code == 302
        assert "Buyer called, host one" in agent_on_two.get(case_on[two], timeout=30).text

        # A photo uploaded through one host downloads, byte for byte, from the other.
        buffer = io.BytesIO()
        Image.new("RGB", (32, 24), "orange").save(buffer, "PNG")
        photo = buffer.getvalue()
        fields = {**_form(agent_on_two, case_on[two]), "kind": "photo", "caption": "lid"}
        uploaded = agent_on_two.post(f"{case_on[two]}/evidence", data=fields,
                                     files={"file": ("lid.png", photo, "image/png")},
                                     allow_redirects=False, timeout=30)
        assert uploaded.status_code == 302, uploaded.text[:500]
        digest = hashlib.sha256(photo).hexdigest()
        downloaded = agent_on_one.get(f"{one.url}/evidence/{digest}", timeout=30)
        assert downloaded.status_code == 200 and downloaded.content == photo

        # The import ran in one of the schedulers; both hosts show its result.
        ops = [_browser(host, Role.OPS_MANAGER) for host in (one, two)]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and 'id="import-result"' not in ops[1].get(
            f"{two.url}/imports/{batch.id}", timeout=30
        ).text:
            time.sleep(0.5)
        for browser, host in zip(ops, (one, two), strict=True):
            page = browser.get(f"{host.url}/imports/{batch.id}", timeout=30).text
            assert "100 orders created" in page, host.log.read_text()[-4000:]

        # Every deadline fires once, with both hosts' schedulers at work.
        deadline = time.monotonic() + 120
        pending = -1
        chasing = (Deadline.state == DeadlineState.PENDING) & Deadline.name.like("chase_%")
        while time.monotonic() < deadline:
            pending = db.scalar(select(func.count()).select_from(Deadline).where(chasing))
            db.rollback()
            if pending == 0:
                break
            time.sleep(0.5)
        assert pending == 0, "\n".join(h.log.read_text()[-3000:] for h in (one, two))
    finally:
        for host in (one, two):
            host.stop()
    db.expire_all()
    fired = Counter(e.data["deadline_id"] for e in
                    db.scalars(select(CaseEvent).where(CaseEvent.kind == "deadline_expired")))
    assert len(fired) == 300 and set(fired.values()) == {1}
    beats = db.scalars(select(SchedulerHeartbeat)).all()
    assert len(beats) == 2 and sum(b.processed_total for b in beats) == 300
