"""A time budget for checking one policy, which the caller may also cancel (say, when the client left)."""

from __future__ import annotations

import time
from collections.abc import Callable


class OutOfTime(Exception):
    """The check ran past its budget or was cancelled; `cancelled` tells which."""

    def __init__(self, seconds: float | None, cancelled: bool) -> None:
        self.seconds = seconds
        self.cancelled = cancelled
        super().__init__("cancelled" if cancelled else f"over the {seconds} s budget")


class Budget:
    """`spend()` raises OutOfTime once the time is up or `cancelled()` says so; checked every few calls."""

    EVERY = 32

    def __init__(self, seconds: float | None = None, cancelled: Callable[[], bool] | None = None) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.cancelled = cancelled
        self._calls = 0

    def spend(self) -> None:
        self._calls += 1
        if self._calls % self.EVERY:
            return
        if self.cancelled is not None and self.cancelled():
            raise OutOfTime(self.seconds, True)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime(self.seconds, False)


UNBOUNDED = Budget()
