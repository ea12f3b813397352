"""One way to claim and retry stored work: leases, backoff with jitter and a cap, and a dead letter.

Every kind of work the portal does later (deadlines, marketplace inbox and commands, stale tracking,
background jobs, buyer messages) is a table of rows with a state, a time it is next due, an attempt
count and the last error. A `WorkQueue` names those columns and the kind's states; the functions here
do the rest, so each kind only says what to do with one row.

Two ways to hold a row:

* **In the worker's transaction** (`WorkQueue.leased is None`): `claim` moves due rows to their
  finished state (e.g. a deadline to "fired") with one conditional UPDATE; the worker applies their
  effects in the same transaction and commits. Another worker cannot take the same row (the UPDATE
  is conditional on the row still being claimable, and on PostgreSQL the rows are locked with
  `FOR UPDATE SKIP LOCKED` so another worker skips them instead of waiting), and a worker killed
  before commit leaves the rows as they were. Use it when the effect is only database writes.
* **With a lease** (`WorkQueue.leased` is a state, e.g. "sending"): `claim` marks the rows leased,
  counts the attempt and pushes `due` to now + `lease`, and the caller commits at once; the work then
  happens outside the transaction (an HTTP call, a long job) and ends with `complete` or `fail`. A
  worker that dies leaves the row leased; when the lease runs out another worker claims it again
  (`renew` extends a lease for long work). Use it when the effect leaves the database, together with an
  idempotency key, or when the work is too long for one transaction.

Failures: `fail(session, queue, row_id, now, error)` records the error and either schedules the next
attempt after `queue.backoff.delay(attempts)` (exponential, capped, with jitter so that rows that failed
together do not all come back together) or, after `backoff.max_attempts` attempts or for an error that
retrying cannot fix (`retryable=False`), moves the row to the dead-letter state `queue.failed`
("failed": never the state of a legitimate cancel). `retry` puts a dead letter back in the queue (an
admin asked, from the one page that lists the dead letters of every kind: `dead_letters`).

Typical use, in the worker's transaction::

    with factory() as session:
        for row_id in claims.claim(session, DEADLINES, now, limit=500, values={"fired_at": now}):
            ...  # apply the effect (in a savepoint per row, to fail one without the others)
        session.commit()

and with a lease::

    with factory() as session:
        ids = claims.claim(session, COMMANDS, now, limit=100)
        session.commit()
    for row_id in ids:
        try:
            send(row_id)
        except Exception as error:
            with factory() as session:
                claims.fail(session, COMMANDS, row_id, utcnow(), str(error))
                session.commit()
        else:
            with factory() as session:
                claims.complete(session, COMMANDS, row_id, {"sent_at": utcnow()})
                session.commit()
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from portal.domain.types import rowcount, utcnow

# Errors are kept to this many characters (the end of a traceback says the most).
ERROR_CHARS = 4000


@dataclass(frozen=True)
class Backoff:
    """When to try again: `first`, then doubling up to `cap`, each delay drawn between half and all of
    it ("equal jitter"), and at most `max_attempts` attempts in all."""

    first: timedelta
    cap: timedelta
    max_attempts: int
    factor: float = 2.0

    def delay(self, attempts: int, rng: Callable[[], float] = random.random) -> timedelta:
        """The wait after the `attempts`-th failed attempt (1 for the first)."""
        ceiling = min(self.cap, self.first * self.factor ** max(0, attempts - 1))
        return ceiling * (0.5 + 0.5 * rng())

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


# The policy every kind uses unless it has a reason to differ: 30 s, 1, 2, 4 min ... capped at an hour,
# eight attempts (about four hours in all) before a row is dead-lettered.
DEFAULT_BACKOFF = Backoff(first=timedelta(seconds=30), cap=timedelta(hours=1), max_attempts=8)


@dataclass(frozen=True)
class WorkQueue:
    """One kind of stored work: its table, the columns the helper needs and the states it moves through."""

    kind: str  # a stable name ("deadlines"), used in URLs of the dead-letter page
    model: type[Any]
    state: InstrumentedAttribute[Any]
    due: InstrumentedAttribute[Any]  # when the row may next be claimed (also a lease's end)
    attempts: InstrumentedAttribute[int]
    last_error: InstrumentedAttribute[Any]
    ready: Any  # the state of a row waiting to be done
    failed: Any = "failed"  # the dead letter
    # The state of a row a worker holds under a lease, or None when rows are claimed in the worker's
    # own transaction.
    leased: Any = None
    lease: timedelta = timedelta(minutes=2)
    backoff: Backoff = DEFAULT_BACKOFF
    # Further conditions a claimable row meets (for example, outbound messages only).
    where: tuple[ColumnElement[bool], ...] = field(default_factory=tuple)

    @property
    def id(self) -> Any:
        """The table's id column (typed loosely: each model's own)."""
        return self.model.id

    def claimable(self, now: datetime) -> ColumnElement[bool]:
        """Due and waiting, or leased with the lease run out (its worker died)."""
        waiting = self.state == self.ready
        if self.leased is not None:
            waiting = or_(waiting, self.state == self.leased)
        return and_(waiting, self.due <= now, *self.where)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def due_ids(session: Session, queue: WorkQueue, now: datetime, limit: int) -> Select[tuple[int]]:
    """The ids of up to `limit` claimable rows, oldest due first (locked and skipped on PostgreSQL)."""
    query = select(queue.id).where(queue.claimable(now)).order_by(queue.due, queue.id).limit(limit)
    if _postgres(session):
        # Another worker claiming at the same time skips these rows instead of waiting for them.
        query = query.with_for_update(skip_locked=True)
    return query


def claim(
    session: Session,
    queue: WorkQueue,
    now: datetime | None = None,
    limit: int = 100,
    values: dict[str, Any] | None = None,
    ids: Sequence[int] | None = None,
) -> list[int]:
    """Claim up to `limit` due rows (or only those of `ids` still claimable); returns the ids claimed.

    In the worker's transaction the rows get `values` (their finished state and anything else); with a
    lease they become `queue.leased` until now + `queue.lease`, the attempt is counted, and the caller
    should commit before doing the work.
    """
    now = now or utcnow()
    if queue.leased is not None:
        give_up_on_lost_leases(session, queue, now)
    changes: dict[str, Any] = dict(values or {})
    if queue.leased is not None:
        changes.setdefault(queue.state.key, queue.leased)
        changes[queue.due.key] = now + queue.lease
        changes[queue.attempts.key] = queue.attempts + 1
    elif queue.state.key not in changes:
        raise ValueError("a claim in the worker's transaction must say the state the rows move to")
    if ids is not None:
        if not ids:
            return []
        chosen: Any = select(queue.id).where(queue.id.in_(list(ids)), queue.claimable(now))
        if _postgres(session):
            chosen = chosen.with_for_update(skip_locked=True)
    else:
        chosen = due_ids(session, queue, now, limit)
    # List first, then update exactly those rows. (Not one UPDATE ... WHERE id IN (locked subquery):
    # PostgreSQL may run such a subquery more than once, and with SKIP LOCKED each run can pick other
    # rows, so one claim could take more than `limit` rows.) On PostgreSQL the listed rows stay locked
    # until the transaction ends; on SQLite there is one writer at a time.
    picked = list(session.scalars(chosen))
    if not picked:
        return []
    statement = (
        update(queue.model)
        .where(queue.id.in_(picked), queue.claimable(now))
        .values(changes)
        .returning(queue.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement))


def _held(queue: WorkQueue, row_id: int, state: Any, attempt: int | None) -> ColumnElement[bool]:
    """The row, still in `state`, and (given the attempt a worker claimed) still that worker's."""
    condition = and_(queue.id == row_id, queue.state == state)
    if attempt is not None:
        # A lease that ran out was claimed again, which counted a new attempt: the old holder's
        # attempt number no longer matches, so its late renewals and results change nothing.
        condition = and_(condition, queue.attempts == attempt)
    return condition


