"""Request counting that every worker shares: a sliding window of short buckets held in the database.

Each counted request adds one to the bucket of the current slice of time (an upsert, so concurrent
workers never lose a hit) and sums the buckets of the window in the same transaction; a request over the
limit is taken back out again, so refused requests never extend a lockout and `Retry-After` is exact to
one bucket. The row lock on the current bucket (PostgreSQL) or the database write lock (SQLite) makes
the check strict: N concurrent attempts against a limit of L let exactly L through. Counts that only
failures add to (`peek` first, `add` after a failure) are exact for one client at a time and may be
passed by as many requests as run at once.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from portal.domain.models import ThrottleBucket
from portal.domain.types import utcnow

# A window is cut into this many buckets: finer means a more exact window and more rows to sum.
BUCKETS_PER_WINDOW = 10
# Expired buckets are deleted by one request in this many, so the table stays small with no extra job.
CLEANUP_ONE_IN = 200

_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d*)\s*([a-z]+)\s*$")


class LimitError(ValueError):
    pass


@dataclass(frozen=True)
class Limit:
    """At most `count` requests in any `seconds`."""

    count: int
    seconds: int

    @property
    def bucket_seconds(self) -> int:
        return max(1, math.ceil(self.seconds / BUCKETS_PER_WINDOW))

    @property
    def buckets(self) -> int:
        return math.ceil(self.seconds / self.bucket_seconds)

    def per_minute(self) -> float:
        return self.count * 60 / self.seconds


def parse_limit(text: str) -> Limit | None:
    """"10/15min", "600/min", "5 per 30s", "1000/day"; "off" (or empty) for no limit."""
    if text.strip().lower() in {"", "off", "none", "0"}:
        return None
    match = _LIMIT.match(text.lower())
    if not match or match.group(3) not in _UNITS:
        raise LimitError(f"'{text}' is not a rate limit; write it like 10/15min, 600/min or 1000/day")
    count, amount, unit = int(match.group(1)), int(match.group(2) or 1), _UNITS[match.group(3)]
    if count < 1 or amount < 1:
        raise LimitError(f"'{text}' must allow at least one request in a time of at least one second")
    return Limit(count, amount * unit)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Whole seconds until a request would be counted again (0 when allowed).
    retry_after: int
    bucket_start: datetime


def subject_key(subject: str) -> str:
    return hashlib.sha256(subject.encode("utf-8")).hexdigest()


def _bucket_start(limit: Limit, now: datetime) -> datetime:
    width = limit.bucket_seconds
    return datetime.fromtimestamp(math.floor(now.timestamp() / width) * width, UTC)


def _upsert(engine: Engine, values: dict[str, object]) -> Executable:
    """One more hit in the bucket, creating it if needed (both backends spell it ON CONFLICT)."""
    columns = [ThrottleBucket.scope, ThrottleBucket.key, ThrottleBucket.bucket_start]
    increment = {"hits": ThrottleBucket.hits + 1}
    if engine.dialect.name == "postgresql":
        return postgresql.insert(ThrottleBucket).values(**values).on_conflict_do_update(
            index_elements=columns, set_=increment
        )
    return sqlite.insert(ThrottleBucket).values(**values).on_conflict_do_update(
        index_elements=columns, set_=increment
    )


def hit(engine: Engine, scope: str, subject: str, limit: Limit, now: datetime | None = None) -> Verdict:
    """Count one request of `subject` in `scope`, or refuse it (uncounted) if the window is full."""
    now = now or utcnow()
    key = subject_key(subject)
    current = _bucket_start(limit, now)
    window = timedelta(seconds=limit.bucket_seconds * limit.buckets)
    mine = (ThrottleBucket.scope == scope, ThrottleBucket.key == key)
    with engine.begin() as conn:
        conn.execute(_upsert(engine, {
            "scope": scope, "key": key, "bucket_start": current, "hits": 1, "expires_at": current + window,
        }))
        rows = conn.execute(
            select(ThrottleBucket.bucket_start, ThrottleBucket.hits)
            .where(*_window(scope, subject, limit, now))
            .order_by(ThrottleBucket.bucket_start)
        ).all()
        total = sum(hits for _start, hits in rows)
        if total <= limit.count:
            if random.randrange(CLEANUP_ONE_IN) == 0:  # not a secret: it only spreads the cleanup
                conn.execute(delete(ThrottleBucket).where(ThrottleBucket.expires_at < now))
            return Verdict(True, 0, current)
        conn.execute(
            update(ThrottleBucket).where(*mine, ThrottleBucket.bucket_start == current)
            .values(hits=ThrottleBucket.hits - 1)
        )
    counted = [(start, hits - 1 if start == current else hits) for start, hits in rows]
    return Verdict(False, _retry_after(counted, total - 1, limit, window, now), current)


def _window(scope: str, subject: str, limit: Limit, now: datetime) -> tuple[Any, ...]:
    current = _bucket_start(limit, now)
    first = current - timedelta(seconds=limit.bucket_seconds * (limit.buckets - 1))
    return (ThrottleBucket.scope == scope, ThrottleBucket.key == subject_key(subject),
            ThrottleBucket.bucket_start >= first)


def peek(engine: Engine, scope: str, subject: str, limit: Limit, now: datetime | None = None) -> Verdict:
    """Whether one more request would fit, counting nothing (for counts that only failures add to)."""
    now = now or utcnow()
    window = timedelta(seconds=limit.bucket_seconds * limit.buckets)
    with engine.connect() as conn:
        rows = [(start, hits) for start, hits in conn.execute(
            select(ThrottleBucket.bucket_start, ThrottleBucket.hits)
            .where(*_window(scope, subject, limit, now))
            .order_by(ThrottleBucket.bucket_start)
        ).all()]
    total = sum(hits for _start, hits in rows)
    current = _bucket_start(limit, now)
    if total < limit.count:
        return Verdict(True, 0, current)
    return Verdict(False, _retry_after(rows, total, limit, window, now), current)


def add(engine: Engine, scope: str, subject: str, limit: Limit, now: datetime | None = None) -> None:
    """Count one request without checking (a failure, after `peek` let the attempt in)."""
    now = now or utcnow()
    current = _bucket_start(limit, now)
    window = timedelta(seconds=limit.bucket_seconds * limit.buckets)
    with engine.begin() as conn:
        conn.execute(_upsert(engine, {
            "scope": scope, "key": subject_key(subject), "bucket_start": current, "hits": 1,
            "expires_at": current + window,
        }))


def _retry_after(rows: list[tuple[datetime, int]], counted: int, limit: Limit, window: timedelta,
                 now: datetime) -> int:
    """Seconds until enough of the oldest buckets leave the window for one more request to fit."""
    must_leave = counted + 1 - limit.count
    left = 0
    for start, hits in rows:
        left += hits
        if left >= must_leave:
            return max(1, math.ceil((start + window - now).total_seconds()))
    return max(1, math.ceil(window.total_seconds()))


def release(engine: Engine, scope: str, subject: str, bucket_start: datetime) -> None:
    """Take back a counted request (a sign-in that succeeded does not count against the account)."""
    with engine.begin() as conn:
        conn.execute(
            update(ThrottleBucket)
            .where(ThrottleBucket.scope == scope, ThrottleBucket.key == subject_key(subject),
                   ThrottleBucket.bucket_start == bucket_start, ThrottleBucket.hits > 0)
            .values(hits=ThrottleBucket.hits - 1)
        )
