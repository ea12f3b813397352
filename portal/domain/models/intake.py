"""What arrives besides the marketplace: carrier tracking updates and seller-center CSV imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Market
from portal.domain.models.orders import Shipment
from portal.domain.types import utcnow


class UnmatchedTrackingUpdate(Base):
    """A carrier update for a tracking number the portal does not know (yet), kept to apply later.

    When a shipment with that number appears (for instance from an order import) the update is
    applied to it and `applied_at` is set.
    """

    __tablename__ = "unmatched_tracking_updates"
    __table_args__ = (Index("ix_unmatched_tracking_updates_number", "tracking_number", "applied_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))  # aftership, 17track
    carrier: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))


class TrackingStaleMark(Base):
    """`tracking_stale` was raised for a shipment whose last sign of life was `since`.

    One row per staleness episode: a new checkpoint moves the shipment's last event on, and a later
    silence is a new episode.
    """

    __tablename__ = "tracking_stale_marks"
    __table_args__ = (
        UniqueConstraint("shipment_id", "since"),
        Index("ix_tracking_stale_marks_state_next", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"))
    since: Mapped[datetime]
    # pending (found silent, event not raised yet) → raised | failed
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="raised")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # When the mark was found; once raised, when the event was raised.
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)

    shipment: Mapped[Shipment] = relationship()


class ImportBatch(CreatedAt, Base):
    """One uploaded seller-center CSV: its bytes (by SHA-256 in the attachment store), the column
    mapping, and how validating and importing it went. A file is imported at most once per kind."""

    __tablename__ = "import_batches"
    __table_args__ = (
        UniqueConstraint("kind", "sha256"),
        Index("ix_import_batches_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # orders, returns
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    encoding: Mapped[str] = mapped_column(String(16))
    # The encoding was found by the portal ("auto"), not chosen by the uploader.
    encoding_detected: Mapped[bool] = mapped_column(default=False)
    delimiter: Mapped[str] = mapped_column(String(1))
    # field name → column header in the file
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # uploaded → running → done | invalid | failed
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    total_rows: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    # returns the marketplace has already finished (cancelled, closed, refunded): not opened as cases
    skipped_count: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    # [{"line": 14, "field": "unit_price", "value": "abc", "message": "..."}], the first few thousand
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    finished_at: Mapped[datetime | None]

    market: Mapped[Market] = relationship()
