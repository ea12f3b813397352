"""The one claim helper: conditional claims, leases that run out, backoff with jitter, dead letters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain import deadlines
from portal.domain.enums import DeadlineKind, DeadlineState
from portal.domain.models import CaseEvent, Deadline, Job
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import DEADLINES, JOBS


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 15, 30), (2, 30, 60), (3, 60, 120), (8, 1800, 3600), (30, 1800, 3600)],
)
def test_backoff_doubles_with_jitter_up_to_its_cap(attempts: int, low: float, high: float) -> None:
    backoff = claims.Backoff(first=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=8)
    assert backoff.delay(attempts, rng=lambda: 0.0) == timedelta(seconds=low)
    assert backoff.delay(attempts, rng=lambda: 0.999999) <= timedelta(seconds=high)
    spread = {backoff.delay(attempts) for _ in range(20)}
    assert len(spread) > 1, "rows that failed together must not all come back together"
    assert backoff.gives_up(8) and not backoff.gives_up(7)


def _deadlines(db: Session, count: int) -> list[int]:
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    rows = [
        Deadline(case_id=case.id, name=f"d{i}", kind=DeadlineKind.POLICY,
                 due_at=utcnow() - timedelta(seconds=i))
        for i in range(count)
    ]
    db.add_all(rows)
    db.commit()
    return [row.id for row in rows]


def test_concurrent_claims_never_take_the_same_row(app: Flask, db: Session) -> None:
    ids = _deadlines(db, 60)
    factory = app.extensions["database"].sessionmaker
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with factory() as session:
                got = claims.claim(session, DEADLINES, utcnow(), 7, values={"state": DeadlineState.FIRED})
                session.commit()
            if not got:
                return
            with lock:
                taken.extend(got)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)


def test_a_claim_in_the_workers_transaction_needs_a_target_state(app: Flask, db: Session) -> None:
    with pytest.raises(ValueError, match="state"):
        claims.claim(db, DEADLINES, utcnow(), 10)


def test_failures_back_off_then_dead_letter_as_failed_not_cancelled(app: Flask, db: Session) -> None:
    [row_id] = _deadlines(db, 1)
    now = utcnow()
    for attempt in range(1, DEADLINES.backoff.max_attempts):
        failure = claims.fail(db, DEADLINES, row_id, now, f"boom {attempt}")
        db.commit()
        assert failure is not None and not failure.dead and failure.attempts == attempt
        assert failure.retry_at is not None and failure.retry_at > now
    failure = claims.fail(db, DEADLINES, row_id, now, "boom for the last time")
    db.commit()
    assert failure is not None and failure.dead
    row = db.get(Deadline, row_id)
    db.refresh(row)
    assert row.state == DeadlineState.FAILED and row.last_error == "boom for the last time"
    assert claims.count_dead(db, DEADLINES) == 1
    assert claims.fail(db, DEADLINES, row_id, now, "again") is None  # a dead letter is not failed twice
    assert claims.retry(db, DEADLINES, row_id, now)
    db.commit()
    db.refresh(row)
    assert (row.state, row.attempts) == (DeadlineState.PENDING, 0) and row.due_at <= utcnow()
    assert not claims.retry(db, DEADLINES, row_id, now)  # only a dead letter can be retried


def test_an_error_retrying_cannot_fix_dead_letters_at_once(app: Flask, db: Session) -> None:
    [row_id] = _deadlines(db, 1)
    failure = claims.fail(db, DEADLINES, row_id, utcnow(), "no such policy section", retryable=False)
    db.commit()
    assert failure is not None and failure.dead and failure.attempts == 1


def test_a_lease_that_runs_out_is_claimed_again_and_counts_attempts(app: Flask, db: Session) -> None:
    job = Job(kind="test", params={})
    db.add(job)
    db.commit()
    now = utcnow()
    assert claims.claim(db, JOBS, now, 5) == [job.id]
    db.commit()
    assert claims.claim(db, JOBS, now + timedelta(seconds=10), 5) == []  # still held
    assert claims.renew(db, JOBS, job.id, now + timedelta(seconds=50))
    db.commit()
    assert claims.claim(db, JOBS, now + JOBS.lease + timedelta(seconds=1), 5) == []  # renewed
    later = now + timedelta(seconds=50) + JOBS.lease + timedelta(seconds=1)
    assert claims.claim(db, JOBS, later, 5) == [job.id]  # its worker died: taken again
    db.commit()
    db.refresh(job)
    assert (job.status, job.attempts) == ("running", 2)
    assert claims.complete(db, JOBS, job.id, {"status": "done"})
    db.commit()
    assert not claims.complete(db, JOBS, job.id, {"status": "done"})
    assert claims.fail(db, JOBS, job.id, later, "late") is None  # finished work is not failed


def test_a_leased_failure_does_not_count_the_attempt_twice(app: Flask, db: Session) -> None:
    job = Job(kind="test", params={})
    db.add(job)
    db.commit()
    claims.claim(db, JOBS, utcnow(), 1)
    db.commit()
    failure = claims.fail(db, JOBS, job.id, utcnow(), "worker lost its database connection")
    db.commit()
    assert failure is not None and failure.attempts == 1 and not failure.dead
    db.refresh(job)
    assert job.status == "queued" and job.error == "worker lost its database connection"


def test_a_deadline_whose_effect_keeps_failing_ends_failed_and_fires_nothing(app: Flask, db: Session) -> None:
    [row_id] = _deadlines(db, 1)
    factory = app.extensions["database"].sessionmaker

    def broken(session: Session, deadline: Deadline, now: object) -> None:
        deadlines.record_expiry(session, deadline, now)  # type: ignore[arg-type]
        raise RuntimeError("policy section cannot apply")

    now = utcnow()
    for _ in range(DEADLINES.backoff.max_attempts):
        result = deadlines.sweep(factory, now=now, effect=broken)
        assert (result.processed, result.failures) == (0, 1)
        now += DEADLINES.backoff.cap
    db.expire_all()
    row = db.get(Deadline, row_id)
    assert row.state == DeadlineState.FAILED and row.fired_at is None and not row.fired_late
    assert "policy section cannot apply" in (row.last_error or "")
    assert db.scalars(select(CaseEvent).where(CaseEvent.kind == "deadline_expired")).all() == []


def test_a_claim_never_takes_more_than_its_limit(app: Flask, db: Session) -> None:
    for _ in range(30):
        db.add(Job(kind="test", params={}))
    db.commit()
    factory = app.extensions["database"].sessionmaker
    taken: list[list[int]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            with factory() as session:
                got = claims.claim(session, JOBS, utcnow(), 1)
                session.commit()
            with lock:
                taken.append(got)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(got) <= 1 for got in taken)
    flat = [job_id for got in taken for job_id in got]
    assert len(flat) == len(set(flat))
    db.expire_all()
    running = db.scalars(select(Job).where(Job.status == "running")).all()
    assert sorted(job.id for job in running) == sorted(flat)
