"""Replaying recent cases through a draft: the bulk facts, the counts and money, and the job's pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

import rules
from portal.domain.backtest import stored_facts
from portal.domain.enums import (
    CaseReason,
    Channel,
    Disposition,
    EvidenceKind,
    EvidenceSource,
    InspectionResult,
    PolicyStatus,
    ReturnStatus,
    Role,
    ShipmentKind,
    ShippingPayer,
    TrackingStatus,
)
from portal.domain.events import handle_event
from portal.domain.facts import case_facts
from portal.domain.models import (
    Attachment,
    Campaign,
    Case,
    CaseItem,
    EvidenceItem,
    ExchangeRate,
    Inspection,
    Job,
    Market,
    OrderItem,
    Policy,
    PolicyVersion,
    ReturnShipment,
    Shipment,
)
from portal.domain.policy_engine import usd_rates
from portal.domain.simulation import bulk_facts, payout, scope, simulate
from portal.domain.types import utcnow
from rules import runtime
from rules.vocabulary import FIELDS

OLD = "if value < 10 then refund_without_return\nelse approve_return\n"
NEW = "if value < 15 then refund_without_return\nelse approve_return\n"


def _varied_cases(db: Session, market: Market) -> list[Case]:
    """Cases that exercise every branch of the facts: campaigns, several items, returns, evidence."""
    now = utcnow()
    db.add(ExchangeRate(currency="USD", usd_per_unit=Decimal("1")))
    plain = make_case(db, market, value="12.00", opened_at=now - timedelta(days=3))
    rich = make_case(db, market, value="80.00", reason=CaseReason.DAMAGED, opened_at=now - timedelta(days=5))
    rich.order.channel = Channel.AD
    rich.order.campaign = Campaign(
        shop_id=market.shop_id, external_id="cmp-9", name="Spring", channel=Channel.AD
    )
    rich.buyer.orders_count = 1
    rich.buyer.first_order_at = rich.order.placed_at
    second = OrderItem(
        order=rich.order,
        sku="SKU-RING",
        title="Ring",
        category="jewelry",
        quantity=2,
        unit_price=Decimal("60.00"),
        currency="USD",
        customized=True,
    )
    rich.items.append(CaseItem(order_item=second, quantity=2))
    db.add(
        Shipment(
            order=rich.order,
            kind=ShipmentKind.OUTBOUND,
            carrier="UPS",
            tracking_number="1ZLATER",
            status=TrackingStatus.EXCEPTION,
        )
    )
    address = market.return_addresses[0]
    db.add_all(
        [
            ReturnShipment(
                case=rich,
                rma_number="RMA-1",
                status=ReturnStatus.APPROVED,
                return_address_id=address.id,
                shipping_payer=ShippingPayer.BUYER,
            ),
            ReturnShipment(
                case=rich,
                rma_number="RMA-2",
                status=ReturnStatus.IN_TRANSIT,
                return_address_id=address.id,
                shipping_payer=ShippingPayer.SELLER,
                shipped_at=now - timedelta(days=9),
            ),
            Inspection(
                case=rich, result=InspectionResult.USED, disposition=Disposition.REFURBISH, inspector="W"
            ),
        ]
    )
    db.add(Attachment(sha256="a" * 64, size=3, content_type="image/png"))
    for kind, source in (
        (EvidenceKind.PHOTO, EvidenceSource.BUYER),
        (EvidenceKind.PHOTO, EvidenceSource.BUYER),
        (EvidenceKind.VIDEO, EvidenceSource.BUYER),
        (EvidenceKind.PHOTO, EvidenceSource.SELLER),
    ):
        db.add(EvidenceItem(case=rich, kind=kind, source=source, sha256="a" * 64, filename="x.png"))
    undelivered = make_case(db, market, value="7.50", opened_at=now - timedelta(days=1))
    undelivered.order.delivered_at = now + timedelta(days=2)
    no_items = make_case(db, market, value="30.00", opened_at=now - timedelta(hours=30))
    db.flush()
    for item in list(no_items.items):
        db.delete(item)
    db.commit()
    return [plain, rich, undelivered, no_items]


def test_bulk_facts_match_case_facts(db: Session) -> None:
    _shop, market = shop_with_market(db)
    cases = _varied_cases(db, market)
    db.expire_all()
    rates = usd_rates(db)
    bulk = {row.number: facts for row, facts in bulk_facts(db, [Case.market_id == market.id])}
    assert len(bulk) == len(cases)
    for case in db.scalars(select(Case).where(Case.market_id == market.id)):
        assert bulk[case.number] == case_facts(case, case.opened_at, rates), case.number
    rich = bulk[cases[1].number]
    # The checks above would pass on two empty dicts; make sure the rich case really was rich.
    assert rich["campaign"] == "cmp-9" and rich["category"] == "jewelry" and rich["item"]["customized"]
    assert rich["return"] == {"status": "in_transit", "days_in_transit": 4}
    assert rich["evidence"] == {"photos": 2, "videos": 1, "from": "agent"}  # the newest is the seller's
    assert rich["tracking"] == {"status": "exception"}


def test_bulk_facts_at_a_given_time_match_case_facts(db: Session) -> None:
    _shop, market = shop_with_market(db)
    _varied_cases(db, market)
    db.expire_all()
    now = utcnow()
    bulk = {row.number: facts for row, facts in bulk_facts(db, [Case.market_id == market.id], now=now)}
    for case in db.scalars(select(Case).where(Case.market_id == market.id)):
        assert bulk[case.number] == case_facts(case, now, usd_rates(db))


@pytest.mark.parametrize(
    ("actions", "value", "expected"),
    [
        ("refund_without_return", "12.00", "12.00"),
        ("pre_refund", "40.00", "40.00"),
        ("partial_refund 25%", "40.00", "10.00"),
        ("partial_refund 50", "40.00", "40.00"),
        ("partial_refund 5", "40.00", "5.00"),
        ("coupon 5", "40.00", "5.00"),
        ("partial_refund 10%, coupon 3", "40.00", "7.00"),
        ("approve_return", "40.00", "0.00"),
        ('reject "no"', "40.00", "0.00"),
    ],
)
def test_payout_counts_refunds_and_coupons(actions: str, value: str, expected: str) -> None:
    decision = rules.compile_policy(f"if true then {actions}").decide({})
    assert payout(decision.actions, Decimal(value)) == Decimal(expected)


def _policy(db: Session, market: Market | None, published: str, draft: str) -> tuple[Policy, PolicyVersion]:
    policy = Policy(name="US policy" if market else "Default", market_id=market.id if market else None)
    db.add(policy)
    db.flush()
    db.add(
        PolicyVersion(
            policy_id=policy.id,
            number=1,
            status=PolicyStatus.PUBLISHED,
            text=published,
            published_at=utcnow(),
        )
    )
    version = PolicyVersion(policy_id=policy.id, number=2, status=PolicyStatus.DRAFT, text=draft)
    db.add(version)
    db.commit()
    return policy, version


def test_simulation_counts_changes_and_money(db: Session) -> None:
    _shop, market = shop_with_market(db)
    now = utcnow()
    for i, value in enumerate(["5.00", "9.00", "11.00", "12.50", "14.99", "15.00", "20.00"]):
        make_case(db, market, value=value, opened_at=now - timedelta(days=i + 1))
    make_case(db, market, value="11.00", opened_at=now - timedelta(days=45))  # outside the period
    policy, draft = _policy(db, market, OLD, NEW)
    result = simulate(db, policy, draft, 30, until=now)
    assert (result["total"], result["changed"]) == (7, 3)
    assert result["money_before"] == {"USD": "14.00"} and result["money_after"] == {"USD": "52.49"}
    assert result["money_delta"] == {"USD": "38.49"}
    assert result["transitions"] == [
        {"before": "approve_return", "after": "refund_without_return", "count": 3}
    ]
    assert [c["value"] for c in result["changed_cases"]] == ["14.99", "12.50", "11.00"]
    assert "line 1" in result["changed_cases"][0]["after_explanation"]
    market_row = result["breakdown"]["market"][0]
    assert market_row == {"key": "US", "cases": 7, "changed": 3, "delta": {"USD": "38.49"}}
    assert result["breakdown"]["reason"][0]["key"] == "size"


def test_simulation_explains_in_chinese_and_keeps_the_list_bounded(db: Session, monkeypatch) -> None:
    import portal.domain.simulation as simulation

    monkeypatch.setattr(simulation, "CHANGED_CASES_KEPT", 2)
    _shop, market = shop_with_market(db)
    for value in ["11.00", "12.00", "13.00"]:
        make_case(db, market, value=value, opened_at=utcnow() - timedelta(days=2))
    policy, draft = _policy(db, market, OLD, NEW)
    result = simulate(db, policy, draft, 7, lang="zh")
    assert result["changed"] == 3 and len(result["changed_cases"]) == 2 and result["changed_cases_truncated"]
    assert "第 1 行" in result["changed_cases"][0]["after_explanation"]


def test_default_policy_replays_only_markets_without_their_own(db: Session) -> None:
    _shop, us = shop_with_market(db, "US")
    _shop2, uk = shop_with_market(db, "UK", "GBP")
    default, _draft = _policy(db, None, OLD, NEW)
    own, _ = _policy(db, us, OLD, OLD)
    markets, current = scope(db, default)
    assert us.id not in markets and uk.id in markets and current.policy_id == default.id
    assert scope(db, own)[1].policy_id == own.id


def _ops(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.OPS_MANAGER)


def test_save_and_simulate_runs_the_job_and_shows_results(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    _shop, market = shop_with_market(db)
    for value in ["8.00", "12.00", "18.00"]:
        make_case(db, market, value=value, opened_at=utcnow() - timedelta(days=2))
    policy, draft = _policy(db, market, OLD, OLD)
    client = _ops(login)
    edit_url = f"/policies/{policy.id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    response = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token(client, edit_url),
            "token": token,
            "text": NEW,
            "days": "30",
            "action": "simulate",
        },
    )
    assert response.status_code == 302 and "/simulations/" in response.location
    job = db.scalars(select(Job).order_by(Job.id.desc())).first()
    assert job.status == "done" and job.params["days"] == 30
    html = client.get(response.location).get_data(as_text=True)
    assert "1 decision changes" in html and "out of 3 decisions on 3 cases" in html
    assert "$12.00 more would go out" in html
    assert 'id="simulation-cases"' in html and "every 500ms" not in html
    db.expire_all()
    assert db.get(PolicyVersion, draft.id).text == NEW  # the draft was saved first


def test_progress_fragment_polls_until_done(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db)
    policy, _draft = _policy(db, market, OLD, NEW)
    job = Job(
        kind="policy_simulation",
        status="running",
        params={"policy_id": policy.id},
        progress_done=2000,
        progress_total=100000,
        heartbeat_at=utcnow(),
    )
    db.add(job)
    db.commit()
    client = _ops(login)
    response = client.get(f"/policies/{policy.id}/simulations/{job.id}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="simulation"') and 'hx-trigger="every 500ms"' in html
    assert "2,000 of 100,000 decisions" in html
    other, _ = _policy(db, None, OLD, NEW)
    assert client.get(f"/policies/{other.id}/simulations/{job.id}").status_code == 404


def test_simulation_refused_while_the_draft_has_errors(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    _shop, market = shop_with_market(db)
    policy, draft = _policy(db, market, OLD, OLD)
    client = _ops(login)
    edit_url = f"/policies/{policy.id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    html = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token(client, edit_url),
            "token": token,
            "text": "if valeu < 15 then refund",
            "action": "simulate",
        },
    ).get_data(as_text=True)
    assert "Fix the errors before simulating it." in html
    assert db.scalar(select(Job).where(Job.kind == "policy_simulation")) is None


# ---- facts kept with decisions, and replaying every event ---------------------------------------------

EVENTFUL = """if value < 10 then refund_without_return
else approve_return
on return_received:
  if value < 100 then refund
  else manual_review
