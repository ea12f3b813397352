"""Durable jobs with real processes: an import whose worker is SIGKILLed midway lands once, all rows
or none, when another worker takes it over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.factories import shop_with_market
from support.imports import queue_import

from portal.domain.models import AuditEntry, ImportBatch, Job, Order

ROOT = Path(__file__).resolve().parent.parent
ROWS = 1200


def _worker(app: Flask, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "test-secret",
           "ATTACHMENTS_DIR": app.config["ATTACHMENTS_DIR"], "PYTHONPATH": str(ROOT),
           "JOB_LEASE_SECONDS": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "run", "--idle-seconds", "0.1"],
        cwd=ROOT, env=env, stdout=(tmp_path / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
    )


def _wait(db: Session, job_id: int, ready: object, seconds: float, what: str, logs: Path) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.expire_all()
        job = db.get(Job, job_id)
        if ready(job):  # type: ignore[operator]
            return job
        db.rollback()
        time.sleep(0.05)
    job = db.get(Job, job_id)
    tails = "\n".join(path.read_text()[-2000:] for path in logs.glob("*.log"))
    raise AssertionError(f"{what} did not happen (job {job.status}, {job.progress_done} done, "
                         f"{job.error}):\n{tails}")


def test_an_import_whose_worker_is_killed_midway_lands_once(app: Flask, db: Session, tmp_path: Path) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    postgres = db.get_bind().dialect.name == "postgresql"
    # On SQLite only the checking phase reports progress: a bigger file keeps that window open.
    rows = ROWS if postgres else 3 * ROWS
    batch, job = queue_import(app, db, market, rows, "KILL")
    first = _worker(app, tmp_path, "first")
    try:
        # Killed while writing on PostgreSQL (it reports progress then); while checking rows on SQLite.
        midway = rows + rows // 4 if postgres else 1
        running = _wait(db, job.id, lambda j: j.status == "running" and j.progress_done >= midway, 120,
                        "the import reaching midway", tmp_path)
        assert running.attempts == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Order)) == 0  # nothing of the killed attempt landed
    assert db.get(Job, job.id).status == "running"  # its lease runs out; nobody finished it
    db.rollback()

    second = _worker(app, tmp_path, "second")
    try:
        done = _wait(db, job.id, lambda j: j.status in ("done", "failed"), 180, "the takeover", tmp_path)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    assert (done.status, done.attempts) == ("done", 2), done.error
    assert done.result["created"] == rows // 2
    assert db.get(ImportBatch, batch.id).status == "done"
    assert db.scalar(select(func.count()).select_from(Order)) == rows // 2
    imported = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "import.done")
    assert db.scalar(imported) == 1
