"""The dashboard's tables, charts and queue links, built from the figures in the viewer's language.

Each table is one list of rows of raw values; the page formats them for the viewer's locale, the CSV
download writes them as plain numbers. Every count of cases links to the queue filtered the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal, format_percent
from flask import g, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from portal.analytics import svg
from portal.domain import analytics as an
from portal.domain.analytics_build import UNASSIGNED
from portal.i18n import duration
from portal.labels import label

SKU_ROWS = 30


@dataclass(frozen=True)
class Column:
    key: str
    heading: str
    kind: str = "int"  # text, int, pct, pp, usd, money, minutes


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    chart: Markup = Markup("")
    note: str = ""
    links: list[dict[str, str]] = field(default_factory=list)


def _locale() -> Locale:
    """The viewer's locale, looked up once per request: a dashboard formats a thousand cells."""
    found: Locale | None = g.get("analytics_locale")
    if found is None:
        found = get_locale() or Locale.parse("en")
        g.analytics_locale = found
    return found


def fmt(kind: str, value: Any, row: dict[str, Any] | None = None) -> str:
    """A cell as the viewer reads it."""
    if value is None or value == "":
        return "—"
    locale = _locale()
    if kind == "int":
        return format_decimal(value, locale=locale)
    if kind == "pct":
        return format_percent(value, "#,##0.0%", locale=locale)
    if kind == "pp":
        points = format_decimal(Decimal(value) * 100, "+#,##0.0;-#,##0.0", locale=locale)
        return _("%(points)s pts", points=points)
    if kind == "usd":
        return format_currency(value, "USD", locale=locale)
    if kind == "money":
        return format_currency(value, (row or {}).get("currency") or "USD", locale=locale)
    if kind == "minutes":
        return duration(int(value) * 60)
    return str(value)