"""


def test_stored_facts_read_back_as_the_same_facts(db: Session) -> None:
    _shop, market = shop_with_market(db)
    cases = _varied_cases(db, market)
    policy = rules.compile_policy(
        'if item.customized and evidence.photos >= 2 and value_usd > 79.99 then hold\n'
        'if return.days_in_transit == 4 and campaign == "cmp-9" then escalate\nelse manual_review'
    )
    for case in cases:
        facts = case_facts(db.get(Case, case.id), utcnow(), usd_rates(db))
        stored = stored_facts.decode(stored_facts.encode(facts))
        for name in FIELDS:
            assert runtime.raw(stored, name) == runtime.raw(facts, name), name
        assert policy.decide(stored) == policy.decide(facts)
        assert policy.decide(stored).explanation == policy.decide(facts).explanation
    odd = {"value": "ten", "sku": 'Ring "Ø"', "buyer": {"orders": 2**70}, "value_usd": Decimal("12.30")}
    back = stored_facts.decode(stored_facts.encode(odd))
    assert back["value"] == "ten" and back["sku"] == 'Ring "Ø"' and back["buyer.orders"] == 2**70
    assert back["value_usd"] == Decimal("12.30") and str(back["value_usd"]) == "12.30"


def test_every_decision_keeps_the_facts_it_was_made_on(db: Session) -> None:
    _shop, market = shop_with_market(db)
    _policy(db, market, EVENTFUL, EVENTFUL)
    case = make_case(db, market, value="40.00")
    row = handle_event(db, case, "return_received")
    assert row is not None and row.actions == [{"name": "refund", "args": []}]
    kept = stored_facts.decode(row.facts)
    assert kept["value"] == Decimal("40.00") and kept["reason"] == "size" and kept["market"] == "US"


def test_simulation_replays_every_event_on_its_stored_facts(db: Session) -> None:
    _shop, market = shop_with_market(db)
    policy, draft = _policy(
        db, market, EVENTFUL, EVENTFUL.replace("value < 100 then refund", "value < 50 then refund")
    )
    now = utcnow()
    kept = make_case(db, market, value="60.00", opened_at=now - timedelta(days=2))
    for event in ("case_opened", "return_received"):
        handle_event(db, kept, event, now - timedelta(days=1))
    # Decided before facts were kept: replayed at its opening, with facts rebuilt from the tables.
    make_case(db, market, value="8.00", opened_at=now - timedelta(days=3))
    db.commit()
    # The stored facts, not today's case, are what the replay decides on.
    kept.value = Decimal("20.00")
    db.commit()

    result = simulate(db, policy, draft, 30, until=now)
    assert (result["total"], result["cases"], result["changed"]) == (3, 2, 1)
    by_event = {row["key"]: row for row in result["breakdown"]["event"]}
    assert by_event["case_opened"]["cases"] == 2 and by_event["case_opened"]["changed"] == 0
    assert by_event["return_received"] == {"key": "return_received", "cases": 1, "changed": 1,
                                           "delta": {"USD": "-60.00"}}
    assert result["money_delta"] == {"USD": "-60.00"}
    assert result["transitions"] == [{"before": "refund", "after": "manual_review", "count": 1}]
    [changed] = result["changed_cases"]
    assert changed["event"] == "return_received" and "value = 60" in changed["before_explanation"]


def test_simulation_page_shows_the_events_replayed(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    _shop, market = shop_with_market(db)
    policy, _draft = _policy(db, market, EVENTFUL, EVENTFUL)
    case = make_case(db, market, value="60.00", opened_at=utcnow() - timedelta(days=2))
    handle_event(db, case, "return_received")
    db.commit()
    client = _ops(login)
    edit_url = f"/policies/{policy.id}/edit"
    page = client.get(edit_url).get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    response = client.post(
        edit_url,
        data={
            "csrf_token": csrf_token(client, edit_url),
            "token": token,
            "text": EVENTFUL.replace("value < 100 then refund", "value < 50 then refund"),
            "days": "30",
            "action": "simulate",
        },
    )
    html = client.get(response.location).get_data(as_text=True)
    assert "out of 2 decisions on 1 cases opened in the last 30 days" in html
    assert "By event" in html and "<code>return_received</code>" in html
    assert "$60.00 would be saved" in html


def test_when_every_case_kept_its_facts_the_tables_are_not_searched_again(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search for cases decided before facts were kept is skipped when a count shows there are none."""
    from portal.domain import simulation as simulation_module

    _shop, market = shop_with_market(db)
    policy, draft = _policy(
        db, market, EVENTFUL, EVENTFUL.replace("value < 100 then refund", "value < 50 then refund")
    )
    now = utcnow()
    for value in ("60.00", "30.00"):
        case = make_case(db, market, value=value, opened_at=now - timedelta(days=2))
        handle_event(db, case, "case_opened", now - timedelta(days=1))
    db.commit()

    def searched(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("every case kept its facts: nothing to rebuild")

    monkeypatch.setattr(simulation_module, "bulk_facts", searched)
    result = simulate(db, policy, draft, 30, until=now)
    assert (result["total"], result["cases"]) == (2, 2)
