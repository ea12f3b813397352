"""Background jobs are rows claimed by worker processes: progress, results, failures, leases, restarts."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.models import Job
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import JOBS
from portal.jobs import JobContext, LeaseLost, init_app, is_stale, run_next, start_job, work_loop


def _count_to(context: JobContext) -> dict[str, int]:
    n = int(context.params["n"])
    for i in range(n):
        context.progress(i + 1, n, force=True)
    return {"counted": n}


def _broken(context: JobContext) -> dict[str, int]:
    raise ValueError("row 7 has no order id")


@pytest.fixture(autouse=True)
def _kinds(app: Flask) -> None:
    init_app(app, {"count": _count_to, "broken": _broken})


def test_inline_job_finishes_with_result(app: Flask, db: Session) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    job = start_job(app, db, "count", {"n": 5})
    assert (job.status, job.result, job.progress_done, job.progress_total, job.percent, job.attempts) == (
        "done", {"counted": 5}, 5, 5, 100, 1)


def test_a_queued_job_waits_for_a_worker_and_the_worker_runs_it(app: Flask, db: Session) -> None:
    job = start_job(app, db, "count", {"n": 50})
    assert job.status == "queued"  # nothing runs in the web process
    stop = threading.Event()
    worker = threading.Thread(target=work_loop, args=(app, stop, 0.05))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.expire_all()
            if db.get(Job, job.id).status == "done":
                break
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join()
    assert db.get(Job, job.id).status == "done"


def test_an_unknown_kind_is_refused_when_queued(app: Flask, db: Session) -> None:
    with pytest.raises(LookupError):
        start_job(app, db, "no-such-kind", {})


def test_a_failure_is_recorded_and_dead_lettered_at_once(app: Flask, db: Session) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    job = start_job(app, db, "broken", {})
    assert job.status == "failed" and "row 7 has no order id" in (job.error or "")
    assert "Traceback" in job.result["traceback"]
    assert claims.count_dead(db, JOBS) == 1
    assert claims.retry(db, JOBS, job.id)
    db.commit()
    db.refresh(job)
    assert (job.status, job.attempts) == ("queued", 0)


def test_a_job_whose_worker_died_is_taken_over_and_finishes_once(app: Flask, db: Session) -> None:
    job = start_job(app, db, "count", {"n": 3})
    # A first worker claims it, then dies without a word (no renewals, no result).
    assert claims.claim(db, JOBS, utcnow(), 1) == [job.id]
    db.commit()
    assert run_next(app) is None  # its lease still holds
    with time_machine.travel(utcnow() + JOBS.lease + timedelta(seconds=1), tick=True):
        assert run_next(app) == job.id
    db.refresh(job)
    assert (job.status, job.result, job.attempts) == ("done", {"counted": 3}, 2)


def test_the_old_holder_of_a_taken_over_job_cannot_finish_it(app: Flask, db: Session) -> None:
    job = start_job(app, db, "count", {"n": 1})
    claims.claim(db, JOBS, utcnow(), 1)
    db.commit()
    old = JobContext(app, job.id, {}, attempt=1)
    later = utcnow() + JOBS.lease + timedelta(seconds=1)
    claims.claim(db, JOBS, later, 1)  # a second worker takes it over: attempt 2
    db.commit()
    with app.extensions["database"].sessionmaker() as session, pytest.raises(LeaseLost):
        old.finish(session, {"from": "the old worker"})
    db.refresh(job)
    assert job.status == "running" and job.result is None


def test_a_job_that_keeps_killing_its_worker_is_given_up(app: Flask, db: Session) -> None:
    job = start_job(app, db, "count", {"n": 1})
    now = utcnow()
    for _ in range(JOBS.backoff.max_attempts):
        assert claims.claim(db, JOBS, now, 1) == [job.id]
        db.commit()
        now += JOBS.lease + timedelta(seconds=1)
    assert claims.claim(db, JOBS, now, 1) == []
    db.commit()
    db.refresh(job)
    assert job.status == "failed" and "its worker stopped" in (job.error or "")


def test_a_job_no_worker_takes_is_shown_as_waiting() -> None:
    job = Job(kind="x", status="queued", created_at=utcnow() - timedelta(minutes=10),
              due_at=utcnow() - timedelta(minutes=5))
    assert is_stale(job)
    job.due_at = utcnow()
    assert not is_stale(job)
    job.status = "done"
    job.due_at = utcnow() - timedelta(hours=1)
    assert not is_stale(job)


def _slow(context: JobContext) -> dict[str, Any]:
    time.sleep(float(context.params["seconds"]))
    return {}


def test_the_heartbeat_keeps_a_long_silent_job_leased(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = claims.WorkQueue(**{**JOBS.__dict__, "lease": timedelta(seconds=2)})
    monkeypatch.setattr("portal.jobs.JOBS", short)
    init_app(app, {"slow": _slow})
    job = start_job(app, db, "slow", {"seconds": 5})
    taken_over: list[int] = []

    def rival() -> None:
        time.sleep(0.5)  # the worker below claims first
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            with app.extensions["database"].sessionmaker() as session:
                taken_over.extend(claims.claim(session, short, utcnow(), 1))
                session.commit()
            time.sleep(0.1)

    thread = threading.Thread(target=rival)
    thread.start()
    assert run_next(app, job.id) == job.id
    thread.join()
    assert taken_over == []
    db.refresh(job)
    assert job.status == "done" and job.attempts == 1


def _conflicting(context: JobContext) -> dict[str, int]:
    from sqlalchemy.exc import IntegrityError

    raise IntegrityError("INSERT INTO buyers ...", {}, Exception("another import created buyer0 first"))


def test_a_conflict_with_a_concurrent_writer_is_tried_again(app: Flask, db: Session) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    init_app(app, {"conflicting": _conflicting})
    job = start_job(app, db, "conflicting", {})
    assert (job.status, job.attempts) == ("queued", 1) and "buyer0" in (job.error or "")
    assert job.due_at is not None and job.due_at > utcnow()
