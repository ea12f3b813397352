"""Explanation entries shared between decisions: immutable tuples, safe to hand out."""

from __future__ import annotations

from typing import Any


class SharedEntries:
    """Explanation entries kept for reuse by one section, up to `room` of them in all.

    An entry depends only on the raw facts it shows, so decisions whose facts are equal (a reason,
    a market, a count: values that repeat from case to case) share one entry instead of building the
    same tuples again. Only entries of such facts are kept, so every kept entry holds only strings,
    numbers and None, and nobody can change it. `room` bounds the memory a policy can hold this way.
    """

    __slots__ = ("room",)

    def __init__(self, room: int) -> None:
        self.room = room

    def keep(self, kept: dict[Any, Any], key: Any, entry: tuple[Any, ...]) -> tuple[Any, ...]:
        """`entry`, from now on shared under `key` in `kept` while there is room."""
        if self.room <= 0:
            return entry
        # Two threads may both keep an entry under one key: they are equal, and the budget is only a bound.
        self.room -= 1
        shared: tuple[Any, ...] = kept.setdefault(key, entry)
        return shared