def csv_value(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "minutes":
        return str(int(value))
    return str(value)


class Links:
    """Queue addresses for the same period and market as the dashboard."""

    def __init__(self, period: an.Period, market_code: str) -> None:
        # With tz=market the queue reads its dates as each case's market's own days, as analytics does.
        self.base: dict[str, Any] = {
            "status": "all",
            "tz": "market",
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "sort": "newest",
        }
        if market_code:
            self.base["market"] = market_code

    def queue(self, **filters: str) -> str:
        return url_for("cases.queue", **{**self.base, **filters})


def _bars(
    table: Table, label_key: str, value_key: str, kind: str, empty: str, link_key: str | None = None
) -> Markup:
    items = []
    for i, row in enumerate(table.rows):
        value = row.get(value_key)
        if value is None:
            continue
        href = table.links[i].get(link_key) if link_key and i < len(table.links) else None
        items.append(svg.Bar(str(row[label_key]), float(value), fmt(kind, value, row), href))
    return svg.bars(f"chart-{table.name}", table.title, items, empty)


def _rate_table(
    name: str, title: str, heading: str, rows: list[tuple[str, str, an.Sums]], link: Callable[[str], str]
) -> Table:
    """Orders, cases and return rate per slice, highest return rate first."""
    data, links = [], []
    for key, shown, sums in sorted(
        rows, key=lambda r: (-(r[2].return_rate or Decimal(-1)), -r[2].n("cases"), r[1])
    ):
        data.append(
            {
                "key": key,
                "label": shown,
                "orders": sums.n("orders"),
                "cases": sums.n("cases"),
                "rate": sums.return_rate,
            }
        )
        links.append({"cases": link(key)})
    table = Table(
        name,
        title,
        [
            Column("label", heading, "text"),
            Column("orders", _("Orders")),
            Column("cases", _("Cases")),
            Column("rate", _("Return rate"), "pct"),
        ],
        data,
        links=links,
    )
    table.chart = _bars(table, "label", "rate", "pct", _("No orders in this period."), "cases")
    return table


def build(figs: an.Figures, market_code: str) -> dict[str, Table]:
    links = Links(figs.period, market_code)
    tables: dict[str, Table] = {}
    by = figs.by

    usd_by_market = {}
    for market_id, sums in figs.by_market.items():
        usd_by_market[market_id] = an.to_usd(sums, figs.rates, (*an.REFUND_KINDS, "revenue"))
    rows, mlinks = [], []
    for market_id, sums in sorted(
        figs.by_market.items(), key=lambda kv: figs.markets[kv[0]].code if kv[0] in figs.markets else ""
    ):
        market = figs.markets.get(market_id)
        code = market.code if market else str(market_id)
        usd = usd_by_market[market_id]
        rows.append(
            {
                "key": code,
                "label": f"{code} · {market.name}" if market else code,
                "orders": sums.n("orders"),
                "cases": sums.n("cases"),
                "rate": sums.return_rate,
                "refunds_usd": sum((usd.amounts[k] for k in an.REFUND_KINDS), Decimal(0)),
                "revenue_usd": usd.amounts["revenue"],
            }
        )
        mlinks.append({"cases": url_for("cases.queue", **{**links.base, "market": code})})
    markets = Table(
        "markets",
        _("Return rate by market"),
        [
            Column("label", _("Market"), "text"),
            Column("orders", _("Orders")),
            Column("cases", _("Cases")),
            Column("rate", _("Return rate"), "pct"),
            Column("refunds_usd", _("Refund cost (USD)"), "usd"),
            Column("revenue_usd", _("Revenue (USD)"), "usd"),
        ],
        rows,
        links=mlinks,
    )
    markets.chart = _bars(markets, "label", "rate", "pct", _("No orders in this period."), "cases")
    tables["markets"] = markets

    tables["channels"] = _rate_table(
        "channels",
        _("Return rate by sales channel"),
        _("Channel"),
        [(k, str(label(k)), s) for k, s in by.get("channel", {}).items()],
        lambda k: links.queue(channel=k),
    )
    tables["categories"] = _rate_table(
        "categories",
        _("Return rate by category"),
        _("Category"),
        [(k, k, s) for k, s in by.get("category", {}).items()],
        lambda k: links.queue(category=k),
    )
    sku_rows = sorted(by.get("sku", {}).items(), key=lambda kv: (-kv[1].n("cases"), kv[0]))[:SKU_ROWS]
    skus = _rate_table(
        "skus",
        _("Return rate by SKU"),
        _("SKU"),
        [(k, k, s) for k, s in sku_rows],
        lambda k: links.queue(sku=k),
    )
    skus.note = _("The %(count)s SKUs with the most cases.", count=SKU_ROWS)
    tables["skus"] = skus
    tables["campaigns"] = _rate_table(
        "campaigns",
        _("Return rate by ad campaign"),
        _("Campaign"),
        [
            (k, figs.campaigns[int(k)].name if k.isdigit() and int(k) in figs.campaigns else k, s)
            for k, s in by.get("campaign", {}).items()
        ],
        lambda k: links.queue(campaign=k),
    )

    total_cases = figs.total.n("cases")
    reason_rows = sorted(by.get("reason", {}).items(), key=lambda kv: (-kv[1].n("cases"), kv[0]))
    reasons = Table(
        "reasons",
        _("Reasons"),
        [
            Column("label", _("Reason"), "text"),
            Column("cases", _("Cases")),
            Column("share", _("Share of cases"), "pct"),
        ],
        [
            {
                "key": k,
                "label": str(label(k)),
                "cases": s.n("cases"),
                "share": an.ratio(s.n("cases"), total_cases),
            }
            for k, s in reason_rows
        ],
        links=[{"cases": links.queue(reason=k)} for k, _s in reason_rows],
    )
    reasons.chart = _bars(reasons, "label", "cases", "int", _("No cases in this period."), "cases")
    tables["reasons"] = reasons
    tables["reason_trend"] = _reason_trend(figs, [k for k, _s in reason_rows[:5]])

    tables["refunds"] = _refunds(figs)
    tables["automation"] = _automation(figs, links)
    tables["times"] = _times(figs, links)
    tables["deadlines"] = _deadlines(figs, links)

    carrier_rows = sorted(
        by.get("carrier", {}).items(),
        key=lambda kv: (-(an.ratio(kv[1].n("exceptions"), kv[1].n("shipments")) or 0), kv[0]),
    )
    carriers = Table(
        "carriers",
        _("Logistics exceptions by carrier"),
        [
            Column("label", _("Carrier"), "text"),
            Column("shipments", _("Parcels")),
            Column("exceptions", _("With an exception")),
            Column("rate", _("Exception rate"), "pct"),
        ],
        [
            {
                "key": k,
                "label": k,
                "shipments": s.n("shipments"),
                "exceptions": s.n("exceptions"),
                "rate": an.ratio(s.n("exceptions"), s.n("shipments")),
            }
            for k, s in carrier_rows
        ],
    )
    carriers.note = _(
        "Parcels of the orders placed in the period (deliveries, returns and replacements) "
        "that had a failed attempt, an exception or expired tracking."
    )
    carriers.chart = _bars(carriers, "label", "rate", "pct", _("No parcels in this period."))
    tables["carriers"] = carriers

    tables["agents"] = _agents(figs, links)
    tables.update(_top_problems(figs, links))
    return tables


def _agents(figs: an.Figures, links: Links) -> Table:
    """Per agent, the cases assigned to them: how many, how fast answered and resolved, targets met."""
    half = Decimal("0.5")
    rows: list[dict[str, Any]] = []
    for key, sums in figs.by.get("agent", {}).items():
        histograms = figs.agent_durations.get(key, {})
        if key.isdigit():
            name = figs.agents.get(int(key), "#" + key)
        else:
            name = _("Unassigned")
        met = sums.n("targets") - sums.n("targets_missed")
        rows.append(
            {
                "key": key,
                "label": name,
                "cases": sums.n("cases"),
                "first_response": an.percentile(histograms.get("person_response", {}), half),
                "resolution": an.percentile(histograms.get("resolution", {}), half),
                "targets": sums.n("targets"),
                "targets_met": an.ratio(met, sums.n("targets")),
            }
        )
    rows.sort(key=lambda r: (r["key"] == UNASSIGNED, -r["cases"], r["label"]))
    row_links = [{"cases": links.queue(assignee=r["key"])} for r in rows]
    table = Table(
        "agents",
        _("Per agent"),
        [
            Column("label", _("Agent"), "text"),
            Column("cases", _("Cases handled")),
            Column("first_response", _("First response (median)"), "minutes"),
            Column("resolution", _("Resolution (median)"), "minutes"),
            Column("targets", _("Targets decided")),
            Column("targets_met", _("Targets met"), "pct"),
        ],
        rows,
        links=row_links,
    )
    table.note = _(
        "The cases opened in the period and assigned to the agent now. First response counts only "
        "messages a person wrote; a target is met when the case moved on before it ran out."
    )
    table.chart = _bars(table, "label", "cases", "int", _("No cases in this period."), "cases")
    return table


def _buckets(period: an.Period) -> tuple[list[date], int]:
    """Days for up to two months, weeks beyond."""
    width = 1 if period.days <= 62 else 7
    starts = []
    day = period.start
    while day <= period.end:
        starts.append(day)
        day += timedelta(days=width)
    return starts, width


def _reason_trend(figs: an.Figures, reasons: list[str]) -> Table:
    starts, width = _buckets(figs.period)
    counts = {start: {r: 0 for r in reasons} for start in starts}
    for day, per in figs.reason_trend.items():
        start = starts[min(len(starts) - 1, (day - figs.period.start).days // width)]
        for reason in reasons:
            counts[start][reason] += per.get(reason, 0)
    locale = _locale()
    from babel.dates import format_date

    columns = [Column("label", _("Day") if width == 1 else _("Week from"), "text")]
    columns += [Column(r, str(label(r))) for r in reasons]
    rows = [{"key": s.isoformat(), "label": s.isoformat(), **counts[s]} for s in starts]
    table = Table("reason_trend", _("Reasons over time"), columns, rows)
    table.note = _("The five most common reasons; cases opened per day, or per week for longer periods.")
    top = max((max(c.values(), default=0) for c in counts.values()), default=0)
    table.chart = svg.lines(
        "chart-reason_trend",
        table.title,
        [format_date(s, "medium", locale=locale) for s in starts],
        [svg.Line(str(label(r)), [counts[s][r] for s in starts]) for r in reasons],
        format_decimal(top, locale=locale),
        _("No cases in this period."),
    )
    return table


def _refunds(figs: an.Figures) -> Table:
    kinds = [
        ("refund_full", _("Full refund after return")),
        ("refund_returnless", _("Refund without return")),
        ("refund_partial", _("Partial refund")),
        ("refund_coupon", _("Coupon")),
    ]
    columns = [Column("label", _("Currency"), "text"), Column("revenue", _("Revenue"), "money")]
    columns += [Column(k, name, "money") for k, name in kinds]
    columns += [Column("total", _("Refund cost"), "money"), Column("share", _("Share of revenue"), "pct")]
    rows = []
    for currency in sorted(c for c in figs.total.money if c):
        money = figs.total.money[currency]
        total = figs.total.refund_total(currency)
        rows.append(
            {
                "key": currency,
                "label": currency,
                "currency": currency,
                "revenue": money.get("revenue", Decimal(0)),
                **{k: money.get(k, Decimal(0)) for k, _n in kinds},
                "total": total,
                "share": an.ratio(total, money.get("revenue", Decimal(0))),
            }
        )
    usd = figs.refund_usd
    usd_total = sum((usd.amounts[k] for k, _n in kinds), Decimal(0))
    rows.append(
        {
            "key": "all-usd",
            "currency": "USD",
            "label": _("All, in USD"),
            "revenue": usd.amounts["revenue"],
            **{k: usd.amounts[k] for k, _n in kinds},
            "total": usd_total,
            "share": an.ratio(usd_total, usd.amounts["revenue"]),
        }
    )
    table = Table("refunds", _("Refund cost against revenue"), columns, rows)
    note = _(
        "Each currency on its own row; the last row converts them to US dollars at the exchange-rate "
        "table's rates."
    )
    if usd.missing:
        note += " " + _(
            "No exchange rate for %(currencies)s: left out of the US dollar row.",
            currencies=", ".join(usd.missing),
        )
    table.note = note
    locale = _locale()
    stacks = []
    for market_id, sums in sorted(
        figs.by_market.items(), key=lambda kv: figs.markets[kv[0]].code if kv[0] in figs.markets else ""
    ):
        converted = an.to_usd(sums, figs.rates, an.REFUND_KINDS)
        values = [float(converted.amounts[k]) for k, _n in kinds]
        code = figs.markets[market_id].code if market_id in figs.markets else str(market_id)
        stacks.append(
            svg.Stack(
                code,
                values,
                format_currency(sum(converted.amounts.values(), Decimal(0)), "USD", locale=locale),
            )
        )
    table.chart = svg.stacked(
        "chart-refunds",
        _("Refund cost by market (USD)"),
        [n for _k, n in kinds],
        stacks,
        _("No refunds in this period."),
    )
    return table


def _automation(figs: an.Figures, links: Links) -> Table:
    total = figs.total.n("cases")
    rules = sorted(figs.by.get("rule", {}).items(), key=lambda kv: (-kv[1].n("cases"), kv[0]))
    rows = [
        {
            "key": k,
            "label": k or _("(unnamed rule)"),
            "cases": s.n("cases"),
            "share": an.ratio(s.n("cases"), total),
        }
        for k, s in rules
    ]
    table = Table(
        "automation",
        _("Decided automatically, by rule"),
        [
            Column("label", _("Rule"), "text"),
            Column("cases", _("Cases")),
            Column("share", _("Share of all cases"), "pct"),
        ],
        rows,
    )
    table.note = _(
        "A case counts once, under the first policy rule that decided it (approve, refund, "
        "reject, ask for evidence...); manual review and assignment do not count."
    )
    table.chart = _bars(table, "label", "cases", "int", _("The policy decided no case in this period."))
    return table


def _times(figs: an.Figures, links: Links) -> Table:
    window = int(figs.response_window_hours * 60)
    rows, row_links = [], []
    for metric, name, has in (
        ("person_response", _("First response by a person"), "person_reply"),
        ("first_response", _("First message, automated ones included"), "reply"),
        ("refund", _("First refund"), "money_refund"),
        ("resolution", _("Resolution"), "resolved"),
    ):
        histogram = figs.durations.get(metric, {})
        count = sum(histogram.values())
        row = {
            "key": metric,
            "label": name,
            "cases": count,
            "median": an.percentile(histogram, Decimal("0.5")),
            "p90": an.percentile(histogram, Decimal("0.9")),
            "window": None,
            "within": None,
        }
        if metric in ("person_response", "first_response"):
            row["window"] = window
            row["within"] = an.ratio(an.within(histogram, window), count)
        rows.append(row)
        row_links.append({"cases": links.queue(has=has)})
    table = Table(
        "times",
        _("Time to first response and to refund"),
        [
            Column("label", _("From opening to"), "text"),
            Column("cases", _("Cases")),
            Column("median", _("Median"), "minutes"),
            Column("p90", _("90th percentile"), "minutes"),
            Column("window", _("Platform deadline"), "minutes"),
            Column("within", _("Within the deadline"), "pct"),
        ],
        rows,
        links=row_links,
    )
    table.note = _(
        "Percentiles are exact to the minute up to an hour, then to 5 minutes, 15 minutes and an "
        "hour; the platform deadline is the seller-response window of the market. Messages the policy "
        "or the scheduler sent count only in the second row."
    )
    locale = _locale()
    groups = [
        (60, _("≤ 1 h")),
        (240, _("1–4 h")),
        (720, _("4–12 h")),
        (1440, _("12–24 h")),
        (2880, _("24–48 h")),
        (4320, _("48–72 h")),
    ]
    histogram = figs.durations.get("person_response", {})
    items, lower = [], -1
    for upper, name in groups:
        n = sum(c for b, c in histogram.items() if lower < b <= upper)
        items.append(svg.Bar(name, n, format_decimal(n, locale=locale)))
        lower = upper
    rest = sum(c for b, c in histogram.items() if b > lower)
    items.append(svg.Bar(_("> 72 h"), rest, format_decimal(rest, locale=locale)))
    table.chart = (
        svg.bars(
            "chart-times", _("Time to a person's first response"), items, _("No responses in this period.")
        )
        if histogram
        else Markup(f'<p class="empty">{Markup.escape(_("No responses in this period."))}</p>')
    )
    return table


def _deadlines(figs: an.Figures, links: Links) -> Table:
    t = figs.total
    decided = t.n("disputes_won") + t.n("disputes_lost")
    rows = [
        {"key": "deadlines", "label": _("Platform deadlines set"), "value": t.n("deadlines")},
        {
            "key": "deadlines_missed",
            "label": _("Platform deadlines missed"),
            "value": t.n("deadlines_missed"),
        },
        {"key": "disputes_opened", "label": _("Disputes opened"), "value": t.n("disputes_opened")},
        {"key": "disputes_won", "label": _("Disputes won"), "value": t.n("disputes_won")},
        {"key": "disputes_lost", "label": _("Disputes lost"), "value": t.n("disputes_lost")},
        {
            "key": "dispute_win_rate",
            "label": _("Win rate of decided disputes"),
            "value": None,
            "rate": an.ratio(t.n("disputes_won"), decided),
        },
    ]
    table = Table(
        "deadlines",
        _("Deadlines and disputes"),
        [Column("label", _("Figure"), "text"), Column("value", _("Count")), Column("rate", _("Rate"), "pct")],
        rows,
        # No queue link here: the queue has no filter for "has a dispute" or "missed a deadline".
    )
    table.note = _("A missed deadline is a platform deadline that ran out before the seller acted.")
    return table


def _top_problems(figs: an.Figures, links: Links) -> dict[str, Table]:
    rising = an.rising_skus(figs)
    t1 = Table(
        "rising_skus",
        _("SKUs whose return rate rose most"),
        [
            Column("label", _("SKU"), "text"),
            Column("orders", _("Orders")),
            Column("cases", _("Cases")),
            Column("rate", _("Return rate"), "pct"),
            Column("previous_rate", _("Period before"), "pct"),
            Column("change", _("Change"), "pp"),
        ],
        [
            {
                "key": r.sku,
                "label": r.sku,
                "orders": r.orders,
                "cases": r.cases,
                "rate": r.rate,
                "previous_rate": r.previous_rate,
                "change": r.change,
            }
            for r in rising
        ],
        links=[{"cases": links.queue(sku=r.sku)} for r in rising],
    )
    t1.note = _(
        "Against the %(days)s days before; SKUs with at least %(orders)s orders in both periods.",
        days=figs.period.days,
        orders=an.MIN_ORDERS,
    )
    campaigns = an.returning_campaigns(figs)
    t2 = Table(
        "returning_campaigns",
        _("Campaigns whose buyers return most"),
        [
            Column("label", _("Campaign"), "text"),
            Column("orders", _("Orders")),
            Column("cases", _("Cases")),
            Column("rate", _("Return rate"), "pct"),
        ],
        [
            {"key": str(c.campaign_id), "label": c.name, "orders": c.orders, "cases": c.cases, "rate": c.rate}
            for c in campaigns
        ],
        links=[{"cases": links.queue(campaign=str(c.campaign_id))} for c in campaigns],
    )
    t2.note = _("Campaigns with at least %(orders)s orders in the period.", orders=an.MIN_ORDERS)
    per_category = an.top_reason_per_category(figs)
    t3 = Table(
        "category_reasons",
        _("Most common reason per category"),
        [
            Column("label", _("Category"), "text"),
            Column("reason", _("Reason"), "text"),
            Column("cases", _("Cases")),
            Column("share", _("Share of the category's cases"), "pct"),
        ],
        [
            {
                "key": c.category,
                "label": c.category,
                "reason": str(label(c.reason)),
                "cases": c.cases,
                "share": c.share,
            }
            for c in per_category
        ],
        links=[{"cases": links.queue(category=c.category, reason=c.reason)} for c in per_category],
    )
    return {"rising_skus": t1, "returning_campaigns": t2, "category_reasons": t3}
