"""Background jobs report progress through the database and record results and failures."""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.models import Job
from portal.domain.types import utcnow
from portal.jobs import JobContext, is_stale, start_job


def _count_to(n: int):
    def work(context: JobContext) -> dict[str, int]:
        for i in range(n):
            context.progress(i + 1, n, force=True)
        return {"counted": n}
    return work


def test_inline_job_finishes_with_result(app: Flask, db: Session) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    job = start_job(app, db, "count", {"n": 5}, _count_to(5))
    assert (job.status, job.result, job.progress_done, job.progress_total, job.percent) == (
        "done", {"counted": 5}, 5, 5, 100)


def test_threaded_job_is_seen_finishing_from_another_session(app: Flask, db: Session) -> None:
    job = start_job(app, db, "count", {}, _count_to(50))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        db.expire_all()
        if db.get(Job, job.id).status == "done":
            break
        time.sleep(0.05)
    assert db.get(Job, job.id).status == "done"


def test_failure_is_recorded(app: Flask, db: Session) -> None:
    app.config["JOBS_RUN_INLINE"] = True

    def broken(context: JobContext) -> dict[str, int]:
        raise ValueError("row 7 has no order id")

    job = start_job(app, db, "import", {}, broken)
    assert job.status == "failed" and "row 7 has no order id" in (job.error or "")


def test_silent_running_job_is_stale() -> None:
    job = Job(kind="x", status="running", created_at=utcnow() - timedelta(minutes=10),
              heartbeat_at=utcnow() - timedelta(minutes=5))
    assert is_stale(job)
    job.heartbeat_at = utcnow()
    assert not is_stale(job)
