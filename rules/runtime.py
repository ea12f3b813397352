"""Helpers the compiled policy calls at decision time: reading facts and three-valued arithmetic."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from .vocabulary import BOOLEAN, NUMBER, TEXT

MISSING = "missing"
WRONG_TYPE = "wrong type"
PRESENT = "present"

Getter = Callable[[Mapping[str, Any]], Any]


def raw(facts: Mapping[str, Any], path: str) -> Any:
    """A fact by dotted name, from a flat `{"item.customized": …}` key or nested objects; None if absent."""
    value = facts.get(path)
    if value is None and "." in path:
        node: Any = facts
        for part in path.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
            if node is None:
                return None
        value = node
    return value


def as_number(value: Any) -> int | Decimal | None:
    # bool is an int to Python but never a number to an ops manager.
    kind = type(value)
    if kind is int:
        return value
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is float:
        # Through repr so that 9.99 compares equal to the policy's 9.99.
        return Decimal(repr(value)) if math.isfinite(value) else None
    # Subclasses (an IntEnum, say) are read as their base type; bool stays excluded.
    if isinstance(value, bool):
        return None
    for base in (int, Decimal, float):
        if isinstance(value, base):
            return as_number(base(value))
    return None


def as_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_bool(value: Any) -> bool | None:
    return value if value is True or value is False else None


_CONVERT: dict[str, Callable[[Any], Any]] = {NUMBER: as_number, TEXT: as_text, BOOLEAN: as_bool}


def make_getter(path: str, kind: str) -> Getter:
    """A function reading one fact as `kind`, giving None when it is missing or of the wrong type."""
    convert = _CONVERT[kind]
    if "." not in path:

        def get_plain(facts: Mapping[str, Any]) -> Any:
            value = facts.get(path)
            return None if value is None else convert(value)

        return get_plain

    def get_dotted(facts: Mapping[str, Any]) -> Any:
        value = raw(facts, path)
        return None if value is None else convert(value)

    return get_dotted


def describe(facts: Mapping[str, Any], path: str, kind: str) -> tuple[Any, str]:
    """(the raw value, "present" / "missing" / "wrong type") for explanations."""
    value = raw(facts, path)
    if value is None:
        return None, MISSING
    if _CONVERT[kind](value) is None:
        return value, WRONG_TYPE
    return value, PRESENT


def add(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a + b


def sub(a: Any, b: Any) -> Any:
    return None if a is None or b is None else a - b


def mul(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        return a * b
    except (ArithmeticError, InvalidOperation):
        return None


def div(a: Any, b: Any) -> Any:
    # Division by zero is unknown, like a missing fact: deciding never fails on data.
    if a is None or b is None or b == 0:
        return None
    try:
        return Decimal(a) / Decimal(b)
    except (ArithmeticError, InvalidOperation):
        return None


def neg(a: Any) -> Any:
    return None if a is None else -a


def contains(a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(a, str):
        return b in a if isinstance(b, str) else None
    return b in a
