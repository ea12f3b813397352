"""Firing due deadlines exactly once: claim with a conditional UPDATE, apply, record, commit together."""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.domain import audit, deadline_index
from portal.domain.enums import DeadlineState
from portal.domain.models import CaseEvent, Deadline, SchedulerHeartbeat
from portal.domain.types import rowcount, utcnow
from portal.supervision import Supervision

# A deadline fired more than this after it was due is marked late (the scheduler was down or behind).
LATE_AFTER = timedelta(minutes=1)
RETRY_DELAY = timedelta(minutes=2)
MAX_ATTEMPTS = 5

DeadlineEffect = Callable[[Session, Deadline, datetime], None]


def record_expiry(session: Session, deadline: Deadline, now: datetime) -> None:
    """The effect every deadline has: it shows on the case timeline and in the audit log."""
    session.add(
        CaseEvent(
            case_id=deadline.case_id,
            kind="deadline_expired",
            actor_label="scheduler",
            occurred_at=now,
            data={"deadline_id": deadline.id, "name": deadline.name, "late": deadline.fired_late},
        )
    )
    audit.record(
        session,
        "deadline.fired",
        "case",
        deadline.case_id,
        {
            "deadline_id": deadline.id,
            "name": deadline.name,
            "due_at": deadline.due_at,
            "late": deadline.fired_late,
        },
        actor_label="scheduler",
    )


@dataclass
class SweepResult:
    processed: int = 0
    failures: int = 0
    lag_seconds: float | None = None


def _due_ids(session: Session, now: datetime, batch: int) -> list[int]:
    query = (
        select(Deadline.id)
        .where(Deadline.state == DeadlineState.PENDING, Deadline.due_at <= now)
        .order_by(Deadline.due_at)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another scheduler working on the same rows skips them instead of waiting.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _fire_one(session: Session, deadline_id: int, now: datetime, effect: DeadlineEffect) -> bool:
    deadline = session.get(Deadline, deadline_id)
    if deadline is None:
        return False
    claimed = rowcount(session.execute(
        update(Deadline)
        .where(Deadline.id == deadline_id, Deadline.state == DeadlineState.PENDING, Deadline.due_at <= now)
        .values(
            state=DeadlineState.FIRED,
            fired_at=now,
            attempts=Deadline.attempts + 1,
            fired_late=(now - deadline.due_at) > LATE_AFTER,
        )
        .execution_options(synchronize_session=False)
    ))
    if claimed != 1:
        return False  # someone else got there first, or it was cancelled meanwhile
    deadline_index.refresh(session, [deadline.case_id])
    session.refresh(deadline)
    effect(session, deadline, now)
    return True


def _postpone(session: Session, deadline_id: int, now: datetime, error: str) -> None:
    deadline = session.get(Deadline, deadline_id)
    if deadline is None or deadline.state != DeadlineState.PENDING:
        return
    deadline.attempts += 1
    deadline.last_error = error[-4000:]
    if deadline.attempts >= MAX_ATTEMPTS:
        deadline.state = DeadlineState.CANCELLED
    else:
        deadline.due_at = now + RETRY_DELAY * deadline.attempts


def sweep(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    batch: int = 500,
    effect: DeadlineEffect = record_expiry,
) -> SweepResult:
    """Fire every deadline that is due; each in its own transaction so one failure stops nothing else."""
    now = now or utcnow()
    result = SweepResult()
    while True:
        with factory() as session:
            ids = _due_ids(session, now, batch)
            if not ids:
                return result
            oldest = session.scalar(select(Deadline.due_at).where(Deadline.id == ids[0]))
            if oldest is not None and result.lag_seconds is None:
                result.lag_seconds = max(0.0, (now - oldest).total_seconds())
            session.rollback()  # release row locks taken while listing
        for deadline_id in ids:
            with factory() as session:
                try:
                    if _fire_one(session, deadline_id, now, effect):
                        result.processed += 1
                    session.commit()
                except Exception:
                    session.rollback()
                    result.failures += 1
                    _postpone(session, deadline_id, now, traceback.format_exc())
                    session.commit()
        if len(ids) < batch:
            return result


def beat(
    factory: sessionmaker[Session],
    name: str,
    started_at: datetime,
    result: SweepResult,
    error: str | None = None,
    supervision: Supervision | None = None,
) -> None:
    """Record that this scheduler is alive and what its last sweep did (and its restarts, if supervised)."""
    with factory() as session:
        row = session.get(SchedulerHeartbeat, name)
        if row is None:
            row = SchedulerHeartbeat(name=name, pid=os.getpid(), started_at=started_at)
            session.add(row)
        row.pid = os.getpid()
        row.started_at = started_at
        row.last_sweep_at = utcnow()
        row.last_lag_seconds = result.lag_seconds
        row.processed_total = (row.processed_total or 0) + result.processed
        row.failures_total = (row.failures_total or 0) + result.failures
        row.last_error = error
        if supervision is not None:
            row.restarts = supervision.restarts
            row.last_exit_code = supervision.last_exit_code
            row.last_exit_at = supervision.last_exit_at
        session.commit()


@dataclass
class SchedulerStatus:
    beat: SchedulerHeartbeat
    alive: bool
    seconds_since: float | None

    @property
    def last_exit(self) -> str:
        """How the previous run ended: its exit code, or the signal that killed it (SIGKILL)."""
        code = self.beat.last_exit_code
        if code is None:
            return ""
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return str(code)


@dataclass
class Health:
    """What an admin needs to know the scheduler is alive and keeping up."""

    schedulers: list[SchedulerStatus]
    pending: int
    paused: int
    backlog: int  # pending and already due: firing them is the scheduler's job right now
    oldest_due: datetime | None
    fired_last_hour: int
    fired_last_day: int
    late_last_day: int
    retrying: int  # failed at least once and will be tried again
    given_up: int  # cancelled after MAX_ATTEMPTS failures

    @property
    def alive(self) -> bool:
        return any(s.alive for s in self.schedulers)


def health(session: Session, now: datetime, interval_seconds: float) -> Health:
    # A scheduler that has not swept for three intervals (and at least half a minute) is not keeping up.
    stale_after = max(3 * interval_seconds, 30.0)
    statuses = []
    for row in session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.last_sweep_at.desc())):
        since = (now - row.last_sweep_at).total_seconds() if row.last_sweep_at else None
        statuses.append(SchedulerStatus(row, since is not None and since <= stale_after, since))

    def count(*conditions: Any) -> int:
        return session.scalar(select(func.count()).select_from(Deadline).where(*conditions)) or 0

    pending = Deadline.state == DeadlineState.PENDING
    fired = Deadline.state == DeadlineState.FIRED
    today = Deadline.fired_at >= now - timedelta(days=1)
    return Health(
        schedulers=statuses,
        pending=count(pending),
        paused=count(Deadline.state == DeadlineState.PAUSED),
        backlog=count(pending, Deadline.due_at <= now),
        oldest_due=session.scalar(select(func.min(Deadline.due_at)).where(pending, Deadline.due_at <= now)),
        fired_last_hour=count(fired, Deadline.fired_at >= now - timedelta(hours=1)),
        fired_last_day=count(fired, today),
        late_last_day=count(fired, Deadline.fired_late.is_(True), today),
        retrying=count(pending, Deadline.attempts > 0),
        given_up=count(Deadline.state == DeadlineState.CANCELLED, Deadline.last_error.is_not(None)),
    )
