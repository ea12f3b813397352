"""Automatic assignment: each enabled queue's unassigned open cases go round robin to agents on shift.

An agent is on shift within their market's business hours (any time when they have no market) unless
they switched themselves "away"; one who holds `cap` open cases gets no more. The scheduler runs
`assign_waiting` every tick, so new cases and cases returned to the queue (unassigned) are picked up.

Exactly once under concurrency: the cases are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a
second scheduler skips them), then every agent's availability row is locked in id order before the open
counts are read, so two schedulers cannot both give the last slot under an agent's cap; the case's
version column refuses a write over a change made meanwhile. SQLite has one writer at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import operations as ops
from portal.domain.deadline_rules import calendar_for
from portal.domain.enums import OPEN_STATUSES, Role
from portal.domain.lifecycle import N_, Actor, LifecycleError
from portal.domain.models import AgentAvailability, AutoAssignQueue, Case, Market, User
from portal.domain.types import utcnow

CAP_RANGE = (1, 500)
DEFAULT_CAP = 20
BATCH = 200
ACTOR = "auto-assignment"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AgentState:
    """An agent as the assignment and its settings page see them."""

    user: User
    away: bool
    market: Market | None
    on_shift: bool
    open_cases: int

    @property
    def available(self) -> bool:
        return self.on_shift and not self.away


def availability(session: Session, user_id: int) -> AgentAvailability:
    """The agent's availability row, created (not away, no market) on first use."""
    row = session.get(AgentAvailability, user_id)
    if row is None:
        row = AgentAvailability(user_id=user_id, away=False)
        session.add(row)
        session.flush()
    return row


def _ensure_rows(session: Session, user_ids: list[int]) -> None:
    """Availability rows for these agents, inserted where missing; another process inserting the same
    row at the same moment is not an error."""
    existing = select(AgentAvailability.user_id).where(AgentAvailability.user_id.in_(user_ids))
    have = set(session.scalars(existing))
    missing = [{"user_id": i, "away": False, "updated_at": utcnow()} for i in user_ids if i not in have]
    if not missing:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(AgentAvailability).values(missing).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(AgentAvailability).values(missing).on_conflict_do_nothing())


def set_away(session: Session, user_id: int, away: bool) -> None:
    availability(session, user_id).away = away
    session.flush()


def set_agent(session: Session, user_id: int, away: bool, market_id: int | None) -> None:
    """A manager sets an agent's away switch and the market whose business hours are their shift."""
    if market_id is not None and session.get(Market, market_id) is None:
        raise LifecycleError(N_("Choose a market from the list."))
    row = availability(session, user_id)
    row.away, row.market_id = away, market_id
    session.flush()


def is_away(session: Session, user_id: int) -> bool:
    row = session.get(AgentAvailability, user_id)
    return bool(row and row.away)


def configure_queue(session: Session, queue: str, enabled: bool, cap: int) -> AutoAssignQueue:
    queue = (queue or "").strip().lower()
    if not queue or len(queue) > 40:
        raise LifecycleError(N_("Name the queue (at most 40 characters)."))
    if not CAP_RANGE[0] <= cap <= CAP_RANGE[1]:
        raise LifecycleError(
            N_("The cap must be a whole number from %(low)s to %(high)s."),
            low=CAP_RANGE[0],
            high=CAP_RANGE[1],
        )
    row = session.get(AutoAssignQueue, queue)
    if row is None:
        row = AutoAssignQueue(queue=queue)
        session.add(row)
    row.enabled, row.cap = enabled, cap
    session.flush()
    return row


def queue_settings(session: Session) -> list[tuple[str, AutoAssignQueue | None, int]]:
    """Every queue that has open cases or settings: its settings (None: never configured) and open cases."""
    counts = dict(
        session.execute(
            select(Case.queue, func.count()).where(Case.status.in_(OPEN_STATUSES)).group_by(Case.queue)
        ).all()
    )
    rows = {row.queue: row for row in session.scalars(select(AutoAssignQueue))}
    return [(name, rows.get(name), int(counts.get(name, 0))) for name in sorted(set(counts) | set(rows))]


