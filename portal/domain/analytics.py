"""The after-sales figures of a period and market, read from the daily rollups.

Definitions (the dashboard states them too):
- Days are UTC calendar days. Orders count on the day they were placed (cancelled orders excluded),
  cases and everything that happens on them (refunds, decisions, deadlines, disputes) on the day the
  case was opened. Return rate = cases opened / orders placed in the same period.
- Refund cost splits into full refunds after the item came back, full refunds without a return,
  partial refunds and coupons; failed refunds are left out. Amounts are summed per currency and
  converted to US dollars with the exchange-rate table; a currency without a rate is left out of the
  dollar totals and named.
- Times to first response and to the first refund are nearest-rank percentiles of a histogram whose
  buckets are one minute wide up to an hour, then 5, 15, 60 minutes, 6 hours and a day wide.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import analytics_build as build
from portal.domain.enums import CaseType
from portal.domain.models import AnalyticsDaily, AnalyticsDuration, Campaign, ExchangeRate, Market

DIMS = ("channel", "campaign", "sku", "category", "reason", "type", "rule", "catreason", "carrier")
REFUND_KINDS = ("refund_full", "refund_returnless", "refund_partial", "refund_coupon")
# A SKU or campaign needs this many orders in a period before its return rate is ranked.
MIN_ORDERS = 10
TOP = 10


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


@dataclass
class Sums:
    """Additive figures of one slice: counts, and money per currency."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    money: dict[str, dict[str, Decimal]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(Decimal))
    )

    def add(self, currency: str, values: Mapping[Any, Any]) -> None:
        for name in build.COUNT_COLUMNS:
            self.counts[name] += int(values.get(name) or 0)
        for name in build.MONEY_COLUMNS:
            amount = Decimal(values.get(name) or 0)
            if amount:
                self.money[currency][name] += amount

    def n(self, name: str) -> int:
        return self.counts.get(name, 0)

    @property
    def return_rate(self) -> Decimal | None:
        return ratio(self.n("cases"), self.n("orders"))

    def refund_total(self, currency: str) -> Decimal:
        row = self.money.get(currency, {})
        return sum((row.get(k, Decimal(0)) for k in REFUND_KINDS), Decimal(0))


