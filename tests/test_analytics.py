"""Analytics figures against a small hand-made shop, worked out by hand, and the dashboard over HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from support.factories import shop_with_market

from portal.domain import analytics as an
from portal.domain import analytics_build as build
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    Channel,
    DeadlineKind,
    DeadlineState,
    DisputeStatus,
    OrderStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    Role,
    ShipmentKind,
    ShippingPayer,
    TrackingStatus,
)
from portal.domain.models import (
    AnalyticsDirty,
    Buyer,
    Campaign,
    Case,
    CaseItem,
    Deadline,
    Decision,
    Dispute,
    ExchangeRate,
    Market,
    Order,
    OrderItem,
    Refund,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from portal.domain.queue import CaseFilter, case_query

PERIOD = an.Period(date(2026, 3, 1), date(2026, 3, 10))
ARGS = "from=2026-03-01&to=2026-03-10"


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Shop:
    """The hand-made shop: two markets, three SKUs, two campaigns, five cases (see the module's tests)."""

    def __init__(self, db: Session) -> None:
        self.db = db
        shop, self.us = shop_with_market(db, "US", "USD")
        self.uk = Market(
            shop=shop,
            code="GB",
            name="United Kingdom",
            currency="GBP",
            timezone="Europe/London",
            language="en",
        )
        self.c1 = Campaign(shop_id=shop.id, external_id="c1", name="Spring dresses")
        self.c2 = Campaign(shop_id=shop.id, external_id="c2", name="Ring promo")
        db.add_all(
            [
                self.uk,
                self.c1,
                self.c2,
                ExchangeRate(currency="USD", usd_per_unit=Decimal(1)),
                ExchangeRate(currency="GBP", usd_per_unit=Decimal("1.25")),
            ]
        )
        db.flush()
        self.n = 0

    def order(
        self,
        market: Market,
        placed: datetime,
        sku: str,
        category: str,
        channel: Channel,
        amount: str,
        campaign: Campaign | None = None,
        status: OrderStatus = OrderStatus.DELIVERED,
    ) -> Order:
        self.n += 1
        buyer = Buyer(
            shop_id=market.shop_id,
            pseudonym=f"an_b_{id(self)}_{self.n}",
            display_name="B",
            market=market,
            language="en",
            timezone="UTC",
        )
        order = Order(
            shop_id=market.shop_id,
            market=market,
            buyer=buyer,
            external_order_id=f"an{id(self)}-{self.n}",
            channel=channel,
            campaign=campaign,
            status=status,
            currency=market.currency,
            total_amount=Decimal(amount),
            placed_at=placed,
        )
        order.items.append(
            OrderItem(
                sku=sku,
                title=sku,
                category=category,
                quantity=1,
                unit_price=Decimal(amount),
                currency=market.currency,
            )
        )
        self.db.add_all([buyer, order])
        self.db.flush()
        return order

    def case(
        self,
        order: Order,
        opened: datetime,
        reason: CaseReason,
        responded_after: int | None = None,
        type: CaseType = CaseType.RETURN_AND_REFUND,
    ) -> Case:
        self.n += 1
        case = Case(
            number=f"AN-{self.n:05d}",
            shop_id=order.shop_id,
            market=order.market,
            order=order,
            buyer=order.buyer,
            type=type,
            reason=reason,
            status=CaseStatus.IN_REVIEW,
            value=order.total_amount,
            currency=order.currency,
            opened_at=opened,
            first_response_at=opened + timedelta(minutes=responded_after) if responded_after else None,
        )
        case.items.append(CaseItem(order_item=order.items[0], quantity=1))
        self.db.add(case)
        self.db.flush()
        return case

    def refund(
        self,
        case: Case,
        kind: RefundKind,
        amount: str,
        after_minutes: int,
        status: RefundStatus = RefundStatus.COMPLETED,
    ) -> None:
        self.db.add(
            Refund(
                case=case,
                kind=kind,
                status=status,
                amount=Decimal(amount),
                currency=case.currency,
                method=RefundMethod.COUPON if kind == RefundKind.COUPON else RefundMethod.ORIGINAL_PAYMENT,
                created_at=case.opened_at + timedelta(minutes=after_minutes),
            )
        )

    def decision(self, case: Case, rule: str | None, *actions: str) -> None:
        self.db.add(
            Decision(
                case=case,
                event="case_opened",
                rule_name=rule,
                rule_line=1 if rule else None,
                actions=[{"name": a, "args": []} for a in actions],
                explanation={},
                automated=True,
                decided_at=case.opened_at,
            )
        )


@pytest.fixture
def shop(db: Session) -> Shop:
    return hand_made_shop(db)


def hand_made_shop(db: Session) -> Shop:
    s = Shop(db)
    us, uk = s.us, s.uk
    o = [s.order(us, at(1 + i), "SKU-A", "apparel", Channel.LIVE, "20.00", s.c1) for i in range(4)]
    o += [s.order(us, at(2 + i), "SKU-B", "jewelry", Channel.AD, "50.00", s.c2) for i in range(3)]
    o += [s.order(us, at(3 + i), "SKU-C", "apparel", Channel.ORGANIC, "10.00") for i in range(3)]
    s.order(us, at(4), "SKU-A", "apparel", Channel.LIVE, "20.00", s.c1, status=OrderStatus.CANCELLED)
    uk_orders = [s.order(uk, at(5 + i), "SKU-A", "apparel", Channel.LIVE, "16.00") for i in range(5)]
    # The period before: SKU-A sold four times and nobody returned it.
    for i in range(4):
        s.order(us, at(20 + i, month=2), "SKU-A", "apparel", Channel.LIVE, "20.00", s.c1)

    c1 = s.case(o[0], at(2), CaseReason.SIZE, responded_after=30)
    s.refund(c1, RefundKind.FULL, "20.00", 120)
    s.db.add(
        ReturnShipment(
            case=c1,
            rma_number="RMA-AN-1",
            status="received",
            return_address_id=us.return_addresses[0].id,
            shipping_payer=ShippingPayer.BUYER,
            received_at=at(3),
        )
    )
    s.decision(c1, "cheap", "approve_return")

    c2 = s.case(o[1], at(3), CaseReason.SIZE, responded_after=90)
    s.refund(c2, RefundKind.PARTIAL, "5.00", 180)
    s.refund(c2, RefundKind.COUPON, "2.00", 30)
    s.decision(c2, None, "manual_review")

    c3 = s.case(o[4], at(4), CaseReason.QUALITY, responded_after=600)
    s.refund(c3, RefundKind.FULL, "50.00", 60, status=RefundStatus.FAILED)
    s.refund(c3, RefundKind.FULL, "50.00", 1440)
    s.db.add_all(
        [
            Dispute(
                case=c3,
                reason="Quality",
                status=DisputeStatus.WON,
                amount=Decimal(50),
                currency="USD",
                opened_at=at(5),
                respond_by=at(7),
            ),
            Deadline(
                case=c3,
                name="seller_response",
                kind=DeadlineKind.PLATFORM,
                state=DeadlineState.FIRED,
                due_at=at(6),
            ),
            Deadline(
                case=c3,
                name="buyer_reply",
                kind=DeadlineKind.PLATFORM,
                state=DeadlineState.CANCELLED,
                due_at=at(7),
            ),
            Deadline(
                case=c3,
                name="resolution_target",
                kind=DeadlineKind.AGENT_SLA,
                state=DeadlineState.FIRED,
                due_at=at(7),
            ),
        ]
    )

    c4 = s.case(o[7], at(5), CaseReason.SIZE, type=CaseType.DISPUTE)
    s.db.add_all(
        [
            Dispute(
                case=c4,
                reason="Size",
                status=DisputeStatus.LOST,
                amount=Decimal(10),
                currency="USD",
                opened_at=at(6),
                respond_by=at(8),
            ),
            Deadline(
                case=c4,
                name="seller_response",
                kind=DeadlineKind.PLATFORM,
                state=DeadlineState.PENDING,
                due_at=at(20),
            ),
        ]
    )

    c5 = s.case(uk_orders[0], at(6), CaseReason.COLOR, responded_after=20)
    s.refund(c5, RefundKind.PARTIAL, "8.00", 40)
    s.decision(c5, "partial", "partial_refund", "notify")

    ups = Shipment(
        order=o[0],
        kind=ShipmentKind.OUTBOUND,
        carrier="UPS",
        tracking_number="1ZAN1",
        status=TrackingStatus.DELIVERED,
    )
    dhl_event = Shipment(
        order=o[4],
        kind=ShipmentKind.OUTBOUND,
        carrier="DHL",
        tracking_number="DHLAN1",
        status=TrackingStatus.DELIVERED,
    )
    dhl_event.events.append(
        TrackingEvent(status=TrackingStatus.EXCEPTION, description="Customs hold", occurred_at=at(3))
    )
    dhl_status = Shipment(
        order=o[7],
        kind=ShipmentKind.OUTBOUND,
        carrier="DHL",
        tracking_number="DHLAN2",
        status=TrackingStatus.ATTEMPT_FAIL,
    )
    s.db.add_all([ups, dhl_event, dhl_status])
    s.db.commit()
    s.cases = [c1, c2, c3, c4, c5]
    return s


def figures(db: Session, market: Market | None = None, period: an.Period = PERIOD) -> an.Figures:
    build.refresh_dirty(db)
    return an.figures(db, period, market.id if market else None)


def test_writes_mark_the_days_they_count_in(shop: Shop, db: Session) -> None:
    marked = set(db.execute(select(AnalyticsDirty.day, AnalyticsDirty.market_id)))
    assert (date(2026, 3, 2), shop.us.id) in marked  # c1 opened
    assert (date(2026, 2, 20), shop.us.id) in marked  # an order of the period before
    assert (date(2026, 3, 6), shop.uk.id) in marked
    build.refresh_dirty(db)
    assert db.scalar(select(func.count()).select_from(AnalyticsDirty)) == 0


def test_two_writers_marking_one_day_neither_wait_nor_lose_a_mark(
    app: Flask, shop: Shop, db: Session
) -> None:
    """Two schedulers firing deadlines of one market deadlocked on a mark per (day, market): the second
    writer waited for the first's commit, and each waited for the other when they marked in different
    orders. Marks are appended now; a rebuild takes every mark of its day."""
    build.refresh_dirty(db)
    factory = app.extensions["database"].sessionmaker
    days = [(date(2026, 3, 2), shop.us.id), (date(2026, 3, 3), shop.us.id)]
    with factory() as first, factory() as second:
        if first.get_bind().dialect.name == "postgresql":
            second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting on the first would fail
        build._insert_dirty(first, days)
        first.flush()
        if first.get_bind().dialect.name == "postgresql":
            build._insert_dirty(second, reversed(days))
            second.commit()
        first.commit()
        if first.get_bind().dialect.name != "postgresql":  # one writer at a time: one after the other
            build._insert_dirty(second, reversed(days))
            second.commit()
    assert db.scalar(select(func.count()).select_from(AnalyticsDirty)) == 4
    assert build.dirty_pairs(db) == days
    assert build.refresh_dirty(db) == 2
    assert db.scalar(select(func.count()).select_from(AnalyticsDirty)) == 0


def test_a_savepoint_rolled_back_keeps_the_marks_noted_before_it(shop: Shop, db: Session) -> None:
    """The policy applies each action in a savepoint; one refused used to forget every mark of the
    transaction, so a change made before it never reached the figures."""
    build.refresh_dirty(db)
    case = shop.cases[0]
    case.reason = CaseReason.WRONG_ITEM
    db.flush()
    with pytest.raises(RuntimeError), db.begin_nested():
        db.add(case)
        raise RuntimeError("the action is refused")
    db.commit()
    assert build.dirty_pairs(db) == [(date(2026, 3, 2), shop.us.id)]


def test_return_rates_by_every_dimension(shop: Shop, db: Session) -> None:
    figs = figures(db)
    assert (figs.total.n("orders"), figs.total.n("cases")) == (15, 5)
    assert figs.total.return_rate == Decimal("0.3333")
    assert figs.by_market[shop.us.id].return_rate == Decimal("0.4000")
    assert figs.by_market[shop.uk.id].return_rate == Decimal("0.2000")

    def rates(dim: str) -> dict[str, tuple[int, int]]:
        return {k: (s.n("orders"), s.n("cases")) for k, s in figs.by[dim].items()}

    assert rates("sku") == {"SKU-A": (9, 3), "SKU-B": (3, 1), "SKU-C": (3, 1)}
    assert rates("category") == {"apparel": (12, 4), "jewelry": (3, 1)}
    assert rates("channel") == {"live": (9, 3), "ad": (3, 1), "organic": (3, 1)}
    assert rates("campaign") == {str(shop.c1.id): (4, 2), str(shop.c2.id): (3, 1)}
    assert {k: s.n("cases") for k, s in figs.by["reason"].items()} == {"size": 3, "quality": 1, "color": 1}
    assert sum(figs.reason_trend[date(2026, 3, 2)].values()) == 1

    us = figures(db, shop.us)
    assert (us.total.n("orders"), us.total.n("cases")) == (10, 4)
    assert rates("sku")["SKU-A"] == (9, 3) and us.by["sku"]["SKU-A"].n("orders") == 4


def test_refund_cost_per_currency_and_in_dollars(shop: Shop, db: Session) -> None:
    figs = figures(db)
    usd = figs.total.money["USD"]
    assert (usd["refund_full"], usd["refund_returnless"], usd["refund_partial"], usd["refund_coupon"]) == (
        Decimal("20.00"),
        Decimal("50.00"),
        Decimal("5.00"),
        Decimal("2.00"),
    )
    assert usd["revenue"] == Decimal("260.00")
    assert figs.total.money["GBP"]["refund_partial"] == Decimal("8.00")
    assert figs.total.money["GBP"]["revenue"] == Decimal("80.00")
    converted = figs.refund_usd
    assert converted.missing == []
    assert converted.amounts == {
        "refund_full": Decimal("20.00"),
        "refund_returnless": Decimal("50.00"),
        "refund_partial": Decimal("15.00"),
        "refund_coupon": Decimal("2.00"),
        "revenue": Decimal("360.00"),
    }
    db.query(ExchangeRate).filter_by(currency="GBP").delete()
    db.commit()
    assert figures(db).refund_usd.missing == ["GBP"]


def test_automation_times_deadlines_disputes_and_carriers(shop: Shop, db: Session) -> None:
    figs = figures(db)
    assert figs.total.n("auto_cases") == 2
    assert {k: s.n("cases") for k, s in figs.by["rule"].items()} == {"cheap": 1, "partial": 1}
    responses, refunds = figs.durations["first_response"], figs.durations["refund"]
    # First responses after 20, 30, 90 and 600 minutes; c4 never answered.
    assert an.percentile(responses, Decimal("0.5")) == 30
    assert an.percentile(responses, Decimal("0.9")) == 600
    # First refunds after 40, 120, 180 and 1440 minutes (the failed one and the coupon do not count).
    assert an.percentile(refunds, Decimal("0.5")) == 120
    assert an.percentile(refunds, Decimal("0.9")) == 1440
    assert an.within(responses, 48 * 60) == 4 and figs.response_window_hours == 48
    t = figs.total
    assert (t.n("deadlines"), t.n("deadlines_missed")) == (3, 1)
    assert (t.n("disputes_opened"), t.n("disputes_won"), t.n("disputes_lost")) == (2, 1, 1)
    assert {k: (s.n("shipments"), s.n("exceptions")) for k, s in figs.by["carrier"].items()} == {
        "UPS": (1, 0),
        "DHL": (2, 2),
    }
    assert (t.n("shipments"), t.n("exceptions")) == (3, 2)


def test_top_problems(shop: Shop, db: Session) -> None:
    figs = figures(db)
    rising = an.rising_skus(figs, min_orders=3)
    assert [(r.sku, r.rate, r.previous_rate) for r in rising] == [("SKU-A", Decimal("0.3333"), Decimal("0"))]
    assert an.rising_skus(figs, min_orders=5) == []  # only four orders of SKU-A before
    campaigns = an.returning_campaigns(figs, min_orders=3)
    assert [(c.name, c.rate) for c in campaigns] == [
        ("Spring dresses", Decimal("0.5000")),
        ("Ring promo", Decimal("0.3333")),
    ]
    per_category = an.top_reason_per_category(figs)
    assert [(c.category, c.reason, c.cases, c.share) for c in per_category] == [
        ("apparel", "size", 3, Decimal("0.7500")),
        ("jewelry", "quality", 1, Decimal("1.0000")),
    ]


def test_a_case_that_changes_changes_the_figures(shop: Shop, db: Session) -> None:
    assert figures(db).by["reason"]["size"].n("cases") == 3
    c4 = db.get(Case, shop.cases[3].id)
    c4.reason = CaseReason.WRONG_ITEM
    c4.first_response_at = c4.opened_at + timedelta(minutes=5)
    db.add(
        Refund(
            case=c4,
            kind=RefundKind.FULL,
            method=RefundMethod.ORIGINAL_PAYMENT,
            status=RefundStatus.PENDING,
            amount=Decimal("10.00"),
            currency="USD",
            created_at=c4.opened_at + timedelta(minutes=50),
        )
    )
    db.commit()
    assert db.scalar(select(func.count()).select_from(AnalyticsDirty)) == 1
    figs = figures(db)
    assert figs.by["reason"]["size"].n("cases") == 2
    assert figs.by["reason"]["wrong_item"].n("cases") == 1
    assert figs.total.money["USD"]["refund_returnless"] == Decimal("60.00")
    # Responses now after 5, 20, 30, 90 and 600 minutes: the median is the third.
    assert an.percentile(figs.durations["first_response"], Decimal("0.5")) == 30
    assert an.percentile(figs.durations["first_response"], Decimal("0.2")) == 5
    # A refund that fails is taken back out; a case moved to another day moves its figures with it.
    refund = db.scalars(select(Refund).where(Refund.case_id == c4.id)).one()
    refund.status = RefundStatus.FAILED
    c4.opened_at = at(12)
    db.commit()
    figs = figures(db)
    assert figs.total.money["USD"]["refund_returnless"] == Decimal("50.00")
    assert figs.total.n("cases") == 4 and "wrong_item" not in figs.by["reason"]
    # A tracking event on a parcel counts for its order's day.
    parcel = db.scalars(select(Shipment).where(Shipment.carrier == "UPS")).one()
    db.add(TrackingEvent(shipment=parcel, status=TrackingStatus.EXPIRED, description="x", occurred_at=at(9)))
    db.commit()
    assert figures(db).by["carrier"]["UPS"].n("exceptions") == 1


def test_rebuild_from_scratch_gives_the_same_figures(shop: Shop, db: Session) -> None:
    before = figures(db)
    build.rebuild_everything(db)
    after = an.figures(db, PERIOD)
    assert after.total.counts == before.total.counts
    assert after.by["sku"].keys() == before.by["sku"].keys()
    assert after.durations == before.durations


@pytest.mark.parametrize(
    ("minutes", "upper"),
    [
        (0, 0),
        (1, 1),
        (60, 60),
        (61, 65),
        (359, 360),
        (361, 375),
        (1441, 1500),
        (10081, 10440),
        (50000, 50400),
    ],
)
def test_buckets(minutes: int, upper: int) -> None:
    assert build.bucket(minutes) == upper


def test_queue_filters_by_sku_and_campaign(shop: Shop, db: Session) -> None:
    def numbers(**kw: str) -> set[str]:
        return {c.number for c in db.scalars(case_query(CaseFilter(status="all", **kw)))}

    c1, c2, c3, c4, c5 = shop.cases
    assert numbers(sku="SKU-A") == {c1.number, c2.number, c5.number}
    assert numbers(campaign=str(shop.c1.id)) == {c1.number, c2.number}
    assert numbers(campaign="nope") == {c.number for c in shop.cases}


# --- over HTTP --------------------------------------------------------------------------------------


def test_dashboard_shows_the_figures_with_links_to_the_queue(
    shop: Shop, login: Callable[[Role], FlaskClient]
) -> None:
    client = login(Role.OPS_MANAGER)
    response = client.get(f"/analytics?{ARGS}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="chart-markets"' in html and "<svg" in html and "style=" not in html
    assert "33.3%" in html and "$87.00" in html  # return rate; refund cost in US dollars
    assert "Spring dresses" in html
    link = (
        "/cases?status=all&amp;tz=market&amp;from=2026-03-01&amp;to=2026-03-10&amp;sort=newest&amp;sku=SKU-A"
    )
    assert link in html
    queue = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    for case in shop.cases:
        assert (case.number in queue) == (
            case.number in {shop.cases[0].number, shop.cases[1].number, shop.cases[4].number}
        )
    us = client.get(f"/analytics?{ARGS}&market=US").get_data(as_text=True)
    assert "40.0%" in us and "Spring dresses" in us and "GBP" not in us


def test_dashboard_in_chinese(shop: Shop, login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.ADMIN)
    client.post("/language", data={"locale": "zh"})
    response = client.get(f"/analytics?{ARGS}", headers={"Accept-Language": "zh"})
    assert response.status_code == 200
    assert "US$87.00" in response.get_data(as_text=True)


def test_csv_download(shop: Shop, login: Callable[[Role], FlaskClient]) -> None:
    client = login(Role.AUDITOR)
    response = client.get(f"/analytics/skus.csv?{ARGS}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "analytics-skus-2026-03-01-2026-03-10.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["SKU", "Orders", "Cases", "Return rate"]
    assert ["SKU-A", "9", "3", "0.3333"] in rows
    refunds = list(
        csv.reader(io.StringIO(client.get(f"/analytics/refunds.csv?{ARGS}").get_data(as_text=True)))
    )
    assert refunds[-1][0] == "All, in USD" and refunds[-1][-3] == "87.00"
    assert client.get(f"/analytics/nothing.csv?{ARGS}").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-03-10&to=2026-03-01",
        "from=yesterday&to=2026-03-01",
        "from=2024-01-01&to=2026-03-01",
        "market=ZZ",
        "days=0",
    ],
)
def test_bad_selection_is_refused_with_a_message(
    shop: Shop, login: Callable[[Role], FlaskClient], query: str
) -> None:
    response = login(Role.OPS_MANAGER).get(f"/analytics?{query}")
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_cs_agents_do_not_see_analytics(app: Flask, login: Callable[[Role], FlaskClient]) -> None:
    agent = login(Role.CS_AGENT)
    assert agent.get("/analytics").status_code == 403
    assert 'href="/analytics"' not in agent.get("/cases").get_data(as_text=True)
    assert 'href="/analytics"' in login(Role.OPS_MANAGER).get("/cases").get_data(as_text=True)


def test_the_scheduler_and_the_cli_rebuild_the_rollups(shop: Shop, app: Flask, db: Session) -> None:
    from portal.scheduler import PERIODIC, _load_tasks

    _load_tasks()
    task = next(p for p in PERIODIC if p.name == "analytics rollups")
    assert task.task(app, app.extensions["database"].sessionmaker) > 0
    assert db.scalar(select(func.count()).select_from(AnalyticsDirty)) == 0
    result = app.test_cli_runner().invoke(args=["analytics", "rebuild"])
    assert result.exit_code == 0 and "Rebuilt" in result.output
    assert an.figures(db, PERIOD).total.n("cases") == 5
