"""Long-running work (exports, simulations, imports) whose progress any web worker can report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base, CreatedAt
from portal.domain.types import utcnow


class Job(CreatedAt, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_kind_created", "kind", "created_at"),
        Index("ix_jobs_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # queued → running (a worker holds it under a lease) → done | failed (dead letter)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # When a worker may next take the job; while running, when its worker's lease runs out.
    due_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int | None]
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A file the job produced, relative to the instance folder (for example an export).
    result_path: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 0 if self.status != "done" else 100
        return min(100, int(100 * self.progress_done / self.progress_total))
