"""Keeping `cases.next_deadline_at` equal to the earliest pending deadline of each case.

The ORM marks a case when one of its deadlines is added, changed or removed, and the value is
recomputed just before the transaction commits; bulk SQL that bypasses the ORM calls `refresh` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from portal.domain.enums import DeadlineState
from portal.domain.models import Case, Deadline
from portal.domain.types import NO_DEADLINE

_KEY = "deadline_cases"


def refresh(session: Session, case_ids: Iterable[int] | None = None) -> None:
    """Recompute the column for these cases (all cases when None)."""
    earliest = func.coalesce(
        select(Deadline.due_at)
        .where(Deadline.case_id == Case.id, Deadline.state == DeadlineState.PENDING)
        .order_by(Deadline.due_at)
        .limit(1)
        .scalar_subquery(),
        NO_DEADLINE,
    )
    # Keep updated_at as it is: a deadline firing is not an edit of the case.
    statement = (update(Case).values(next_deadline_at=earliest, updated_at=Case.updated_at)
                 .execution_options(synchronize_session=False))
    if case_ids is None:
        session.execute(statement)
        return
    ids = sorted(set(case_ids))
    for start in range(0, len(ids), 500):
        session.execute(statement.where(Case.id.in_(ids[start : start + 500])))


def _note(session: Session, _context: Any, _instances: Any = None) -> None:
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Deadline):
            case_id = obj.case_id if obj.case_id is not None else (obj.case.id if obj.case else None)
            session.info.setdefault(_KEY, set()).add(obj)
            if case_id is not None:
                session.info.setdefault(_KEY + "_ids", set()).add(case_id)


def _apply(session: Session) -> None:
    deadlines = session.info.pop(_KEY, set())
    ids = session.info.pop(_KEY + "_ids", set())
    ids.update(d.case_id for d in deadlines if d.case_id is not None)
    if ids:
        refresh(session, ids)
        # The cases in this session now hold a stale value; reload it when read.
        for obj in session.identity_map.values():
            if isinstance(obj, Case) and obj.id in ids:
                session.expire(obj, ["next_deadline_at"])


def install() -> None:
    event.listen(Session, "before_flush", _note)
    event.listen(Session, "before_commit", _flush_and_apply)


def _flush_and_apply(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's release: wait for the whole transaction
        return
    session.flush()
    _apply(session)


install()
