"""Durable background work: jobs are rows that worker processes claim, never threads in web workers.

A page queues a job (`start_job`) and shows its progress from the row, so whichever web worker answers
the poll can report it. A worker process (`flask --app wsgi worker run`, and the scheduler process)
claims queued jobs under a lease from the one claim helper (`portal.domain.work.claims`), renews the
lease from a heartbeat thread while the work runs, and records the result.

A worker killed mid-job stops renewing; when the lease runs out another worker claims the job again
(a new attempt) and it starts over from the beginning. Work whose commit must happen once finishes the
job in the same transaction (`JobContext.finish`): an import commits its rows and the job's completion
together, so a second attempt either finds the job done or imports everything, never half or twice.
After `JOBS.backoff.max_attempts` attempts the job is failed (the dead letter) and an admin can retry it.

Each kind of job is a `Work` function registered by name in the app factory (`init_app`); the job row
holds only its plain parameters.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.models import Job, User
from portal.domain.types import rowcount, utcnow
from portal.domain.work import claims
from portal.domain.work.queues import JOBS
from portal.observability import logs

log = logging.getLogger("portal.jobs")

# Errors worth another attempt: the database was away or busy, or a concurrent writer (another import)
# created the same row first, which the next attempt will find. Anything else would fail the same way.
RETRYABLE = (OperationalError, IntegrityError)

# A job waiting this long past its lease or its start has no worker taking it (none runs, or all are busy).
WAITING_AFTER = timedelta(seconds=30)


class LeaseLost(Exception):
    """Another worker holds the job now: this one was presumed dead, and its work must not commit."""


class JobContext:
    """What the work function gets: its parameters, sessions, and ways to report progress and finish."""

    def __init__(self, app: Flask, job_id: int, params: dict[str, Any], attempt: int,
                 created_by_id: int | None = None) -> None:
        self.app = app
        self.job_id = job_id
        self.params = params
        self.attempt = attempt
        self.created_by_id = created_by_id
        self._factory: sessionmaker[Session] = app.extensions["database"].sessionmaker
        self._last_report = 0.0

    def session(self) -> Session:
        return self._factory()

    def _mine(self) -> Any:
        return (Job.id == self.job_id) & (Job.status == "running") & (Job.attempts == self.attempt)

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
            session.execute(update(Job).where(self._mine()).values(**values))
            session.commit()

    def finish(self, session: Session, result: dict[str, Any], path: str | None = None) -> None:
        """Mark the job done inside the caller's transaction, so the work and its completion commit
        together; raises LeaseLost (roll back!) when another worker has taken the job meanwhile."""
        done = rowcount(session.execute(
            update(Job)
            .where(self._mine())
            .values(status="done", result=result, result_path=path, finished_at=utcnow(), error=None,
                    progress_done=func.coalesce(Job.progress_total, Job.progress_done))
            .execution_options(synchronize_session=False)
        ))
        if done != 1:
            raise LeaseLost(f"job {self.job_id} attempt {self.attempt} is no longer this worker's")


Work = Callable[[JobContext], dict[str, Any] | tuple[dict[str, Any], str | None] | None]


def init_app(app: Flask, kinds: Mapping[str, Work]) -> None:
    """Name the work each kind of job does (the worker looks it up by the job's kind)."""
    app.extensions.setdefault("job_kinds", {}).update(kinds)


class _Heartbeat(threading.Thread):
    """Renews the job's lease while its work runs, even through long steps that report no progress."""

    def __init__(self, factory: sessionmaker[Session], job_id: int, attempt: int) -> None:
        super().__init__(name=f"job-{job_id}-heartbeat", daemon=True)
        self.factory, self.job_id, self.attempt = factory, job_id, attempt
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        every = JOBS.lease.total_seconds() / 4
        while not self.stopped.wait(every):
            try:
                with self.factory() as session:
                    if not claims.renew(session, JOBS, self.job_id, attempt=self.attempt):
                        self.lost = True
                    session.commit()
            except OperationalError:
                # The database is busy (SQLite's one writer is the job itself) or briefly away: the lease
                # has three more beats before it runs out.
                log.warning("job %s: could not renew its lease", self.job_id)
            if self.lost:
                return


def run_next(app: Flask, job_id: int | None = None) -> int | None:
    """Claim one due job (or the given one) and run it to the end; its id, or None when none was due."""
    factory: sessionmaker[Session] = app.extensions["database"].sessionmaker
    now = utcnow()
    with factory() as session:
        started = {"started_at": now, "heartbeat_at": now, "progress_done": 0}
        ids = claims.claim(session, JOBS, now, 1, values=started, ids=[job_id] if job_id else None)
        session.commit()
        if not ids:
            return None
        job = session.get(Job, ids[0])
        assert job is not None
        kind, params, attempt, owner = job.kind, dict(job.params or {}), job.attempts, job.created_by_id
    work = app.extensions.get("job_kinds", {}).get(kind)
    if work is None:
        _failed(factory, ids[0], attempt, f"no worker knows jobs of kind {kind!r}", retryable=False)
        return ids[0]
    context = JobContext(app, ids[0], params, attempt, owner)
    heartbeat = _Heartbeat(factory, ids[0], attempt)
    heartbeat.start()
    try:
        with app.app_context():
            outcome = work(context)
    except LeaseLost:
        log.warning("job %s attempt %s: another worker took it over; rolled back", ids[0], attempt)
        return ids[0]
    except Exception as error:
        log.exception("job %s (%s) failed", ids[0], kind)
        _failed(factory, ids[0], attempt, f"{type(error).__name__}: {error}",
                retryable=isinstance(error, RETRYABLE), details=traceback.format_exc())
        return ids[0]
    finally:
        heartbeat.stopped.set()
        heartbeat.join()
    if outcome is not None:
        result, path = outcome if isinstance(outcome, tuple) else (outcome, None)
        with factory() as session:
            try:
                context.finish(session, result, path)
                session.commit()
            except LeaseLost:
                session.rollback()
                log.warning("job %s attempt %s finished after losing its lease", ids[0], attempt)
    return ids[0]


def _failed(factory: sessionmaker[Session], job_id: int, attempt: int, error: str, retryable: bool,
            details: str | None = None) -> None:
    with factory() as session:
        failure = claims.fail(session, JOBS, job_id, utcnow(), error, retryable, attempt=attempt)
        if failure is not None and failure.dead:
            session.execute(
                update(Job).where(Job.id == job_id)
                .values(finished_at=utcnow(), result={"traceback": (details or "")[-4000:]})
            )
        session.commit()


def work_loop(app: Flask, stop: threading.Event, idle_seconds: float = 0.5) -> int:
    """Run due jobs one after another until `stop` is set; returns how many ran."""
    ran = 0
    while not stop.is_set():
        try:
            with logs.correlated():  # one id for every line a job writes
                job_id = run_next(app)
        except OperationalError:
            log.exception("could not claim a job")
            job_id = None
        if job_id is None:
            stop.wait(idle_seconds)
        else:
            ran += 1
    return ran


def start_job(
    app: Flask, session: Session, kind: str, params: dict[str, Any], user: User | None = None
) -> Job:
    """Queue a job for a worker; with JOBS_RUN_INLINE (tests) it runs here and is finished on return."""
    if kind not in app.extensions.get("job_kinds", {}):
        raise LookupError(f"no work is registered for jobs of kind {kind!r}")
    job = Job(kind=kind, params=params, created_by_id=user.id if user else None, status="queued",
              due_at=utcnow())
    session.add(job)
    session.commit()
    if app.config.get("JOBS_RUN_INLINE"):
        run_next(app, job.id)
        session.refresh(job)
    return job


def seconds_left(job: Job, now: datetime | None = None) -> float | None:
    """A running job's time still to go at its pace so far; None until it has a pace to go by."""
    if job.status != "running" or job.started_at is None or not job.progress_total or job.progress_done < 1:
        return None
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    return max(0.0, elapsed / job.progress_done * (job.progress_total - job.progress_done))


def is_stale(job: Job) -> bool:
    """A job no worker is taking: queued, or with its worker's lease run out, for a while.

    It carries on by itself as soon as a worker is free; the page says so rather than looking stuck.
    """
    if job.status not in ("queued", "running"):
        return False
    due = job.due_at or job.created_at
    return utcnow() - due > WAITING_AFTER

