"""Keyset pagination: pages stay fast and stable however deep the agent scrolls."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
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


class BadCursor(ValueError):
    """A page cursor that was not made by this portal for this list (edited, cut short, or from elsewhere)."""


MAX_CURSOR = 500
_BIGINT = 2**63


def _decode_value(value: Any, expected: type | None) -> Any:
    if isinstance(value, dict) and "t" in value and isinstance(value["t"], str):
        parsed = datetime.fromisoformat(value["t"])
        if parsed.tzinfo is None:
            raise BadCursor("naive time in cursor")
        decoded: Any = parsed.astimezone(UTC)  # raises OverflowError for year 1 or 9999 with an offset
    elif isinstance(value, dict) and "d" in value and isinstance(value["d"], str):
        decoded = Decimal(value["d"])
        if not decoded.is_finite() or abs(decoded) >= Decimal(10) ** 15:
            raise BadCursor("amount out of range in cursor")
    elif isinstance(value, bool) or not isinstance(value, int | str):
        raise BadCursor("bad cursor value")
    else:
        decoded = value
    if isinstance(decoded, int) and not -_BIGINT <= decoded < _BIGINT:
        raise BadCursor("number out of range in cursor")
    if expected is not None and not isinstance(decoded, expected):
        if not (issubclass(expected, Enum) and isinstance(decoded, str)):
            raise BadCursor("cursor value of the wrong type")
        decoded = expected(decoded)  # ValueError for a name the column cannot hold
    return decoded


def _python_type(expression: Any) -> type | None:
    """The Python type a sort column holds, or None when SQLAlchemy's type has none to offer.

    (`TypeEngine.python_type` raises NotImplementedError for such types; nothing here is unfinished.)
    """
    try:
        return expression.type.python_type  # type: ignore[no-any-return]
    except (AttributeError, NotImplementedError):
        return None


def decode_cursor(cursor: str, keys: list[tuple[Any, bool]]) -> list[Any]:
    """The position a cursor points at, checked against the list's sort keys; BadCursor otherwise."""
    if len(cursor) > MAX_CURSOR:
        raise BadCursor("cursor too long")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise BadCursor("cursor of the wrong length")
        return [_decode_value(v, _python_type(k)) for v, (k, _desc) in zip(raw, keys, strict=True)]
    except BadCursor:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, ArithmeticError) as error:
        raise BadCursor(str(error)) from None


def after(keys: list[tuple[Any, bool]], position: list[Any]) -> ColumnElement[bool]:
    """The rows that come after `position` (one value per key) in the order of `keys`."""
    clauses = []
    for i, (expression, descending) in enumerate(keys):
        equal = [keys[j][0] == position[j] for j in range(i)]
        step = expression < position[i] if descending else expression > position[i]
        clauses.append(and_(*equal, step))
    return or_(*clauses)


def keyset_page(
    session: Session, query: Select[Any], keys: list[tuple[Any, bool]], cursor: str | None, size: int
) -> Page[Any]:
    """One page of `query` ordered by `keys` ((expression, descending) pairs), starting after `cursor`.

    Raises BadCursor for a cursor this list did not hand out; the app answers it with a 400.
    """
    position = decode_cursor(cursor, keys) if cursor else None
    if position is not None:
        query = query.where(after(keys, position))
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
