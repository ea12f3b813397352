"""What a supervised process learns from the launcher that started it: its name and its restarts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

NAME = "PORTAL_PROCESS_NAME"
RESTARTS = "PORTAL_RESTARTS"
LAST_EXIT_CODE = "PORTAL_LAST_EXIT_CODE"
LAST_EXIT_AT = "PORTAL_LAST_EXIT_AT"


@dataclass(frozen=True)
class Supervision:
    """A stable name across restarts, how many restarts so far, and how the previous run ended."""

    name: str
    restarts: int = 0
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None

    def environ(self) -> dict[str, str]:
        values = {NAME: self.name, RESTARTS: str(self.restarts)}
        if self.last_exit_code is not None:
            values[LAST_EXIT_CODE] = str(self.last_exit_code)
        if self.last_exit_at is not None:
            values[LAST_EXIT_AT] = self.last_exit_at.isoformat()
        return values

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Supervision | None:
        """The launcher's word, or None for a process started by hand (or by a service manager)."""
        env = os.environ if environ is None else environ
        name = env.get(NAME)
        if not name:
            return None
        try:
            restarts = max(0, int(env.get(RESTARTS, "0")))
        except ValueError:
            restarts = 0
        code = env.get(LAST_EXIT_CODE)
        at = env.get(LAST_EXIT_AT)
        try:
            exit_code = int(code) if code else None
            exit_at = datetime.fromisoformat(at).astimezone(UTC) if at else None
        except ValueError:
            exit_code, exit_at = None, None
        return cls(name[:64], restarts, exit_code, exit_at)
