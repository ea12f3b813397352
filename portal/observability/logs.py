"""Structured logs: one JSON object per line, with the process kind and the request id when there is one."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

# The request being served by this thread (web) or the task being run (scheduler, workers).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)



@contextmanager
def correlated(rid: str | None = None) -> Iterator[str]:
    """Give every log line written inside the block the same id (a scheduler tick, a worker's job)."""
    token = request_id.set(rid or uuid.uuid4().hex)
    try:
        yield request_id.get() or ""
    finally:
        request_id.reset(token)


def stamp_records() -> None:
    """Stamp each new log record with the current request id, whenever and wherever it is formatted."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = request_id.get()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return record

    factory.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


# LogRecord attributes that every record has; anything else passed in `extra=` is written as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, process_kind: str) -> None:
        super().__init__()
        self.process_kind = process_kind

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process_kind,
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def formatter(process_kind: str) -> logging.Formatter:
    """JSON unless LOG_FORMAT=text (easier on the eyes in a terminal)."""
    if os.environ.get("LOG_FORMAT", "json").strip().lower() == "text":
        return logging.Formatter(f"%(asctime)s {process_kind} %(levelname)s %(name)s %(message)s")
    return JsonFormatter(process_kind)


def configure(process_kind: str, level: int = logging.INFO) -> None:
    """Send every log record of this process to stderr in the chosen format (called by each entry point)."""
    stamp_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(process_kind))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def gunicorn_logconfig(process_kind: str = "web") -> dict[str, Any]:
    """Gunicorn's `logconfig_dict`: its own loggers and the app's, all through the same formatter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"portal": {"()": formatter, "process_kind": process_kind}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "portal",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            # The app writes one line per request, with its request id; gunicorn's own would repeat it.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "alembic": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
