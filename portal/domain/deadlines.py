"""Firing due deadlines exactly once: claim with a conditional UPDATE, apply, record, commit together."""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain import audit, deadline_index
from portal.domain.batch import scope
from portal.domain.enums import DeadlineState
from portal.domain.models import Case, CaseEvent, Deadline, SchedulerHeartbeat
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import DEADLINES
from portal.supervision import Supervision

# A deadline fired more than this after it was due is marked late (the scheduler was down or behind).
LATE_AFTER = timedelta(minutes=1)
# How many due deadlines one transaction claims and fires.
BATCH = 500

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
    details = {"deadline_id": deadline.id, "name": deadline.name, "due_at": deadline.due_at,
               "late": deadline.fired_late}
    audit.record_many(session, [audit.entry("deadline.fired", "case", deadline.case_id, details,
                                            actor_label="scheduler")])


@dataclass
class SweepResult:
    processed: int = 0
    failures: int = 0
    lag_seconds: float | None = None


def _fire(
    session: Session, rows: Sequence[Deadline], now: datetime, effect: DeadlineEffect, careful: bool
) -> SweepResult:
    """Apply the effects. Carefully, each in a savepoint: one that fails is rolled back alone and its
    deadline goes back to pending with a backoff (or to failed, the dead letter). Otherwise without
    savepoints (they cost a flush and commit hooks per deadline), raising at the first failure."""
    done = SweepResult()
    for deadline in rows:
        if not careful:
            effect(session, deadline, now)
            done.processed += 1
            continue
        try:
            with session.begin_nested():
                effect(session, deadline, now)
        except Exception:
            done.failures += 1
            claims.fail(
                session, DEADLINES, deadline.id, now, traceback.format_exc(),
                holding=DeadlineState.FIRED, reset={"fired_at": None, "fired_late": False},
            )
        else:
            done.processed += 1
    return done


def _fire_batch(
    factory: sessionmaker[Session], now: datetime, batch: int, effect: DeadlineEffect, result: SweepResult
) -> int:
    """Claim up to `batch` due deadlines and fire them in one transaction; returns how many were claimed.

    The batch runs without savepoints first, not even around a policy action (see portal.domain.batch);
    if an effect fails or an action is refused, the whole transaction is rolled back and the same
    deadlines are claimed again and fired carefully (see `_fire`).
    """
    retry_ids: list[int] | None = None
    for careful in (False, True):
        with factory() as session:
            claimed = claims.claim(
                session,
                DEADLINES,
                now,
                batch,
                values={
                    "state": DeadlineState.FIRED,
                    "fired_at": now,
                    "fired_late": Deadline.due_at < now - LATE_AFTER,
                },
                ids=retry_ids,
            )
            if not claimed:
                session.rollback()
                return len(retry_ids or ())
            fired = select(Deadline).where(Deadline.id.in_(claimed)).order_by(Deadline.due_at)
            rows = session.scalars(fired).all()
            case_ids = {row.case_id for row in rows}
            # Load the batch's cases up front (the effects then find them in the session instead of
            # reading one at a time) and, on PostgreSQL, lock them in id order: two schedulers whose
            # batches share cases then queue behind each other instead of deadlocking halfway (each
            # would lock cases in the order its effects touch them), and no agent's change slips in
            # between our read and our write.
            cases = select(Case).where(Case.id.in_(sorted(case_ids))).order_by(Case.id)
            if session.get_bind().dialect.name == "postgresql":
                cases = cases.with_for_update()
            loaded = session.scalars(cases).all()  # held: the session keeps objects only while referenced
            try:
                # The batch changes no policy or rate: look them up once. Savepoints only when careful.
                with scope(session, optimistic=not careful):
                    done = _fire(session, rows, now, effect, careful)
            except Exception:
                session.rollback()  # the claims go too: nothing of this attempt stays
                retry_ids = claimed
                continue
            del loaded
            lag = max(0.0, (now - rows[0].due_at).total_seconds())
            deadline_index.refresh(session, case_ids)
            session.commit()
        if result.lag_seconds is None:
            result.lag_seconds = lag
        result.processed += done.processed
        result.failures += done.failures
        return len(retry_ids or claimed)
    return 0


def sweep(
    factory: sessionmaker[Session],
    now: datetime | None = None,
    batch: int = BATCH,
    effect: DeadlineEffect = record_expiry,
) -> SweepResult:
    """Fire every deadline that is due, `batch` to a transaction; a failing one stops nothing else."""
    now = now or utcnow()
    result = SweepResult()
    while _fire_batch(factory, now, batch, effect, result) == batch:
        pass
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
    given_up: int  # failed too often: dead letters, waiting for an admin

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
        given_up=count(Deadline.state == DeadlineState.FAILED),
    )