def _open_counts(session: Session) -> dict[int, int]:
    rows = session.execute(
        select(Case.assignee_id, func.count())
        .where(Case.status.in_(OPEN_STATUSES), Case.assignee_id.is_not(None))
        .group_by(Case.assignee_id)
    ).all()
    return {int(user_id): int(count) for user_id, count in rows if user_id is not None}


def agents(session: Session, now: datetime | None = None, lock: bool = False) -> list[AgentState]:
    """Every active CS agent with their availability now; `lock` holds their rows until the commit."""
    now = now or utcnow()
    people = list(session.scalars(
        select(User).where(User.role == Role.CS_AGENT, User.active.is_(True)).order_by(User.id)
    ))
    if lock:
        # Rows to lock; an agent without one is simply not away and has no market.
        _ensure_rows(session, [p.id for p in people])
    query = select(AgentAvailability).where(AgentAvailability.user_id.in_([p.id for p in people]))
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.order_by(AgentAvailability.user_id).with_for_update()
    rows = {row.user_id: row for row in session.scalars(query)}
    blank = AgentAvailability(away=False)
    counts = _open_counts(session)
    calendars: dict[int, bool] = {}
    states = []
    for person in people:
        row = rows.get(person.id, blank)
        if row.market is None:
            on_shift = True
        else:
            if row.market.id not in calendars:
                calendars[row.market.id] = calendar_for(session, row.market).is_open(now)
            on_shift = calendars[row.market.id]
        states.append(AgentState(person, row.away, row.market, on_shift, counts.get(person.id, 0)))
    return states


def _waiting_cases(session: Session, queues: list[str], limit: int) -> list[Case]:
    query = (
        select(Case)
        .where(Case.status.in_(OPEN_STATUSES), Case.assignee_id.is_(None), Case.queue.in_(queues))
        .order_by(Case.next_deadline_at, Case.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another scheduler assigning at the same time skips these cases instead of assigning them too.
        query = query.with_for_update(skip_locked=True, of=Case)
    return list(session.scalars(query))


def assign_waiting(session: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    """Assign the enabled queues' unassigned open cases, most urgent first; the caller commits.

    Returns how many cases were assigned.
    """
    now = now or utcnow()
    enabled = select(AutoAssignQueue).where(AutoAssignQueue.enabled)
    caps = {row.queue: row.cap for row in session.scalars(enabled)}
    if not caps:
        return 0
    cases = _waiting_cases(session, sorted(caps), limit)
    if not cases:
        return 0
    states = [state for state in agents(session, now, lock=True) if state.available]
    if not states:
        return 0
    rows = {row.user_id: row for row in session.scalars(
        select(AgentAvailability).where(AgentAvailability.user_id.in_([s.user.id for s in states]))
    )}
    open_cases = {state.user.id: state.open_cases for state in states}
    # Turns are stamped after every earlier one, even when clocks of two hosts disagree a little.
    earlier = [r.last_assigned_at + timedelta(microseconds=1) for r in rows.values() if r.last_assigned_at]
    stamp = max([now, *earlier])
    actor = Actor.system(ACTOR)
    assigned = 0
    for case in cases:
        cap = caps[case.queue]
        fits = [state for state in states if open_cases[state.user.id] < cap]
        if not fits:
            continue
        # Round robin: the agent who was handed a case longest ago (never, first), then by id.
        chosen = min(fits, key=lambda s: (rows[s.user.id].last_assigned_at or NEVER, s.user.id))
        try:
            ops.assign_to(session, case, actor, chosen.user)
        except LifecycleError:
            continue
        rows[chosen.user.id].last_assigned_at = stamp
        stamp += timedelta(microseconds=1)
        open_cases[chosen.user.id] += 1
        assigned += 1
    session.flush()
    return assigned