def give_up_on_lost_leases(session: Session, queue: WorkQueue, now: datetime) -> int:
    """Dead-letter leased rows whose lease ran out on their last allowed attempt: work that keeps
    killing its worker (or outliving every lease) is not claimed forever. Returns how many."""
    lost = and_(
        queue.state == queue.leased,
        queue.due <= now,
        queue.attempts >= queue.backoff.max_attempts,
        *queue.where,
    )
    message = f"gave up: its worker stopped during each of {queue.backoff.max_attempts} attempts"
    return rowcount(session.execute(
        update(queue.model)
        .where(lost)
        .values({queue.state.key: queue.failed, queue.last_error.key: message})
        .execution_options(synchronize_session=False)
    ))


def renew(
    session: Session, queue: WorkQueue, row_id: int, now: datetime | None = None, attempt: int | None = None
) -> bool:
    """Extend a lease (long work reports it is alive); False when the row is no longer leased (to it)."""
    if queue.leased is None:
        raise ValueError(f"{queue.kind} rows are not leased")
    now = now or utcnow()
    changed = rowcount(session.execute(
        update(queue.model)
        .where(_held(queue, row_id, queue.leased, attempt))
        .values({queue.due.key: now + queue.lease})
        .execution_options(synchronize_session=False)
    ))
    return changed == 1


