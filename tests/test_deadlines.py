"""Due deadlines fire exactly once, late ones are marked late, and a failing one does not block the rest."""

from __future__ import annotations

import threading
from datetime import timedelta

import time_machine
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain import deadlines
from portal.domain.enums import DeadlineKind, DeadlineState
from portal.domain.models import AuditEntry, CaseEvent, Deadline, SchedulerHeartbeat
from portal.domain.types import utcnow


def _deadlines(db: Session, dues: list[timedelta]) -> list[Deadline]:
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    now = utcnow()
    rows = [
        Deadline(case_id=case.id, name=f"d{i}", kind=DeadlineKind.PLATFORM, due_at=now + due)
        for i, due in enumerate(dues)
    ]
    db.add_all(rows)
    db.commit()
    return rows


def test_due_deadlines_fire_once_and_future_ones_wait(app: Flask, db: Session) -> None:
    rows = _deadlines(db, [timedelta(seconds=-5), timedelta(hours=-3), timedelta(hours=2)])
    factory = app.extensions["database"].sessionmaker
    result = deadlines.sweep(factory)
    assert result.processed == 2 and result.failures == 0
    assert deadlines.sweep(factory).processed == 0
    db.expire_all()
    states = {d.name: (db.get(Deadline, d.id).state, db.get(Deadline, d.id).fired_late) for d in rows}
    assert states == {
        "d0": (DeadlineState.FIRED, False),
        "d1": (DeadlineState.FIRED, True),
        "d2": (DeadlineState.PENDING, False),
    }
    assert result.lag_seconds is not None and result.lag_seconds >= 3 * 3600 - 5
    events = db.scalars(select(CaseEvent).where(CaseEvent.kind == "deadline_expired")).all()
    assert sorted(e.data["name"] for e in events) == ["d0", "d1"]
    assert (
        db.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "deadline.fired"))
        == 2
    )


def test_downtime_fires_everything_late_on_the_first_sweep(app: Flask, db: Session) -> None:
    _deadlines(db, [timedelta(minutes=m) for m in (10, 20, 30)])
    with time_machine.travel(utcnow() + timedelta(hours=2), tick=False):
        result = deadlines.sweep(app.extensions["database"].sessionmaker)
    assert result.processed == 3
    db.expire_all()
    assert all(d.fired_late for d in db.scalars(select(Deadline)))


def test_concurrent_sweeps_fire_each_deadline_once(app: Flask, db: Session) -> None:
    _deadlines(db, [timedelta(seconds=-i) for i in range(1, 41)])
    factory = app.extensions["database"].sessionmaker
    results: list[deadlines.SweepResult] = []
    threads = [threading.Thread(target=lambda: results.append(deadlines.sweep(factory))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.processed for r in results) == 40
    assert (
        db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "deadline_expired"))
        == 40
    )


def test_a_failing_effect_is_postponed_and_others_still_fire(app: Flask, db: Session) -> None:
    rows = _deadlines(db, [timedelta(seconds=-2), timedelta(seconds=-1)])

    def effect(session: Session, deadline: Deadline, now: object) -> None:
        if deadline.name == "d0":
            raise RuntimeError("marketplace unreachable")
        deadlines.record_expiry(session, deadline, now)  # type: ignore[arg-type]

    result = deadlines.sweep(app.extensions["database"].sessionmaker, effect=effect)
    assert (result.processed, result.failures) == (1, 1)
    db.expire_all()
    failed = db.get(Deadline, rows[0].id)
    assert failed.state == DeadlineState.PENDING and failed.attempts == 1
    assert "marketplace unreachable" in (failed.last_error or "")
    assert failed.due_at > utcnow()
    assert db.get(Deadline, rows[1].id).state == DeadlineState.FIRED
    # Nothing of the failed attempt was half-applied.
    assert (
        db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "deadline_expired"))
        == 1
    )


def test_heartbeat_records_the_sweep(app: Flask, db: Session) -> None:
    factory = app.extensions["database"].sessionmaker
    started = utcnow()
    deadlines.beat(factory, "host:1", started, deadlines.SweepResult(processed=3, lag_seconds=1.5))
    deadlines.beat(factory, "host:1", started, deadlines.SweepResult(processed=2, failures=1))
    row = db.get(SchedulerHeartbeat, "host:1")
    assert (row.processed_total, row.failures_total) == (5, 1) and row.last_sweep_at is not None
