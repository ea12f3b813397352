"""Column types shared by the models: aware UTC datetimes, money and string-backed enums."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import DateTime, Enum, Numeric
from sqlalchemy.engine import CursorResult, Dialect, Result
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC on every backend.

    SQLite has no time zone type, so values are stored naive in UTC there and made aware again
    on the way out; PostgreSQL keeps them as ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone first")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# The sort key of a case with no pending deadline: after every real one, and indexable on every backend
# (NULL would sort first on SQLite and last on PostgreSQL).
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Two decimal places suit every currency the demo markets use; amounts are never floats.
MONEY = Numeric(14, 2, asdecimal=True)


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def str_enum(enum_cls: type[enum.Enum], length: int = 32) -> Enum:
    """A VARCHAR column holding an enum's values (not its names), validated in Python."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda cls: [member.value for member in cls],
        validate_strings=True,
    )


def enum_values(enum_cls: type[enum.Enum]) -> list[Any]:
    return [member.value for member in enum_cls]


def N_(message: str) -> str:
    """Mark a message for translation; the web layer translates it when it shows it."""
    return message


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched; `Session.execute` is typed as a plain Result, which has no count."""
    return cast(CursorResult[Any], result).rowcount
