"""The after-sales figures of a period and market, read from the daily, dekad and monthly rollups.

Definitions (the dashboard states them too):
- Days are each market's own calendar days (in its time zone). Orders count on the day they were
  placed (cancelled orders excluded), cases and everything that happens on them (refunds, decisions,
  deadlines, disputes) on the day the case was opened. Return rate = cases opened / orders placed in
  the same period.
- Refund cost splits into full refunds after the item came back, full refunds without a return,
  partial refunds and coupons; failed refunds are left out. Amounts are summed per currency and
  converted to US dollars with the exchange-rate table; a currency without a rate is left out of the
  dollar totals and named.
- First response is the first message to the buyer a person wrote; automated messages are counted
  apart. Per agent, the cases counted are those assigned to the agent.
- Times to first response, to the first refund and to resolution are nearest-rank percentiles of a
  histogram whose buckets are one minute wide up to an hour, then 5, 15, 60 minutes, 6 hours and a day wide.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from portal.domain import analytics_build as build
from portal.domain.enums import CaseType
from portal.domain.models import (
    AnalyticsDaily,
    AnalyticsDekad,
    AnalyticsDuration,
    AnalyticsDurationDekad,
    AnalyticsDurationMonthly,
    AnalyticsMonthly,
    Campaign,
    ExchangeRate,
    Market,
    User,
)

DIMS = ("channel", "campaign", "sku", "category", "reason", "type", "rule", "catreason", "carrier", "agent")
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

    def parts(self, months: bool = True) -> list[tuple[str, date, date]]:
        """The period as (level, first, last): the whole calendar months in it ("month"), the whole
        dekads around them ("dekad") and the days left at either end ("day"), in order."""
        if not months:
            return [("day", self.start, self.end)]
        return _cover(self.start, self.end, 0)


# Each level's units: where the unit holding a day starts, and where the next one starts.
_LEVELS: tuple[tuple[str, Callable[[date], date], Callable[[date], date]], ...] = (
    ("month", build.month_of, build.next_month),
    ("dekad", build.dekad_of, build.next_dekad),
)


def _cover(start: date, end: date, level: int) -> list[tuple[str, date, date]]:
    """[start, end] as the fewest rollup ranges: the whole units of this level inside it, and the rest
    of either end covered by the finer levels."""
    if start > end:
        return []
    if level == len(_LEVELS):
        return [("day", start, end)]
    name, unit_of, next_unit = _LEVELS[level]
    first = start if unit_of(start) == start else next_unit(unit_of(start))
    after = unit_of(end + timedelta(days=1))  # the first unit not wholly inside
    if first >= after:
        return _cover(start, end, level + 1)
    return [
        *_cover(start, first - timedelta(days=1), level + 1),
        (name, first, after - timedelta(days=1)),
        *_cover(after, end, level + 1),
    ]


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

    def add_row(self, currency: str, measures: Sequence[Any]) -> None:
        """Add a rollup row's measures, given in the order of `_MEASURES` (counts, then money)."""
        counts = self.counts
        for name, value in zip(build.COUNT_COLUMNS, measures, strict=False):
            counts[name] += int(value or 0)
        money = None
        for name, amount in zip(build.MONEY_COLUMNS, measures[len(build.COUNT_COLUMNS) :], strict=True):
            if amount:
                money = self.money[currency] if money is None else money
                money[name] += Decimal(amount)

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
    agent_durations: dict[str, dict[str, dict[int, int]]] = field(default_factory=dict)
    agents: dict[int, str] = field(default_factory=dict)

    @property
    def refund_usd(self) -> Usd:
        return to_usd(self.total, self.rates, (*REFUND_KINDS, "revenue"))


_MEASURES = (*build.COUNT_COLUMNS, *build.MONEY_COLUMNS)
_SUMS: dict[str, Any] = {"day": AnalyticsDaily, "dekad": AnalyticsDekad, "month": AnalyticsMonthly}
_HISTOGRAMS: dict[str, Any] = {
    "day": AnalyticsDuration,
    "dekad": AnalyticsDurationDekad,
    "month": AnalyticsDurationMonthly,
}


def _summed(
    session: Session,
    tables: Mapping[str, Any],
    period: Period,
    months: bool,
    market_id: int | None,
    group: tuple[str, ...],
    measures: tuple[str, ...],
    dims: tuple[str, ...] | None = None,
) -> Sequence[Sequence[Any]]:
    """Rollup rows of the period summed per `group`: the rows of its whole months, dekads and the days
    around them, each read from its own table, added up in one statement."""
    parts = []
    for level, first, last in period.parts(months):
        table = tables[level]
        when = build.date_column(table)
        part = select(*[getattr(table, name).label(name) for name in (*group, *measures)]).where(
            when >= first, when <= last
        )
        if market_id is not None:
            part = part.where(table.market_id == market_id)
        if dims is not None:
            part = part.where(table.dim.in_(dims))
        parts.append(part)
    rows = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    columns = [rows.c[name] for name in group]
    return session.execute(
        select(*columns, *[func.sum(rows.c[name]).label(name) for name in measures]).group_by(*columns)
    ).all()


