"""A batch: one transaction that applies many events (the scheduler firing hundreds of deadlines).

Lookups. Every event of a batch asks the same questions: which policy version is published in this
market, what the exchange rates are. Inside `scope(session)` the first answer is kept for the rest of
the batch; outside it, nothing is kept and every lookup reads the database, so a request that publishes
a policy and then decides sees the new one.

Optimism. A batch first runs without savepoints (`scope(session, optimistic=True)`): a savepoint makes
SQLAlchemy flush everything pending, so one per policy action meant a flush per event instead of a few
per batch. Whatever goes wrong then, including an action the case's state refuses, fails the whole batch,
which the caller rolls back and runs again with savepoints, where a refused action is skipped and said so.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
_KEY = "batch_memo"


_OPTIMISTIC = "batch_optimistic"


@contextmanager
def scope(session: Session, optimistic: bool = False) -> Iterator[None]:
    """Keep lookups for the duration of the block (nested blocks share the outer one's); with
    `optimistic`, effects may skip their savepoints, as the caller retries a failed batch with them."""
    if _KEY in session.info:
        yield
        return
    session.info[_KEY] = {}
    if optimistic:
        session.info[_OPTIMISTIC] = True
    try:
        yield
    finally:
        session.info.pop(_KEY, None)
        session.info.pop(_OPTIMISTIC, None)


def optimistic(session: Session) -> bool:
    """Whether an effect may run without a savepoint: any failure fails the whole batch, which is retried."""
    return bool(session.info.get(_OPTIMISTIC))


def active(session: Session) -> bool:
    """Whether a batch is running in this session."""
    return _KEY in session.info


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or inside a batch the value it gave the first time for `key`."""
    memo: dict[Hashable, Any] | None = session.info.get(_KEY)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[no-any-return]
