"""Analytics counts each market's own days, and its daily, dekad and monthly rollups equal the raw cases.

Random shops with cases near midnight in zones on both sides of UTC, on daylight-saving days and at
month ends, compared with figures worked out straight from the cases; then random changes, refreshed.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_analytics import Shop

from portal.domain import analytics as an
from portal.domain import analytics_build as build
from portal.domain.enums import (
    CaseReason,
    Channel,
    MessageDirection,
    MessageStatus,
    OrderStatus,
    RefundKind,
    RefundStatus,
    Role,
)
from portal.domain.models import Case, Market, Message, Order, Refund, User

PERIOD = an.Period(date(2026, 2, 25), date(2026, 5, 3))
# Daylight saving starts or ends: New York 8 Mar, London 29 Mar, Auckland 5 Apr; month ends; edges.
SPECIAL = [
    date(2026, m, d)
    for m, d in (
        (3, 8),
        (3, 29),
        (4, 5),
        (2, 28),
        (3, 1),
        (3, 31),
        (4, 1),
        (4, 30),
        (5, 1),
        (2, 24),
        (2, 25),
        (5, 3),
        (5, 4),
    )
]
REASONS = [CaseReason.SIZE, CaseReason.COLOR, CaseReason.QUALITY]


def local_moment(rng: random.Random, zone: ZoneInfo) -> datetime:
    day = rng.choice(SPECIAL) if rng.random() < 0.7 else date(2026, 2, 20) + timedelta(days=rng.randrange(80))
    edge = rng.random()
    if edge < 0.4:
        clock = time(0, rng.randrange(40), rng.randrange(60))
    elif edge < 0.8:
        clock = time(23, 20 + rng.randrange(40), rng.randrange(60))
    else:
        clock = time(rng.randrange(24), rng.randrange(60))
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


class RandomShop:
    def __init__(self, db: Session, seed: int, agent: User) -> None:
        self.rng = random.Random(seed)
        self.shop = Shop(db)
        self.db = db
        self.agent = agent
        nz = Market(
            shop_id=self.shop.us.shop_id,
            code="NZ",
            name="New Zealand",
            currency="NZD",
            timezone="Pacific/Auckland",
            language="en",
        )
        my = Market(
            shop_id=self.shop.us.shop_id,
            code="MY",
            name="Malaysia",
            currency="MYR",
            timezone="Asia/Kuala_Lumpur",
            language="ms",
        )
        db.add_all([nz, my])
        db.flush()
        self.markets = [self.shop.us, self.shop.uk, nz, my]
        for _ in range(90):
            self.add_case()
        db.commit()

    def add_case(self) -> None:
        rng, s = self.rng, self.shop
        market = rng.choice(self.markets)
        when = local_moment(rng, ZoneInfo(market.timezone))
        status = OrderStatus.CANCELLED if rng.random() < 0.1 else OrderStatus.DELIVERED
        order = s.order(
            market, when, "SKU-R", "apparel", Channel.LIVE, f"{rng.randrange(5, 90)}.00", status=status
        )
        if rng.random() < 0.25:
            return  # an order nobody asked about
        case = s.case(
            order,
            when + timedelta(minutes=rng.randrange(0, 90)),
            rng.choice(REASONS),
            responded_after=rng.choice([None, 3, 50]),
        )
        if rng.random() < 0.5:
            kind = rng.choice([RefundKind.FULL, RefundKind.PARTIAL, RefundKind.COUPON])
            failed = rng.random() < 0.2
            s.refund(
                case,
                kind,
                f"{rng.randrange(1, 20)}.00",
                rng.randrange(10, 3000),
                status=RefundStatus.FAILED if failed else RefundStatus.COMPLETED,
            )
        if rng.random() < 0.5:
            self.db.add(
                Message(
                    case=case,
                    direction=MessageDirection.OUTBOUND,
                    status=MessageStatus.SENT,
                    language="en",
                    body="Hello",
                    author_id=self.agent.id,
                    created_at=case.opened_at + timedelta(minutes=rng.randrange(1, 2000)),
                )
            )

    def change(self) -> None:
        """Move some cases and orders across midnight, refund some, add cases."""
        rng = self.rng
        cases = list(self.db.scalars(select(Case).order_by(Case.id)))
        for case in rng.sample(cases, 15):
            case.opened_at = case.opened_at + timedelta(minutes=rng.choice([-50, -20, 20, 50]))
        for case in rng.sample(cases, 8):
            self.shop.refund(case, RefundKind.PARTIAL, "3.00", 30)
        for order in rng.sample(list(self.db.scalars(select(Order).order_by(Order.id))), 10):
            order.placed_at = order.placed_at + timedelta(minutes=rng.choice([-40, 40]))
        for _ in range(10):
            self.add_case()
        self.db.commit()


def raw(db: Session, period: an.Period) -> dict[str, object]:
    """The figures computed straight from the cases, each on its market's local day."""
    zones = {m.id: ZoneInfo(m.timezone) for m in db.scalars(select(Market))}

    def inside(moment: datetime, market_id: int) -> bool:
        return period.start <= moment.astimezone(zones[market_id]).date() <= period.end

    orders: Counter[int] = Counter()
    for order in db.scalars(select(Order)):
        if order.status != OrderStatus.CANCELLED and inside(order.placed_at, order.market_id):
            orders[order.market_id] += 1
    cases: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    money: dict[str, Decimal] = defaultdict(Decimal)
    people: Counter[int] = Counter()
    for case in db.scalars(select(Case)):
        if not inside(case.opened_at, case.market_id):
            continue
        cases[case.market_id] += 1
        reasons[str(case.reason)] += 1
        for refund in db.scalars(select(Refund).where(Refund.case_id == case.id)):
            if refund.status != RefundStatus.FAILED:
                money[refund.currency] += refund.amount
        replies = [
            m.created_at
            for m in db.scalars(select(Message).where(Message.case_id == case.id))
            if m.author_id is not None and m.direction == MessageDirection.OUTBOUND
        ]
        if replies:
            people[build.bucket(build.minutes_between(case.opened_at, min(replies)))] += 1
    return {
        "orders": dict(orders),
        "cases": dict(cases),
        "reasons": dict(reasons),
        "money": dict(money),
        "people": dict(people),
    }