def complete(
    session: Session, queue: WorkQueue, row_id: int, values: dict[str, Any], attempt: int | None = None
) -> bool:
    """Finish a leased row with `values` (its done state and results); False if it was not leased any more
    (or, given `attempt`, is leased to another worker now)."""
    if queue.leased is None:
        raise ValueError(f"{queue.kind} rows are finished by claim() itself")
    if queue.state.key not in values:
        raise ValueError("complete() must say the state the row moves to")
    changed = rowcount(session.execute(
        update(queue.model)
        .where(_held(queue, row_id, queue.leased, attempt))
        .values({**values, queue.last_error.key: None})
        .execution_options(synchronize_session=False)
    ))
    return changed == 1


@dataclass(frozen=True)
class Failure:
    """What `fail` did: the row will be retried at `retry_at`, or it is dead (`retry_at` None)."""

    attempts: int
    retry_at: datetime | None

    @property
    def dead(self) -> bool:
        return self.retry_at is None


def fail(
    session: Session,
    queue: WorkQueue,
    row_id: int,
    now: datetime | None = None,
    error: str = "",
    retryable: bool = True,
    rng: Callable[[], float] = random.random,
    holding: Any = None,
    reset: dict[str, Any] | None = None,
    attempt: int | None = None,
) -> Failure | None:
    """Record a failed attempt: back off and retry, or dead-letter the row. None if the row is not the
    caller's any more (cancelled, finished, or claimed by another worker after its lease ran out).

    Call it in a fresh transaction (after rolling back the failed work) and commit. With a lease the
    attempt was counted when claimed; in the worker's transaction the claim was rolled back with the
    work, so this counts it.

    A batch claimed in the worker's transaction may instead fail one row in that same transaction,
    after rolling back only that row's savepoint: `holding` is then the state the claim gave the row,
    and `reset` undoes the claim's other `values`.
    """
    now = now or utcnow()
    if holding is None:
        holding = queue.leased if queue.leased is not None else queue.ready
    query = select(queue.attempts).where(_held(queue, row_id, holding, attempt))
    row = session.execute(query.with_for_update() if _postgres(session) else query).first()
    if row is None:
        return None
    attempts = row[0] + (1 if queue.leased is None else 0)
    dead = not retryable or queue.backoff.gives_up(attempts)
    retry_at = None if dead else now + queue.backoff.delay(attempts, rng)
    values: dict[str, Any] = {
        **(reset or {}),
        queue.attempts.key: attempts,
        queue.last_error.key: error[-ERROR_CHARS:] or None,
        queue.state.key: queue.failed if dead else queue.ready,
    }
    if retry_at is not None:
        values[queue.due.key] = retry_at
    session.execute(
        update(queue.model)
        .where(_held(queue, row_id, holding, attempt))
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return Failure(attempts, retry_at)


def retry(session: Session, queue: WorkQueue, row_id: int, now: datetime | None = None) -> bool:
    """Put a dead letter back in the queue with a fresh count of attempts; False if it was not dead."""
    changed = rowcount(session.execute(
        update(queue.model)
        .where(queue.id == row_id, queue.state == queue.failed)
        .values({queue.state.key: queue.ready, queue.due.key: now or utcnow(), queue.attempts.key: 0})
        .execution_options(synchronize_session=False)
    ))
    return changed == 1


def dead_letters(queue: WorkQueue) -> Select[Any]:
    """The rows of this kind that gave up (the caller orders and pages them)."""
    return select(queue.model).where(queue.state == queue.failed)


def count_dead(session: Session, queue: WorkQueue) -> int:
    dead = select(func.count()).select_from(queue.model).where(queue.state == queue.failed)
    return session.scalar(dead) or 0
