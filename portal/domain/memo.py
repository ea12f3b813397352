"""Lookups made once per batch: a transaction that applies many events and changes no policy or rate.

A batch (the scheduler firing hundreds of deadlines in one transaction) asks the same questions for
every event: which policy version is published in this market, what the exchange rates are. Inside
`batch(session)` the first answer is kept for the rest of the batch; outside it, nothing is kept and
every lookup reads the database, so a request that publishes a policy and then decides sees the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
_KEY = "batch_memo"


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Keep lookups for the duration of the block (nested blocks share the outer one's)."""
    if _KEY in session.info:
        yield
        return
    session.info[_KEY] = {}
    try:
        yield
    finally:
        session.info.pop(_KEY, None)


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, or inside a batch the value it gave the first time for `key`."""
    memo: dict[Hashable, Any] | None = session.info.get(_KEY)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[no-any-return]
