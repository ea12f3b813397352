"""Pre-aggregated after-sales figures: daily rollups per market, response-time histograms, dirty days.

Everything here is derived from the case and order tables and can be rebuilt from them at any time
(portal.domain.analytics_build); nothing else writes these tables.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.models.base import Base
from portal.domain.types import utcnow

# Sums of many days of money: wider than a single amount.
TOTAL = Numeric(18, 2, asdecimal=True)


class AnalyticsDaily(Base):
    """Additive figures of one UTC day and market, split by one dimension (sku, channel, reason, ...).

    `dim` "all" has the single key "" and holds the market's totals for the day. Money columns are in
    `currency`, which is part of the key so that amounts are never added across currencies here.
    Orders count by the day they were placed, case figures by the day the case was opened.
    """

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_dim_day", "dim", "day", "market_id"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    market_id: Mapped[int] = mapped_column(primary_key=True)
    dim: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal(0))
    cases: Mapped[int] = mapped_column(default=0)
    auto_cases: Mapped[int] = mapped_column(default=0)
    refund_full: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal(0))
    refund_returnless: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal(0))
    refund_partial: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal(0))
    refund_coupon: Mapped[Decimal] = mapped_column(TOTAL, default=Decimal(0))
    deadlines: Mapped[int] = mapped_column(default=0)
    deadlines_missed: Mapped[int] = mapped_column(default=0)
    disputes_opened: Mapped[int] = mapped_column(default=0)
    disputes_won: Mapped[int] = mapped_column(default=0)
    disputes_lost: Mapped[int] = mapped_column(default=0)
    shipments: Mapped[int] = mapped_column(default=0)
    exceptions: Mapped[int] = mapped_column(default=0)


class AnalyticsDuration(Base):
    """How many cases of a day and market took up to `bucket` minutes to a first response or a refund.

    Medians and percentiles cannot be added up; histograms can. Buckets are one minute wide up to an
    hour, then widen (see analytics_build.bucket), so a percentile is exact to its bucket.
    """

    __tablename__ = "analytics_durations"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    market_id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


class AnalyticsDirty(Base):
    """A (day, market) whose rollups are out of date because a case or order of that day changed."""

    __tablename__ = "analytics_dirty"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    market_id: Mapped[int] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
