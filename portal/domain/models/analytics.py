"""Pre-aggregated after-sales figures: daily, dekad and monthly rollups per market, histograms, dirty days.

Everything here is derived from the case and order tables and can be rebuilt from them at any time
(portal.domain.analytics_build); nothing else writes these tables. A day is a calendar day in the
market's own time zone; a dekad is days 1-10, 11-20 or 21 to the end of a month, and a month is made
of its three dekads.
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


class _Sums:
    """The additive columns a daily and a monthly rollup row share."""

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
    # Cases with a refund or coupon (not failed), with a missed platform deadline, with a dispute;
    # agent targets met or missed, and missed.
    cases_refunded: Mapped[int] = mapped_column(default=0)
    cases_missed: Mapped[int] = mapped_column(default=0)
    cases_disputed: Mapped[int] = mapped_column(default=0)
    targets: Mapped[int] = mapped_column(default=0)
    targets_missed: Mapped[int] = mapped_column(default=0)


class AnalyticsDaily(_Sums, Base):
    """Additive figures of one market-local day and market, split by one dimension (sku, channel, ...).

    `dim` "all" has the single key "" and holds the market's totals for the day. Money columns are in
    `currency`, which is part of the key so that amounts are never added across currencies here.
    Orders count by the day they were placed, case figures by the day the case was opened.
    """

    __tablename__ = "analytics_daily"
    __table_args__ = (Index("ix_analytics_daily_dim_day", "dim", "day", "market_id"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class AnalyticsDekad(_Sums, Base):
    """The daily rows of one dekad (`dekad` is its first day: the 1st, 11th or 21st) added up, so the
    part of a period outside whole months reads at most ten days per end and a few dekads, not a
    month of days. Rebuilt with each of its days."""

    __tablename__ = "analytics_dekads"
    __table_args__ = (Index("ix_analytics_dekads_dim_dekad", "dim", "dekad", "market_id"),)

    dekad: Mapped[date] = mapped_column(Date, primary_key=True)


class AnalyticsMonthly(_Sums, Base):
    """The dekad rows of one calendar month (`month` is its first day) added up, so a long period
    reads a dozen rows per slice instead of hundreds. Rebuilt with each day of the month."""

    __tablename__ = "analytics_monthly"
    __table_args__ = (Index("ix_analytics_monthly_dim_month", "dim", "month", "market_id"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)


class _Histogram:
    """The columns a daily, dekad and monthly histogram row share."""

    market_id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(16), primary_key=True, default="", server_default="")
    bucket: Mapped[int] = mapped_column(primary_key=True)
    cases: Mapped[int] = mapped_column(default=0)


class AnalyticsDuration(_Histogram, Base):
    """How many cases of a day and market took up to `bucket` minutes to a first response or a refund.

    Medians and percentiles cannot be added up; histograms can. Buckets are one minute wide up to an
    hour, then widen (see analytics_build.bucket), so a percentile is exact to its bucket. `key` is ""
    for the whole market, or an agent's user id for the cases assigned to that agent.
    """

    __tablename__ = "analytics_durations"

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class AnalyticsDurationDekad(_Histogram, Base):
    """The daily histograms of one dekad added up (`dekad` is its first day)."""

    __tablename__ = "analytics_durations_dekads"

    dekad: Mapped[date] = mapped_column(Date, primary_key=True)


class AnalyticsDurationMonthly(_Histogram, Base):
    """The dekad histograms of one calendar month added up (`month` is its first day)."""

    __tablename__ = "analytics_durations_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)


class AnalyticsDirty(Base):
    """A mark that a (day, market)'s rollups are out of date because a case or order of that day changed.

    Marks are appended, never merged: a (day, market) may have several. With one row per pair, two
    transactions marking the same day (two schedulers firing deadlines of one market) waited for each
    other's commit on the unique key and deadlocked when they marked days in different orders.
    """

    __tablename__ = "analytics_dirty"
    __table_args__ = (Index("ix_analytics_dirty_day_market_id", "day", "market_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    market_id: Mapped[int] = mapped_column()
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
