"""Keyset pagination: pages stay fast and stable however deep the agent scrolls."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(when: datetime, row_id: int) -> str:
    raw = json.dumps([when.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The position a cursor names, or None for a cursor that is missing or was tampered with."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        parsed = datetime.fromisoformat(when)
        if parsed.tzinfo is None or not isinstance(row_id, int):
            return None
        return parsed, row_id
    except (ValueError, TypeError):
        return None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        parsed = datetime.fromisoformat(value["t"])
        if parsed.tzinfo is None:
            raise ValueError("naive time in cursor")
        return parsed
    if isinstance(value, dict) and "d" in value:
        return Decimal(value["d"])
    if isinstance(value, int | str):
        return value
    raise ValueError("bad cursor value")


def keyset_page(
    session: Session, query: Select[Any], keys: list[tuple[Any, bool]], cursor: str | None, size: int
) -> Page[Any]:
    """One page of `query` ordered by `keys` ((expression, descending) pairs), starting after `cursor`."""
    position: list[Any] | None = None
    if cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            position = [_decode_value(v) for v in raw]
            if len(position) != len(keys):
                position = None
        except (ValueError, TypeError):
            position = None  # a cursor that was tampered with starts from the top
    if position is not None:
        clauses = []
        for i, (expression, descending) in enumerate(keys):
            equal = [keys[j][0] == position[j] for j in range(i)]
            step = expression < position[i] if descending else expression > position[i]
            clauses.append(and_(*equal, step))
        query = query.where(or_(*clauses))
    ordering = [expression.desc() if descending else expression.asc() for expression, descending in keys]
    rows = list(session.execute(query.add_columns(*[k for k, _ in keys]).order_by(*ordering).limit(size + 1)))
    items = [row[0] for row in rows[:size]]
    next_cursor = None
    if len(rows) > size:
        last = rows[size - 1]
        values = [_encode_value(v) for v in last[1:]]
        next_cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
    return Page(items, next_cursor)


def newest_first(
    session: Session,
    query: Select[Any],
    time_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[Any],
    cursor: str | None,
    size: int,
) -> Page[Any]:
    """One page of `query`, newest first, starting after `cursor`."""
    position = decode_cursor(cursor)
    if position is not None:
        when, row_id = position
        query = query.where(or_(time_column < when, and_(time_column == when, id_column < row_id)))
    rows = list(session.scalars(query.order_by(time_column.desc(), id_column.desc()).limit(size + 1)))
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, time_column.key), getattr(last, id_column.key))
    return Page(rows, next_cursor)
