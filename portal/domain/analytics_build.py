"""Building the analytics rollups of one market-local day, and keeping them right as cases change.

A case's day is the calendar day on which it was opened in its market's time zone (an order's, the day
it was placed there). Each rebuilt day also rebuilds its dekad's rows (days 1-10, 11-20 or 21 to the
month's end) and its month's from the dekads in the same transaction, so a long period reads whole
months, whole dekads and at most ten days at either end.

Every write through the ORM that touches a case, an order or anything hanging off them marks the
(day, market) it counts in as dirty, in the same transaction (`install` below). Dirty days are rebuilt
from the source tables by the scheduler and, for the period being looked at, just before the dashboard
reads them; so a figure is never older than the last committed change. Bulk SQL that bypasses the ORM
calls `mark_cases` / `mark_orders` itself, or `mark_everything` followed by `refresh_dirty`.
"""

from __future__ import annotations

import math
import time as time_module
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, event, exists, func, insert, inspect, literal, select, text, union
from sqlalchemy.orm import Session, SessionTransaction

from portal.domain.enums import (
    DeadlineKind,
    DeadlineState,
    DisputeStatus,
    MessageDirection,
    OrderStatus,
    RefundKind,
    RefundStatus,
)
from portal.domain.enums import TrackingStatus as TS
from portal.domain.models import (
    AnalyticsDaily,
    AnalyticsDekad,
    AnalyticsDirty,
    AnalyticsDuration,
    AnalyticsDurationDekad,
    AnalyticsDurationMonthly,
    AnalyticsMonthly,
    Case,
    CaseEvent,
    CaseItem,
    Deadline,
    Decision,
    Dispute,
    Exchange,
    Inspection,
    Market,
    Message,
    Order,
    OrderItem,
    Refund,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from portal.domain.types import rowcount, utcnow

# A tracked parcel that ever reached one of these has had a logistics exception.
EXCEPTION_STATUSES = (TS.ATTEMPT_FAIL, TS.EXCEPTION, TS.EXPIRED)
# An agent target is met when the case moved on before it ran out (cancelled), missed when it fired.
TARGET_MISSED = (DeadlineState.FIRED, DeadlineState.FAILED)
TARGET_DECIDED = (DeadlineState.CANCELLED, *TARGET_MISSED)
# Policy actions that decide a case; a decision made only of manual_review, assign or notify decides nothing.
DECIDING_ACTIONS = frozenset(
    {
        "approve_return",
        "refund",
        "refund_without_return",
        "pre_refund",
        "partial_refund",
        "coupon",
        "exchange",
        "reject",
        "request_evidence",
        "request_redelivery",
        "resolve",
        "close",
    }
)
COUNT_COLUMNS = (
    "orders",
    "cases",
    "auto_cases",
    "deadlines",
    "deadlines_missed",
    "disputes_opened",
    "disputes_won",
    "disputes_lost",
    "shipments",
    "exceptions",
    "cases_refunded",
    "cases_missed",
    "cases_disputed",
    "targets",
    "targets_missed",
)
MONEY_COLUMNS = ("revenue", "refund_full", "refund_returnless", "refund_partial", "refund_coupon")
# first_response: the first message to the buyer, automated ones included; person_response: the
# first one a person wrote; refund: the first refund of money (not a coupon); resolution: to resolved.
METRICS = ("first_response", "person_response", "refund", "resolution")
# Histograms per agent (key: the assignee's id) for these; the market's own have key "".
AGENT_METRICS = ("person_response", "resolution")
NO_CAMPAIGN = ""
UNASSIGNED = "none"  # the agent key of cases nobody is assigned to (as the queue's filter spells it)
_ZONES = "analytics_zones"


def zones(session: Session) -> dict[int, ZoneInfo]:
    """Each market's time zone, read once per session (a market that changes zone needs a rebuild)."""
    found: dict[int, ZoneInfo] | None = session.info.get(_ZONES)
    if found is None:
        found = {m: ZoneInfo(tz) for m, tz in session.execute(select(Market.id, Market.timezone))}
        session.info[_ZONES] = found
    return found


def zone_of(session: Session, market_id: int) -> ZoneInfo:
    found = zones(session).get(market_id)
    if found is None:
        session.info.pop(_ZONES, None)  # a market created since
        found = zones(session).get(market_id, ZoneInfo("UTC"))
    return found


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants of a market-local day, as UTC [start, end)."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def day_of(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def local_windows(session: Session, first: date, last: date) -> tuple[tuple[int, datetime, datetime], ...]:
    """Per market, the instants from the start of `first` to the end of `last` in its own time zone."""
    session.info.pop(_ZONES, None)  # markets added or moved since the session began
    return tuple(
        (market_id, day_window(first, zone)[0], day_window(last, zone)[1])
        for market_id, zone in sorted(zones(session).items())
    )


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def dekad_of(day: date) -> date:
    """The first day of the dekad holding `day`: the 1st, 11th or 21st of its month."""
    return day.replace(day=min(day.day - (day.day - 1) % 10, 21))


def next_dekad(dekad: date) -> date:
    return next_month(dekad) if dekad.day == 21 else dekad + timedelta(days=10)


def bucket(minutes: int) -> int:
    """The upper bound, in minutes, of the histogram bucket holding a duration of `minutes`."""
    for limit, width in ((60, 1), (360, 5), (1440, 15), (7 * 1440, 60), (30 * 1440, 360)):
        if minutes <= limit:
            return max(0, math.ceil(minutes / width) * width)
    return math.ceil(minutes / 1440) * 1440


def minutes_between(start: datetime, end: datetime) -> int:
    """Whole minutes, rounded up: a reply after 61 seconds took two started minutes."""
    return max(0, math.ceil((end - start).total_seconds() / 60))


class _Rows:
    """Sums per (day, dim, key, currency) for some days of one market."""

    def __init__(self) -> None:
        self.sums: dict[tuple[date, str, str, str], dict[str, Any]] = defaultdict(lambda: defaultdict(int))

    def add(self, day: date, dim: str, key: str, currency: str, **measures: Any) -> None:
        row = self.sums[(day, dim, key[:120], currency)]
        for name, value in measures.items():
            row[name] += value

    def records(self, days: set[date], market_id: int) -> list[dict[str, Any]]:
        out = []
        for (day, dim, key, currency), row in self.sums.items():
            if day not in days:
                continue
            record: dict[str, Any] = {
                "day": day,
                "market_id": market_id,
                "dim": dim,
                "key": key,
                "currency": currency,
            }
            record.update({name: int(row.get(name, 0)) for name in COUNT_COLUMNS})
            record.update({name: Decimal(row.get(name, 0)) for name in MONEY_COLUMNS})
            out.append(record)
        return out


def _orders(
    session: Session, rows: _Rows, market_id: int, start: datetime, end: datetime, zone: ZoneInfo
) -> None:
    where = (
        Order.market_id == market_id,
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.status != OrderStatus.CANCELLED,
    )
    currency_of: dict[int, tuple[date, str]] = {}
    for order_id, currency, total, channel, campaign_id, placed_at in session.execute(
        select(
            Order.id, Order.currency, Order.total_amount, Order.channel, Order.campaign_id, Order.placed_at
        ).where(*where)
    ):
        day = day_of(placed_at, zone)
        currency_of[order_id] = (day, currency)
        for dim, key in (
            ("all", ""),
            ("channel", str(channel)),
            ("campaign", str(campaign_id) if campaign_id else NO_CAMPAIGN),
        ):
            if dim == "campaign" and not campaign_id:
                continue
            rows.add(day, dim, key, currency, orders=1, revenue=total)
    seen: set[tuple[int, str, str]] = set()
    for order_id, sku, category, price, quantity in session.execute(
        select(
            OrderItem.order_id, OrderItem.sku, OrderItem.category, OrderItem.unit_price, OrderItem.quantity
        )
        .join(Order, OrderItem.order_id == Order.id)
        .where(*where)
    ):
        found = currency_of.get(order_id)
        if found is None:
            continue
        day, currency = found
        for dim, key in (("sku", sku), ("category", category)):
            first = (order_id, dim, key) not in seen
            seen.add((order_id, dim, key))
            rows.add(day, dim, key, currency, orders=1 if first else 0, revenue=price * quantity)
    had_exception = exists().where(
        TrackingEvent.shipment_id == Shipment.id, TrackingEvent.status.in_(EXCEPTION_STATUSES)
    )
    for carrier, status, flagged, placed_at in session.execute(
        select(Shipment.carrier, Shipment.status, had_exception, Order.placed_at)
        .join(Order, Shipment.order_id == Order.id)
        .where(*where)
    ):
        exception = 1 if flagged or status in EXCEPTION_STATUSES else 0
        rows.add(day_of(placed_at, zone), "carrier", carrier or "?", "", shipments=1, exceptions=exception)


def _first_deciding(actions: Any) -> bool:
    names = {a.get("name") for a in actions or [] if isinstance(a, dict)}
    return bool(names & DECIDING_ACTIONS)


class _CaseFacts(NamedTuple):
    """What the rollups need to know about each case beyond its own row, by case id."""

    items: dict[int, list[tuple[str, str]]]
    received: set[int]
    refunds: dict[int, list[tuple[RefundKind, Decimal, str, datetime]]]
    rule_of: dict[int, str]
    deadlines: dict[int, list[int]]
    person_reply: dict[int, datetime]
    disputes: dict[int, list[int]]


def _case_facts(session: Session, ids: Any) -> _CaseFacts:
    items: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for case_id, sku, category in session.execute(
        select(CaseItem.case_id, OrderItem.sku, OrderItem.category)
        .join(OrderItem, CaseItem.order_item_id == OrderItem.id)
        .where(CaseItem.case_id.in_(ids))
    ):
        items[case_id].append((sku, category))
    received = set(
        session.scalars(
            select(ReturnShipment.case_id).where(
                ReturnShipment.case_id.in_(ids), ReturnShipment.received_at.is_not(None)
            )
        )
    )
    refunds: dict[int, list[tuple[RefundKind, Decimal, str, datetime]]] = defaultdict(list)
    for case_id, kind, amount, currency, created_at in session.execute(
        select(Refund.case_id, Refund.kind, Refund.amount, Refund.currency, Refund.created_at).where(
            Refund.case_id.in_(ids), Refund.status != RefundStatus.FAILED
        )
    ):
        refunds[case_id].append((kind, amount, currency, created_at))
    rule_of: dict[int, str] = {}
    for case_id, rule_name, rule_line, actions in session.execute(
        select(Decision.case_id, Decision.rule_name, Decision.rule_line, Decision.actions)
        .where(Decision.case_id.in_(ids), Decision.automated.is_(True))
        .order_by(Decision.decided_at, Decision.id)
    ):
        if case_id not in rule_of and _first_deciding(actions):
            rule_of[case_id] = rule_name or (f"#{rule_line}" if rule_line else "")
    # Platform deadlines set and missed; agent targets decided (met or not) and missed.
    deadlines: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for case_id, deadline_kind, state in session.execute(
        select(Deadline.case_id, Deadline.kind, Deadline.state).where(
            Deadline.case_id.in_(ids), Deadline.kind.in_((DeadlineKind.PLATFORM, DeadlineKind.AGENT_SLA))
        )
    ):
        if deadline_kind == DeadlineKind.PLATFORM:
            deadlines[case_id][0] += 1
            deadlines[case_id][1] += 1 if state == DeadlineState.FIRED else 0
        elif state in TARGET_DECIDED:
            deadlines[case_id][2] += 1
            deadlines[case_id][3] += 1 if state in TARGET_MISSED else 0
    # A message with an author was written by a person; the policy's and the scheduler's have none.
    person_reply: dict[int, datetime] = {
        case_id: written
        for case_id, written in session.execute(
            select(Message.case_id, func.min(Message.created_at))
            .where(
                Message.case_id.in_(ids),
                Message.direction == MessageDirection.OUTBOUND,
                Message.author_id.is_not(None),
            )
            .group_by(Message.case_id)
        )
    }
    disputes: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for case_id, status in session.execute(
        select(Dispute.case_id, Dispute.status).where(Dispute.case_id.in_(ids))
    ):
        disputes[case_id][0] += 1
        disputes[case_id][1] += 1 if status == DisputeStatus.WON else 0
        disputes[case_id][2] += 1 if status == DisputeStatus.LOST else 0
    return _CaseFacts(items, received, refunds, rule_of, deadlines, person_reply, disputes)


def _cases(
    session: Session, rows: _Rows, market_id: int, start: datetime, end: datetime, zone: ZoneInfo
) -> dict[tuple[date, str, str, int], int]:
    where = (Case.market_id == market_id, Case.opened_at >= start, Case.opened_at < end)
    ids = select(Case.id).where(*where).scalar_subquery()
    cases = session.execute(
        select(
            Case.id,
            Case.currency,
            Case.type,
            Case.reason,
            Case.opened_at,
            Case.first_response_at,
            Case.resolved_at,
            Case.assignee_id,
            Order.channel,
            Order.campaign_id,
        )
        .join(Order, Case.order_id == Order.id)
        .where(*where)
    ).all()
    if not cases:
        return {}
    facts = _case_facts(session, ids)
    items, received, refunds, rule_of = facts.items, facts.received, facts.refunds, facts.rule_of
    deadlines, person_reply, disputes = facts.deadlines, facts.person_reply, facts.disputes

    histogram: dict[tuple[date, str, str, int], int] = defaultdict(int)
    for (
        case_id, currency, type_, reason, opened_at, first_response_at, resolved_at, assignee_id, channel,
        campaign_id,
    ) in cases:
        day = day_of(opened_at, zone)
        agent = str(assignee_id) if assignee_id is not None else UNASSIGNED
        keys = [("all", ""), ("channel", str(channel)), ("reason", str(reason)), ("type", str(type_))]
        keys.append(("agent", agent))
        if campaign_id:
            keys.append(("campaign", str(campaign_id)))
        skus = sorted({sku for sku, _ in items[case_id]})
        categories = sorted({category for _, category in items[case_id]})
        keys += [("sku", sku) for sku in skus] + [("category", c) for c in categories]
        keys += [("catreason", f"{c}\t{reason}") for c in categories]
        automated = case_id in rule_of
        set_, missed, targets, targets_missed = deadlines[case_id] if case_id in deadlines else (0, 0, 0, 0)
        opened, won, lost = disputes[case_id] if case_id in disputes else (0, 0, 0)
        counts = {
            "cases": 1,
            "auto_cases": 1 if automated else 0,
            "deadlines": set_,
            "deadlines_missed": missed,
            "cases_missed": 1 if missed else 0,
            "disputes_opened": opened,
            "disputes_won": won,
            "disputes_lost": lost,
            "cases_disputed": 1 if opened else 0,
            "targets": targets,
            "targets_missed": targets_missed,
        }
        money: list[tuple[str, str, Decimal]] = []
        first_refund: datetime | None = None
        for kind, amount, refund_currency, created_at in refunds.get(case_id, []):
            if kind == RefundKind.COUPON:
                money.append((refund_currency, "refund_coupon", amount))
                continue
            if kind == RefundKind.PARTIAL:
                money.append((refund_currency, "refund_partial", amount))
            elif case_id in received:
                money.append((refund_currency, "refund_full", amount))
            else:
                money.append((refund_currency, "refund_returnless", amount))
            first_refund = created_at if first_refund is None else min(first_refund, created_at)
        counts["cases_refunded"] = 1 if money else 0
        for dim, key in keys:
            rows.add(day, dim, key, currency, **counts)
            for refund_currency, column, amount in money:
                rows.add(day, dim, key, refund_currency, **{column: amount})
        if automated:
            rows.add(day, "rule", rule_of[case_id], currency, cases=1)
        durations = {
            "first_response": first_response_at,
            "person_response": person_reply.get(case_id),
            "refund": first_refund,
            "resolution": resolved_at,
        }
        for metric, until in durations.items():
            if until is None:
                continue
            upper = bucket(minutes_between(opened_at, until))
            histogram[(day, metric, "", upper)] += 1
            if metric in AGENT_METRICS:
                histogram[(day, metric, agent, upper)] += 1
    return histogram


def _lock(session: Session, month: date, market_id: int) -> None:
    """On PostgreSQL, one rebuild of a market's month at a time; SQLite serialises writers anyway.

    A month's row is summed from its days: two days of one month rebuilt at once would each sum the
    other's old figures, so their transactions take turns.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"),
            {"key": 6_000_000_000 + month.toordinal() * 100_000 + market_id},
        )


def rebuild_days(session: Session, days: Iterable[date], market_id: int) -> None:
    """Replace the rollups of some days of one market with figures computed from the source tables.

    The source tables are read once for the span of the days (a month at most when called from
    `refresh_dirty`). The caller holds the month's lock and rebuilds the month afterwards.
    """
    wanted = set(days)
    if not wanted:
        return
    zone = zone_of(session, market_id)
    start, end = day_window(min(wanted), zone)[0], day_window(max(wanted), zone)[1]
    rows = _Rows()
    _orders(session, rows, market_id, start, end, zone)
    histogram = _cases(session, rows, market_id, start, end, zone)
    for table in (AnalyticsDaily, AnalyticsDuration):
        session.execute(delete(table).where(table.day.in_(sorted(wanted)), table.market_id == market_id))
    records = rows.records(wanted, market_id)
    for first in range(0, len(records), 5000):
        session.execute(insert(cast(Table, AnalyticsDaily.__table__)), records[first : first + 5000])
    buckets = [
        {"day": day, "market_id": market_id, "metric": metric, "key": key, "bucket": b, "cases": n}
        for (day, metric, key, b), n in histogram.items()
        if day in wanted
    ]
    for first in range(0, len(buckets), 5000):
        session.execute(insert(cast(Table, AnalyticsDuration.__table__)), buckets[first : first + 5000])


def date_column(table: Any) -> Any:
    """The date a rollup row is of: its day, the first day of its dekad, or of its month."""
    for name in ("day", "dekad", "month"):
        if hasattr(table, name):
            return getattr(table, name)
    raise TypeError(f"{table} is not a rollup")


def _roll_up(
    session: Session, target: Any, when: date, source: Any, first: date, after: date, market_id: int
) -> None:
    """Replace a market's rows of `target` at `when` with the sums of its `source` rows in [first, after)."""
    sums = hasattr(target, "dim")
    target_when, source_when = date_column(target), date_column(source)
    session.execute(delete(target).where(target_when == when, target.market_id == market_id))
    group = ("dim", "key", "currency") if sums else ("metric", "key", "bucket")
    measures = (*COUNT_COLUMNS, *MONEY_COLUMNS) if sums else ("cases",)
    session.execute(
        insert(target).from_select(
            [target_when.key, "market_id", *group, *measures],
            select(
                literal(when, target_when.type),
                source.market_id,
                *[getattr(source, name) for name in group],
                *[func.sum(getattr(source, name)) for name in measures],
            )
            .where(source.market_id == market_id, source_when >= first, source_when < after)
            .group_by(source.market_id, *[getattr(source, name) for name in group]),
        )
    )


def rebuild_month(session: Session, month: date, market_id: int, days: Iterable[date]) -> None:
    """Replace a market's rows of the dekads holding `days` (rebuilt days of `month`) with the sums of
    their daily rows, then its month rows with the sums of the month's dekads."""
    for dekad in sorted({dekad_of(day) for day in days}):
        after = next_dekad(dekad)
        _roll_up(session, AnalyticsDekad, dekad, AnalyticsDaily, dekad, after, market_id)
        _roll_up(session, AnalyticsDurationDekad, dekad, AnalyticsDuration, dekad, after, market_id)
    after = next_month(month)
    _roll_up(session, AnalyticsMonthly, month, AnalyticsDekad, month, after, market_id)
    _roll_up(session, AnalyticsDurationMonthly, month, AnalyticsDurationDekad, month, after, market_id)


def rebuild(session: Session, day: date, market_id: int) -> None:
    """Rebuild one day and market, its dekad and its month."""
    _lock(session, month_of(day), market_id)
    rebuild_days(session, [day], market_id)
    rebuild_month(session, month_of(day), market_id, [day])


def _insert_dirty(session: Session, pairs: Iterable[tuple[date, int]]) -> None:
    """Append a mark per distinct (day, market); marks never conflict, so writers never wait here."""
    now = utcnow()
    rows = [{"day": d, "market_id": m, "marked_at": now} for d, m in sorted(set(pairs))]
    for start in range(0, len(rows), 1000):
        session.execute(insert(AnalyticsDirty), rows[start : start + 1000])


def _days_of_rows(
    session: Session, when: Any, market: Any, key: Any, ids: Iterable[int]
) -> set[tuple[date, int]]:
    """The (day, market) each row whose `key` is in `ids` counts in."""
    ids = sorted(set(ids))
    pairs: set[tuple[date, int]] = set()
    for start in range(0, len(ids), 500):
        chunk = select(when, market).where(key.in_(ids[start : start + 500]))
        pairs.update(
            (day_of(moment, zone_of(session, market_id)), market_id)
            for moment, market_id in session.execute(chunk)
        )
    return pairs


def _days_of_cases(session: Session, case_ids: Iterable[int]) -> set[tuple[date, int]]:
    return _days_of_rows(session, Case.opened_at, Case.market_id, Case.id, case_ids)


def _days_of_orders(session: Session, order_ids: Iterable[int]) -> set[tuple[date, int]]:
    return _days_of_rows(session, Order.placed_at, Order.market_id, Order.id, order_ids)


def mark_cases(session: Session, case_ids: Iterable[int]) -> None:
    _insert_dirty(session, _days_of_cases(session, case_ids))


def mark_orders(session: Session, order_ids: Iterable[int]) -> None:
    _insert_dirty(session, _days_of_orders(session, order_ids))


def mark_everything(session: Session, market_id: int | None = None) -> None:
    """Mark every day that has a case or an order (after a bulk load, or to rebuild from scratch)."""
    if session.get_bind().dialect.name == "postgresql":
        day = "CAST(({col} AT TIME ZONE 'UTC') AS DATE)"
    else:
        day = "DATE({col})"
    cases = select(text(day.format(col="opened_at")), Case.market_id).select_from(Case.__table__)
    orders = select(text(day.format(col="placed_at")), Order.market_id).select_from(Order.__table__)
    if market_id is not None:
        cases, orders = cases.where(Case.market_id == market_id), orders.where(Order.market_id == market_id)
    found = session.execute(union(cases.distinct(), orders.distinct())).all()
    # A market-local day is the UTC day or the one before or after it; the first and last instant of
    # the UTC day say which (time zones are less than a day away from UTC).
    pairs = set()
    for found_day, found_market in found:
        utc_day = found_day if isinstance(found_day, date) else date.fromisoformat(found_day)
        first, last = day_window(utc_day, ZoneInfo("UTC"))
        zone = zone_of(session, found_market)
        pairs.add((day_of(first, zone), found_market))
        pairs.add((day_of(last - timedelta(microseconds=1), zone), found_market))
    _insert_dirty(session, pairs)


def dirty_pairs(
    session: Session, start: date | None = None, end: date | None = None, market_id: int | None = None
) -> list[tuple[date, int]]:
    query = (
        select(AnalyticsDirty.day, AnalyticsDirty.market_id)
        .distinct()
        .order_by(AnalyticsDirty.day, AnalyticsDirty.market_id)
    )
    if start is not None:
        query = query.where(AnalyticsDirty.day >= start)
    if end is not None:
        query = query.where(AnalyticsDirty.day <= end)
    if market_id is not None:
        query = query.where(AnalyticsDirty.market_id == market_id)
    return [(d, m) for d, m in session.execute(query)]


def refresh_dirty(
    session: Session,
    start: date | None = None,
    end: date | None = None,
    market_id: int | None = None,
    limit: int | None = None,
    seconds: float | None = None,
) -> int:
    """Rebuild the dirty days (within a range, when given), each in its own committed transaction.

    A day is claimed by deleting its dirty marks; a change committed meanwhile marks it again, so it is
    rebuilt once more rather than missed. The dirty days of one market's month are rebuilt together,
    with the month, in one transaction.
    """
    apply_marks(session)
    session.commit()
    done = 0
    stop_at = None if seconds is None else time_module.monotonic() + seconds
    months: dict[tuple[date, int], list[date]] = defaultdict(list)
    for day, market in dirty_pairs(session, start, end, market_id)[:limit]:
        months[(month_of(day), market)].append(day)
    for (month, market), days in months.items():
        if stop_at is not None and time_module.monotonic() > stop_at:
            break
        _lock(session, month, market)
        claimed = [
            day
            for day in days
            if rowcount(session.execute(
                delete(AnalyticsDirty).where(AnalyticsDirty.day == day, AnalyticsDirty.market_id == market)
            )) > 0
        ]
        if claimed:
            rebuild_days(session, claimed, market)
            rebuild_month(session, month, market, claimed)
        session.commit()
        done += len(claimed)
    return done


def rezone(session: Session, market_id: int) -> None:
    """A market moved to another time zone: its days are other days now; drop and rebuild them all."""
    session.info.pop(_ZONES, None)
    for daily in (AnalyticsDaily, AnalyticsDuration):
        session.execute(delete(daily).where(daily.market_id == market_id))
    for summed in (AnalyticsDekad, AnalyticsDurationDekad, AnalyticsMonthly, AnalyticsDurationMonthly):
        session.execute(delete(summed).where(summed.market_id == market_id))
    mark_everything(session, market_id)


def rebuild_everything(session: Session) -> int:
    """Build every rollup from scratch (the demo seed and `flask analytics rebuild` use this)."""
    for table in (
        AnalyticsDaily, AnalyticsDuration, AnalyticsDekad, AnalyticsDurationDekad, AnalyticsMonthly,
        AnalyticsDurationMonthly,
    ):
        session.execute(delete(table))
    mark_everything(session)
    session.commit()
    return refresh_dirty(session)


# --- marking from the ORM -------------------------------------------------------------------------

_KEY = "analytics_marks"
_BY_CASE = (
    CaseItem, Refund, ReturnShipment, Decision, Deadline, Dispute, CaseEvent, Exchange, Inspection, Message
)
_BY_ORDER = (OrderItem, Shipment)


def _old_and_new(obj: Any, *names: str) -> list[tuple[Any, ...]]:
    """The values of these attributes now, and before this flush if any of them changed."""
    state = inspect(obj)
    now = tuple(getattr(obj, name) for name in names)
    found = [now]
    histories = [state.attrs[name].history for name in names]
    if any(h.deleted for h in histories):
        found.append(
            tuple(h.deleted[0] if h.deleted else value for h, value in zip(histories, now, strict=True))
        )
    return found


def _note(session: Session, _context: Any, _instances: Any = None) -> None:
    changed = list(session.new) + list(session.dirty) + list(session.deleted)
    if not changed:
        return
    marks = session.info.setdefault(_KEY, {"moments": set(), "objects": [], "markets": set()})
    for obj in changed:
        if isinstance(obj, Market):
            if obj.id is not None and inspect(obj).attrs.timezone.history.deleted:
                marks["markets"].add(obj.id)
        elif isinstance(obj, Case):
            for opened, market in _old_and_new(obj, "opened_at", "market_id"):
                if opened is not None and market is not None:
                    marks["moments"].add((opened, market))
            if obj.market_id is None or obj.opened_at is None:
                marks["objects"].append(obj)  # defaults are filled in by the flush
        elif isinstance(obj, Order):
            for placed, market in _old_and_new(obj, "placed_at", "market_id"):
                if placed is not None and market is not None:
                    marks["moments"].add((placed, market))
            if obj.market_id is None or obj.placed_at is None:
                marks["objects"].append(obj)
        elif isinstance(obj, (*_BY_CASE, *_BY_ORDER, TrackingEvent)):
            marks["objects"].append(obj)


def apply_marks(session: Session) -> None:
    """Write the dirty marks the ORM noted in this transaction (called just before it commits)."""
    marks = session.info.pop(_KEY, None)
    if not marks:
        return
    moments: set[tuple[datetime, int]] = set(marks["moments"])
    case_ids: set[int] = set()
    order_ids: set[int] = set()
    shipment_ids: set[int] = set()
    for obj in marks["objects"]:
        if isinstance(obj, Case):
            if obj.opened_at is not None and obj.market_id is not None:
                moments.add((obj.opened_at, obj.market_id))
        elif isinstance(obj, Order):
            if obj.placed_at is not None and obj.market_id is not None:
                moments.add((obj.placed_at, obj.market_id))
        elif isinstance(obj, _BY_CASE):
            case_id = obj.case_id if obj.case_id is not None else getattr(obj.case, "id", None)
            if case_id is not None:
                case_ids.add(case_id)
        elif isinstance(obj, _BY_ORDER):
            if obj.order_id is not None:
                order_ids.add(obj.order_id)
        elif isinstance(obj, TrackingEvent) and obj.shipment_id is not None:
            shipment_ids.add(obj.shipment_id)
    if shipment_ids:
        ids = sorted(shipment_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            order_ids.update(session.scalars(select(Shipment.order_id).where(Shipment.id.in_(chunk))))
    with session.no_autoflush:
        for market_id in sorted(marks["markets"]):
            rezone(session, market_id)
        pairs = {(day_of(when, zone_of(session, m)), m) for when, m in moments}
        pairs |= _days_of_cases(session, case_ids) | _days_of_orders(session, order_ids)
        _insert_dirty(session, pairs)


def _before_commit(session: Session) -> None:
    # Once, when the whole transaction commits: a savepoint's release also fires this hook, and
    # marking there cost a query and an insert per savepoint (the policy applies each action in one).
    if session.info.get(_KEY) and not session.in_nested_transaction():
        session.flush()
        apply_marks(session)


def _forget(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint rolled back keeps the marks: those noted before it still count, and one too many
    # only rebuilds a day again.
    if not previous_transaction.nested:
        session.info.pop(_KEY, None)


def install() -> None:
    event.listen(Session, "before_flush", _note)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_soft_rollback", _forget)


install()
