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
    return keyset_page(session, query, [(time_column, True), (id_column, True)], cursor, size)
