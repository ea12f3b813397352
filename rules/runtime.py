"""Helpers the compiled policy calls at decision time: reading facts and three-valued arithmetic."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

MISSING = "missing"
WRONG_TYPE = "wrong type"
PRESENT = "present"


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


def add(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        return a + b
    except ArithmeticError:
        # A sum too large for Decimal is unknown, like a missing fact: deciding never fails on data.
        return None


def sub(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        return a - b
    except ArithmeticError:
        return None


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
