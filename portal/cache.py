"""A small per-app, per-process cache for figures that may be a few seconds old, such as queue counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import Flask

T = TypeVar("T")


class TimedCache:
    def __init__(self) -> None:
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, seconds: float, compute: Callable[[], T]) -> T:
        """The cached value of `key` if younger than `seconds`, otherwise a fresh one (0 disables caching)."""
        now = time.monotonic()
        if seconds > 0:
            with self._lock:
                found = self._values.get(key)
            if found is not None and now - found[0] < seconds:
                return found[1]
        value = compute()
        if seconds > 0:
            with self._lock:
                if len(self._values) > 10_000:
                    self._values.clear()
                self._values[key] = (now, value)
        return value


def app_cache(app: Flask) -> TimedCache:
    return app.extensions.setdefault("timed_cache", TimedCache())