def _by_dims(
    session: Session, period: Period, market_id: int | None, dims: tuple[str, ...], months: bool = True
) -> dict[str, dict[str, Sums]]:
    out: dict[str, dict[str, Sums]] = {dim: defaultdict(Sums) for dim in dims}
    group = ("dim", "key", "currency")
    for row in _summed(session, _SUMS, period, months, market_id, group, _MEASURES, dims):
        out[row[0]][row[1]].add_row(row[2], row[3:])
    return out


def _durations(
    session: Session, period: Period, market_id: int | None, months: bool
) -> dict[tuple[str, str], dict[int, int]]:
    """Histograms per (metric, key): key "" for the whole selection, an agent's id for theirs."""
    out: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    rows = _summed(session, _HISTOGRAMS, period, months, market_id, ("metric", "key", "bucket"), ("cases",))
    for metric, key, upper, cases in rows:
        out[(metric, key)][int(upper)] = int(cases or 0)
    return out


def response_window_hours(session: Session, market_id: int | None) -> Decimal:
    """The platform's window for the seller's first answer in this market (the default for all markets)."""
    from portal.domain.deadline_rules import effective_rules

    return effective_rules(session, market_id, CaseType.RETURN_AND_REFUND)["seller_response"].hours


def refresh(session: Session, period: Period, market_id: int | None) -> int:
    """Bring the rollups of the period up to date before they are read."""
    return build.refresh_dirty(session, period.start, period.end, market_id)


def figures(session: Session, period: Period, market_id: int | None = None, months: bool = True) -> Figures:
    """Every figure of the dashboard for a period, in one market or all.

    `months=False` reads only daily rows (as before monthly rows existed); the figures are the same.
    """
    markets = {m.id: m for m in session.scalars(select(Market).order_by(Market.code))}
    by_market: dict[int, Sums] = defaultdict(Sums)
    group = ("market_id", "currency")
    for row in _summed(session, _SUMS, period, months, market_id, group, _MEASURES, ("all",)):
        by_market[row[0]].add_row(row[1], row[2:])
    total = Sums()
    for sums in by_market.values():
        for currency, amounts in sums.money.items():
            total.add(currency, amounts)
        total.add("", {k: v for k, v in sums.counts.items()})
    # Shipments are not split by currency, so they are not in the "all" rows' money; carrier rows hold them.
    by = _by_dims(session, period, market_id, DIMS, months)
    carriers = by["carrier"]
    total.counts["shipments"] = sum(s.n("shipments") for s in carriers.values())
    total.counts["exceptions"] = sum(s.n("exceptions") for s in carriers.values())
    previous = _by_dims(session, period.previous, market_id, ("sku",), months)["sku"]

    trend: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    daily = AnalyticsDaily
    where = [daily.day >= period.start, daily.day <= period.end, daily.dim == "reason"]
    if market_id is not None:
        where.append(AnalyticsDaily.market_id == market_id)
    for day, key, cases in session.execute(
        select(AnalyticsDaily.day, AnalyticsDaily.key, func.sum(AnalyticsDaily.cases))
        .where(*where)
        .group_by(AnalyticsDaily.day, AnalyticsDaily.key)
    ):
        trend[day][key] += int(cases or 0)

    histograms = _durations(session, period, market_id, months)
    durations = {m: dict(histograms.get((m, ""), {})) for m in build.METRICS}
    agent_durations = {
        key: {m: dict(histograms.get((m, key), {})) for m in build.AGENT_METRICS}
        for (metric, key) in histograms
        if key
    }

    campaign_ids = [int(k) for k in by["campaign"] if k.isdigit()]
    campaigns = (
        {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
        if campaign_ids
        else {}
    )
    agent_ids = [int(k) for k in by["agent"] if k.isdigit()]
    agents = {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(agent_ids or [0])))}
    rates = {r.currency: r.usd_per_unit for r in session.scalars(select(ExchangeRate))}
    return Figures(
        period,
        markets.get(market_id) if market_id else None,
        total,
        dict(by_market),
        {d: dict(v) for d, v in by.items()},
        dict(previous),
        {d: dict(v) for d, v in trend.items()},
        durations,
        rates,
        markets,
        campaigns,
        response_window_hours(session, market_id),
        agent_durations,
        agents,
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
