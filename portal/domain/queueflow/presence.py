"""Who has a case open: each open case page sends a heartbeat; a heartbeat older than the expiry means gone.

Stored in the database, not in a web process, so every process and host sees the same colleagues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session

from portal.domain.models import CasePresence, User
from portal.domain.types import rowcount, utcnow

# The page beats every HEARTBEAT; a colleague counts as present for EXPIRY after their last beat, long
# enough to survive one late or lost beat, short enough that a closed tab stops showing within a minute.
HEARTBEAT = timedelta(seconds=15)
EXPIRY = timedelta(seconds=45)


def beat(session: Session, case_id: int, user_id: int, now: datetime | None = None) -> None:
    """Record that `user_id` has the case open now (an update, else an insert; a racing insert of the same
    user and case is the same fact, so its conflict is answered with the update)."""
    now = now or utcnow()
    touched = update(CasePresence).where(CasePresence.case_id == case_id, CasePresence.user_id == user_id)
    if rowcount(session.execute(touched.values(seen_at=now))):
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(CasePresence).values(case_id=case_id, user_id=user_id, seen_at=now)
        session.execute(statement.on_conflict_do_update(
            index_elements=["case_id", "user_id"], set_={"seen_at": now}
        ))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(CasePresence).values(case_id=case_id, user_id=user_id, seen_at=now)
        session.execute(lite.on_conflict_do_update(
            index_elements=["case_id", "user_id"], set_={"seen_at": now}
        ))


def leave(session: Session, case_id: int, user_id: int) -> None:
    """The user closed the case (their page said so as it went away)."""
    mine = and_(CasePresence.case_id == case_id, CasePresence.user_id == user_id)
    session.execute(delete(CasePresence).where(mine))


def viewers(
    session: Session, case_ids: Sequence[int], except_user: int | None, now: datetime | None = None
) -> dict[int, list[str]]:
    """The names of the people (other than `except_user`) with each case open now, by case id."""
    if not case_ids:
        return {}
    since = (now or utcnow()) - EXPIRY
    rows = session.execute(
        select(CasePresence.case_id, User.name)
        .join(User, User.id == CasePresence.user_id)
        .where(CasePresence.case_id.in_(list(case_ids)), CasePresence.seen_at >= since)
        .where(User.id != (except_user if except_user is not None else -1))
        .order_by(CasePresence.case_id, User.name)
    ).all()
    found: dict[int, list[str]] = defaultdict(list)
    for case_id, name in rows:
        found[case_id].append(name)
    return dict(found)


def forget_expired(session: Session, now: datetime | None = None) -> int:
    """Delete heartbeats long past their expiry (the table stays as small as the number of open tabs)."""
    cutoff = (now or utcnow()) - EXPIRY * 20
    return rowcount(session.execute(delete(CasePresence).where(CasePresence.seen_at < cutoff)))