def rolled(figs: an.Figures) -> dict[str, object]:
    return {
        "orders": {m: s.n("orders") for m, s in figs.by_market.items() if s.n("orders")},
        "cases": {m: s.n("cases") for m, s in figs.by_market.items() if s.n("cases")},
        "reasons": {k: s.n("cases") for k, s in figs.by["reason"].items()},
        "money": {c: figs.total.refund_total(c) for c in figs.total.money if figs.total.refund_total(c)},
        "people": figs.durations["person_response"],
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_the_raw_cases_before_and_after_changes(
    db: Session, users: dict[Role, User], seed: int
) -> None:
    shop = RandomShop(db, seed, users[Role.CS_AGENT])
    for round_ in range(2):
        build.refresh_dirty(db)
        for period in (
            PERIOD,
            an.Period(date(2026, 3, 1), date(2026, 3, 31)),
            an.Period(date(2026, 3, 8), date(2026, 3, 8)),
            an.Period(date(2026, 2, 21), date(2026, 4, 10)),  # a dekad, a month, a dekad
            an.Period(date(2026, 3, 5), date(2026, 4, 25)),  # days, dekads across a month's end, days
        ):
            expected = raw(db, period)
            for months in (True, False):
                assert rolled(an.figures(db, period, months=months)) == expected, (round_, period, months)
        shop.change()
    # Built from scratch, the same again.
    build.rebuild_everything(db)
    assert rolled(an.figures(db, PERIOD)) == raw(db, PERIOD)


@pytest.mark.parametrize(
    ("start", "end", "parts"),
    [
        ("2026-03-01", "2026-03-31", [("month", "2026-03-01", "2026-03-31")]),
        (
            "2026-03-02",
            "2026-03-31",
            [("day", "2026-03-02", "2026-03-10"), ("dekad", "2026-03-11", "2026-03-31")],
        ),
        (
            "2026-03-05",
            "2026-03-20",
            [("day", "2026-03-05", "2026-03-10"), ("dekad", "2026-03-11", "2026-03-20")],
        ),
        ("2026-03-12", "2026-03-19", [("day", "2026-03-12", "2026-03-19")]),
        ("2026-03-11", "2026-03-20", [("dekad", "2026-03-11", "2026-03-20")]),
        (
            "2026-02-25",
            "2026-05-03",
            [
                ("day", "2026-02-25", "2026-02-28"),
                ("month", "2026-03-01", "2026-04-30"),
                ("day", "2026-05-01", "2026-05-03"),
            ],
        ),
        ("2025-12-01", "2026-11-30", [("month", "2025-12-01", "2026-11-30")]),
        (
            "2025-11-16",
            "2026-11-15",
            [
                ("day", "2025-11-16", "2025-11-20"),
                ("dekad", "2025-11-21", "2025-11-30"),
                ("month", "2025-12-01", "2026-10-31"),
                ("dekad", "2026-11-01", "2026-11-10"),
                ("day", "2026-11-11", "2026-11-15"),
            ],
        ),
        (
            "2026-02-09",
            "2026-03-22",
            [
                ("day", "2026-02-09", "2026-02-10"),
                ("dekad", "2026-02-11", "2026-03-20"),
                ("day", "2026-03-21", "2026-03-22"),
            ],
        ),
        (
            "2025-12-31",
            "2026-01-31",
            [("day", "2025-12-31", "2025-12-31"), ("month", "2026-01-01", "2026-01-31")],
        ),
    ],
)
def test_a_period_reads_whole_months_dekads_and_the_days_around_them(
    start: str, end: str, parts: list[tuple[str, str, str]]
) -> None:
    period = an.Period(date.fromisoformat(start), date.fromisoformat(end))
    assert period.parts() == [(level, date.fromisoformat(a), date.fromisoformat(b)) for level, a, b in parts]
    assert period.parts(months=False) == [("day", period.start, period.end)]


def test_the_parts_of_any_period_are_aligned_and_cover_it_in_order() -> None:
    units = {"month": (build.month_of, build.next_month), "dekad": (build.dekad_of, build.next_dekad)}
    first_day = date(2025, 12, 20)
    for start in (first_day + timedelta(days=n) for n in range(75)):
        for end in (start + timedelta(days=n) for n in (0, 1, 8, 9, 10, 11, 19, 20, 29, 30, 31, 45, 70, 400)):
            parts = an.Period(start, end).parts()
            assert parts[0][1] == start and parts[-1][2] == end, (start, end)
            for (_, _, last), (_, first, _) in zip(parts, parts[1:], strict=False):
                assert first == last + timedelta(days=1), (start, end, parts)
            for level, first, last in parts:
                if level in units:
                    unit_of, next_unit = units[level]
                    assert unit_of(first) == first and next_unit(unit_of(last)) == last + timedelta(days=1)
            # At most ten days at either end (the third dekad of a 31-day month has eleven), unless
            # the period holds no whole dekad at all.
            days = [(last - first).days + 1 for level, first, last in parts if level == "day"]
            assert len(parts) == 1 or (len(days) <= 2 and max(days, default=0) <= 10), (start, end, parts)


# The kinds of days a period can start on, and end on: a month's or dekad's first or last day, or
# the day before or after one (February's last dekad is eight days long).
STARTS = [date(2026, 3, d) for d in (1, 2, 10, 11, 12, 20, 21, 22, 31)] + [date(2026, 2, d) for d in (21, 28)]
ENDS = [date(2026, 4, d) for d in (1, 9, 10, 11, 19, 20, 21, 29, 30)] + [date(2026, 3, 20), date(2026, 5, 1)]


def summed(figs: an.Figures) -> dict[str, object]:
    """Every additive figure and histogram, as plain values."""

    def plain(sums: an.Sums) -> tuple[dict[str, int], dict[str, dict[str, Decimal]]]:
        return dict(sums.counts), {c: dict(m) for c, m in sums.money.items()}

    return {
        "total": plain(figs.total),
        "markets": {m: plain(s) for m, s in figs.by_market.items()},
        "by": {dim: {k: plain(s) for k, s in keys.items()} for dim, keys in figs.by.items()},
        "previous": {k: plain(s) for k, s in figs.previous_sku.items()},
        "durations": figs.durations,
        "agents": figs.agent_durations,
    }


def test_a_period_on_any_boundary_has_the_figures_of_its_days(db: Session, users: dict[Role, User]) -> None:
    RandomShop(db, 3, users[Role.CS_AGENT])
    build.refresh_dirty(db)
    read = 0
    for start in STARTS:
        for end in ENDS:
            if end < start:
                continue
            period = an.Period(start, end)
            days = summed(an.figures(db, period, months=False))
            assert summed(an.figures(db, period)) == days, period.parts()
            read += 1
    assert read > 100
    assert summed(an.figures(db, an.Period(STARTS[0], ENDS[-1])))["total"] != summed(
        an.figures(db, an.Period(STARTS[1], ENDS[-1]))
    )["total"]


def test_a_market_that_moves_to_another_zone_counts_its_days_anew(db: Session) -> None:
    shop = Shop(db)
    when = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # 9 March in New York, 10 March in Kuala Lumpur
    order = shop.order(shop.us, when, "SKU-Z", "apparel", Channel.LIVE, "10.00")
    shop.case(order, when, CaseReason.SIZE)
    db.commit()
    build.refresh_dirty(db)
    ninth, tenth = (
        an.Period(date(2026, 3, 9), date(2026, 3, 9)),
        an.Period(date(2026, 3, 10), date(2026, 3, 10)),
    )
    assert an.figures(db, ninth).total.n("cases") == 1
    assert an.figures(db, tenth).total.n("cases") == 0
    shop.us.timezone = "Asia/Kuala_Lumpur"
    db.commit()
    build.refresh_dirty(db)
    assert an.figures(db, ninth).total.n("cases") == 0
    assert an.figures(db, tenth).total.n("cases") == 1
    assert an.figures(db, an.Period(date(2026, 3, 1), date(2026, 3, 31))).total.n("orders") == 1
