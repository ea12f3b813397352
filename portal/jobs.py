"""Running long work in the background while the page shows its progress.

A job is a row in `jobs`; the work runs in a thread of the web process that started it and writes its
progress to the row, so whichever worker answers the progress poll can report it.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.domain.models import Job, User
from portal.domain.types import utcnow

log = logging.getLogger("portal.jobs")

# A running job that has not reported for this long died with its process.
STALE_AFTER = timedelta(minutes=2)


class JobContext:
    """What the work function gets: a session factory, and a way to report progress."""

    def __init__(self, app: Flask, job_id: int, params: dict[str, Any]) -> None:
        self.app = app
        self.job_id = job_id
        self.params = params
        self._factory = app.extensions["database"].sessionmaker
        self._last_report = 0.0

    def session(self) -> Session:
        return self._factory()

    def progress(self, done: int, total: int | None = None, force: bool = False) -> None:
        """Record progress; calls closer than a fifth of a second apart are folded together."""
        now = time.monotonic()
        if not force and now - self._last_report < 0.2:
            return
        self._last_report = now
        values: dict[str, Any] = {"progress_done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["progress_total"] = total
        with self._factory() as session:
            session.execute(update(Job).where(Job.id == self.job_id).values(**values))
            session.commit()


Work = Callable[[JobContext], dict[str, Any] | tuple[dict[str, Any], str | None]]


def _run(app: Flask, job_id: int, params: dict[str, Any], work: Work) -> None:
    context = JobContext(app, job_id, params)
    factory = app.extensions["database"].sessionmaker
    with factory() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status="running", started_at=utcnow(), heartbeat_at=utcnow())
        )
        session.commit()
    try:
        with app.app_context():
            outcome = work(context)
        result, path = outcome if isinstance(outcome, tuple) else (outcome, None)
        values: dict[str, Any] = {"status": "done", "result": result, "result_path": path}
    except Exception as error:
        log.exception("job %s failed", job_id)
        values = {
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "result": {"traceback": traceback.format_exc()[-4000:]},
        }
    with factory() as session:
        session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow(), **values))
        if values["status"] == "done":
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.progress_total.is_not(None))
                .values(progress_done=Job.progress_total)
            )
        session.commit()


def start_job(
    app: Flask, session: Session, kind: str, params: dict[str, Any], work: Work, user: User | None = None
) -> Job:
    """Create the job row and start the work; with JOBS_RUN_INLINE (tests) it finishes before returning."""
    job = Job(kind=kind, params=params, created_by_id=user.id if user else None)
    session.add(job)
    session.commit()
    if app.config.get("JOBS_RUN_INLINE"):
        _run(app, job.id, params, work)
        session.refresh(job)
    else:
        threading.Thread(
            target=_run, args=(app, job.id, params, work), name=f"job-{job.id}", daemon=True
        ).start()
    return job


def is_stale(job: Job) -> bool:
    """A job that says it is running but has stopped reporting (its process was restarted)."""
    if job.status not in ("queued", "running"):
        return False
    last = job.heartbeat_at or job.started_at or job.created_at
    return utcnow() - last > STALE_AFTER
