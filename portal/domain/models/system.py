"""Operational state the portal shows about itself, such as the scheduler's heartbeat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base


class SchedulerHeartbeat(Base):
    __tablename__ = "scheduler_heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    pid: Mapped[int]
    started_at: Mapped[datetime]
    last_sweep_at: Mapped[datetime | None]
    last_lag_seconds: Mapped[float | None]
    processed_total: Mapped[int] = mapped_column(default=0)
    failures_total: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set by the launcher that supervises the process (`flask serve`): how often it restarted this
    # scheduler, and how the previous run ended (exit code, negative for a signal).
    restarts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_exit_code: Mapped[int | None]
    last_exit_at: Mapped[datetime | None]