def ratio(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """part / whole to four decimal places (a share, not yet a percentage); None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


@dataclass
class Usd:
    """Amounts converted to US dollars, and the currencies that could not be converted."""

    amounts: dict[str, Decimal]
    missing: list[str]


def to_usd(sums: Sums, rates: dict[str, Decimal], columns: tuple[str, ...]) -> Usd:
    amounts = {c: Decimal(0) for c in columns}
    missing = set()
    for currency, row in sums.money.items():
        rate = rates.get(currency)
        for column in columns:
            amount = row.get(column, Decimal(0))
            if not amount:
                continue
            if rate is None:
                missing.add(currency)
            else:
                amounts[column] += amount * rate
    return Usd({c: v.quantize(Decimal("0.01")) for c, v in amounts.items()}, sorted(missing))


def percentile(histogram: dict[int, int], share: Decimal) -> int | None:
    """Nearest-rank percentile, in minutes (the upper bound of its bucket); None without cases."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(share * total))
    seen = 0
    for upper in sorted(histogram):
        seen += histogram[upper]
        if seen >= rank:
            return upper
    return max(histogram)


def within(histogram: dict[int, int], minutes: int) -> int:
    """Cases whose duration was at most `minutes` (exact when `minutes` is a bucket bound)."""
    return sum(n for upper, n in histogram.items() if upper <= minutes)


@dataclass
class Figures:
    period: Period
    market: Market | None
    total: Sums
    by_market: dict[int, Sums]
    by: dict[str, dict[str, Sums]]
    previous_sku: dict[str, Sums]
    reason_trend: dict[date, dict[str, int]]
    durations: dict[str, dict[int, int]]
    rates: dict[str, Decimal]
    markets: dict[int, Market]
    campaigns: dict[int, Campaign]
    response_window_hours: Decimal

    @property
    def refund_usd(self) -> Usd:
        return to_usd(self.total, self.rates, (*REFUND_KINDS, "revenue"))


def _where(period: Period, market_id: int | None) -> list[Any]:
    where = [AnalyticsDaily.day >= period.start, AnalyticsDaily.day <= period.end]
    if market_id is not None:
        where.append(AnalyticsDaily.market_id == market_id)
    return where


_SUMS = [func.sum(getattr(AnalyticsDaily, c)).label(c) for c in (*build.COUNT_COLUMNS, *build.MONEY_COLUMNS)]


def _by_dims(
    session: Session, period: Period, market_id: int | None, dims: tuple[str, ...]
) -> dict[str, dict[str, Sums]]:
    out: dict[str, dict[str, Sums]] = {dim: defaultdict(Sums) for dim in dims}
    query = (
        select(AnalyticsDaily.dim, AnalyticsDaily.key, AnalyticsDaily.currency, *_SUMS)
        .where(*_where(period, market_id), AnalyticsDaily.dim.in_(dims))
        .group_by(AnalyticsDaily.dim, AnalyticsDaily.key, AnalyticsDaily.currency)
    )
    for row in session.execute(query).mappings():
        out[row["dim"]][row["key"]].add(row["currency"], row)
    return out


def response_window_hours(session: Session, market_id: int | None) -> Decimal:
    """The platform's window for the seller's first answer in this market (the default for all markets)."""
    from portal.domain.deadline_rules import effective_rules

    return effective_rules(session, market_id, CaseType.RETURN_AND_REFUND)["seller_response"].hours


def refresh(session: Session, period: Period, market_id: int | None) -> int:
    """Bring the rollups of the period up to date before they are read."""
    return build.refresh_dirty(session, period.start, period.end, market_id)


def figures(session: Session, period: Period, market_id: int | None = None) -> Figures:
    """Every figure of the dashboard for a period, in one market or all."""
    markets = {m.id: m for m in session.scalars(select(Market).order_by(Market.code))}
    by_market: dict[int, Sums] = defaultdict(Sums)
    for row in session.execute(
        select(AnalyticsDaily.market_id, AnalyticsDaily.currency, *_SUMS)
        .where(*_where(period, market_id), AnalyticsDaily.dim == "all")
        .group_by(AnalyticsDaily.market_id, AnalyticsDaily.currency)
    ).mappings():
        by_market[row["market_id"]].add(row["currency"], row)
    total = Sums()
    for sums in by_market.values():
        for currency, amounts in sums.money.items():
            total.add(currency, amounts)
        total.add("", {k: v for k, v in sums.counts.items()})
    # Shipments are not split by currency, so they are not in the "all" rows' money; carrier rows hold them.
    by = _by_dims(session, period, market_id, DIMS)
    carriers = by["carrier"]
    total.counts["shipments"] = sum(s.n("shipments") for s in carriers.values())
    total.counts["exceptions"] = sum(s.n("exceptions") for s in carriers.values())
    previous = _by_dims(session, period.previous, market_id, ("sku",))["sku"]

    trend: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, key, cases in session.execute(
        select(AnalyticsDaily.day, AnalyticsDaily.key, func.sum(AnalyticsDaily.cases))
        .where(*_where(period, market_id), AnalyticsDaily.dim == "reason")
        .group_by(AnalyticsDaily.day, AnalyticsDaily.key)
    ):
        trend[day][key] += int(cases or 0)

    durations: dict[str, dict[int, int]] = {m: defaultdict(int) for m in build.METRICS}
    where = [AnalyticsDuration.day >= period.start, AnalyticsDuration.day <= period.end]
    if market_id is not None:
        where.append(AnalyticsDuration.market_id == market_id)
    for metric, upper, cases in session.execute(
        select(AnalyticsDuration.metric, AnalyticsDuration.bucket, func.sum(AnalyticsDuration.cases))
        .where(*where)
        .group_by(AnalyticsDuration.metric, AnalyticsDuration.bucket)
    ):
        durations.setdefault(metric, defaultdict(int))[int(upper)] += int(cases or 0)

    campaign_ids = [int(k) for k in by["campaign"] if k.isdigit()]
    campaigns = (
        {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
        if campaign_ids
        else {}
    )
    rates = {r.currency: r.usd_per_unit for r in session.scalars(select(ExchangeRate))}
    return Figures(
        period,
        markets.get(market_id) if market_id else None,
        total,
        dict(by_market),
        {d: dict(v) for d, v in by.items()},
        dict(previous),
        {d: dict(v) for d, v in trend.items()},
        {m: dict(v) for m, v in durations.items()},
        rates,
        markets,
        campaigns,
        response_window_hours(session, market_id),
    )


# --- top problems -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rise:
    sku: str
    orders: int
    cases: int
    rate: Decimal
    previous_rate: Decimal

    @property
    def change(self) -> Decimal:
        return self.rate - self.previous_rate


def rising_skus(figs: Figures, min_orders: int = MIN_ORDERS, top: int = TOP) -> list[Rise]:
    """SKUs whose return rate rose most against the period before (both periods with enough orders)."""
    found = []
    for sku, now in figs.by.get("sku", {}).items():
        before = figs.previous_sku.get(sku)
        if before is None or now.n("orders") < min_orders or before.n("orders") < min_orders:
            continue
        rate, previous_rate = now.return_rate, before.return_rate
        if rate is None or previous_rate is None or rate <= previous_rate:
            continue
        found.append(Rise(sku, now.n("orders"), now.n("cases"), rate, previous_rate))
    found.sort(key=lambda r: (-r.change, -r.cases, r.sku))
    return found[:top]


@dataclass(frozen=True)
class CampaignRate:
    campaign_id: int
    name: str
    orders: int
    cases: int
    rate: Decimal


def returning_campaigns(figs: Figures, min_orders: int = MIN_ORDERS, top: int = TOP) -> list[CampaignRate]:
    """Campaigns whose buyers return most (by return rate, among campaigns with enough orders)."""
    found = []
    for key, sums in figs.by.get("campaign", {}).items():
        rate = sums.return_rate
        if not key.isdigit() or sums.n("orders") < min_orders or rate is None or sums.n("cases") == 0:
            continue
        campaign = figs.campaigns.get(int(key))
        found.append(
            CampaignRate(
                int(key), campaign.name if campaign else key, sums.n("orders"), sums.n("cases"), rate
            )
        )
    found.sort(key=lambda c: (-c.rate, -c.cases, c.name))
    return found[:top]


@dataclass(frozen=True)
class CategoryReason:
    category: str
    reason: str
    cases: int
    category_cases: int

    @property
    def share(self) -> Decimal | None:
        return ratio(self.cases, self.category_cases)


def top_reason_per_category(figs: Figures) -> list[CategoryReason]:
    """The most common reason in each category (ties go to the reason first in alphabetical order)."""
    per: dict[str, dict[str, int]] = defaultdict(dict)
    for key, sums in figs.by.get("catreason", {}).items():
        category, _, reason = key.partition("\t")
        per[category][reason] = sums.n("cases")
    out = []
    for category, reasons in per.items():
        reason, cases = min(reasons.items(), key=lambda item: (-item[1], item[0]))
        if cases:
            out.append(
                CategoryReason(
                    category,
                    reason,
                    cases,
                    figs.by["category"][category].n("cases")
                    if category in figs.by.get("category", {})
                    else sum(reasons.values()),
                )
            )
    out.sort(key=lambda c: (-c.cases, c.category))
    return out
