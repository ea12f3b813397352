"""The API client against the local simulator: signing, paging, rate limits, outbox, reconciliation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.factories import TEST_POLICY, publish_policy, shop_with_market
from support.marketplace import ACCESS_TOKEN, APP_KEY, APP_SECRET, marketplace_app

from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, CaseType, OrderStatus
from portal.domain.lifecycle import Actor
from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError
from portal.domain.marketplace.commands import send_pending
from portal.domain.marketplace.processing import process_pending
from portal.domain.marketplace.reconcile import reconcile
from portal.domain.models import (
    MarketplaceCommand,
    MarketplaceEntity,
    MarketplaceEvent,
    MarketplaceSyncCursor,
    Order,
)
from portal.domain.types import utcnow
from portal.simulator.server import Notifier, SimulatorServer
from portal.simulator.state import MarketplaceState

SHOP = "7495000000000000001"
ITEM = {"seller_sku": "TEE-BLK-M", "product_name": "Cotton tee", "sale_price": "19.90", "quantity": 1}


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(MarketplaceState(shop_id=SHOP), APP_KEY, APP_SECRET, ACCESS_TOKEN).start()
    yield server
    server.stop()


def _client(server: SimulatorServer, **overrides: Any) -> MarketplaceClient:
    settings: dict[str, Any] = {
        "base_url": server.url,
        "app_key": APP_KEY,
        "app_secret": APP_SECRET,
        "access_token": ACCESS_TOKEN,
        "backoff_seconds": 0.01,
        **overrides,
    }
    return MarketplaceClient(**settings)


# ---- the client and the simulator, without a database ------------------------------------------------


def test_requests_are_signed_and_a_wrong_signature_is_refused(simulator: SimulatorServer) -> None:
    simulator.state.add_order(region="US", currency="USD", items=[ITEM], user_id="u1", order_id="O-1")
    assert _client(simulator).get_order("O-1")["id"] == "O-1"
    with pytest.raises(MarketplaceError) as refused:
        _client(simulator, app_secret="wrong").get_order("O-1")
    assert refused.value.code == 106001 and not refused.value.retryable
    with pytest.raises(MarketplaceError):
        _client(simulator, clock=lambda: time.time() - 3600).get_order("O-1")


def test_search_pages_through_everything(simulator: SimulatorServer) -> None:
    state = simulator.state
    for n in range(45):
        state.add_order(region="US", currency="USD", items=[ITEM], user_id=f"u{n}", order_id=f"O-{n}")
        state.request_return(f"O-{n}")
    seen = list(_client(simulator).search_returns(0, 2**40, page_size=10))
    assert len(seen) == 45 and len({r["return_id"] for r in seen}) == 45


def test_rate_limits_are_waited_out(simulator: SimulatorServer) -> None:
    simulator.state.add_order(region="US", currency="USD", items=[ITEM], user_id="u1", order_id="O-1")
    simulator.state.faults.requests_per_second = 4
    waits: list[float] = []
    client = _client(simulator, sleep=lambda s: (waits.append(s), time.sleep(0.3)))
    for _ in range(6):
        assert client.get_order("O-1") is not None
    assert waits, "the simulator should have rate-limited some calls"


def test_server_errors_are_retried_then_reported(simulator: SimulatorServer) -> None:
    simulator.state.add_order(region="US", currency="USD", items=[ITEM], user_id="u1", order_id="O-1")
    simulator.state.faults.fail_next = 2
    assert _client(simulator).get_order("O-1") is not None
    simulator.state.faults.fail_next = 10
    with pytest.raises(MarketplaceError) as failed:
        _client(simulator, max_retries=1).get_order("O-1")
    assert failed.value.retryable and failed.value.status == 503


# ---- end to end with the portal ---------------------------------------------------------------------------


@pytest.fixture
def portal(database_url: str, tmp_path: Path, simulator: SimulatorServer) -> Iterator[Flask]:
    app = marketplace_app(database_url, tmp_path, TIKTOK_SHOP_API_URL=simulator.url)
    with app.extensions["database"].session() as session:
        shop, _market = shop_with_market(session, code="US", currency="USD")
        shop.external_shop_id = SHOP
        publish_policy(session, TEST_POLICY)
        session.commit()
    yield app
    app.extensions["database"].engine.dispose()


def _notifier(app: Flask, simulator: SimulatorServer) -> Notifier:
    web = app.test_client()

    def deliver(body: bytes, signature: str) -> int:
        return web.post("/webhooks/tiktok-shop", data=body, headers={"Authorization": signature}).status_code

    return Notifier(simulator.state, APP_KEY, APP_SECRET, deliver)


def _run(app: Flask, client: MarketplaceClient) -> None:
    with app.app_context():
        process_pending(app.extensions["database"].sessionmaker, client)


def _case_for(session: Session, return_id: str):  # type: ignore[no-untyped-def]
    session.expire_all()
    entity = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == return_id))
    return entity.case if entity else None


def test_unknown_order_is_fetched_and_decision_is_sent_exactly_once(
    portal: Flask, simulator: SimulatorServer
) -> None:
    state, notifier, client = simulator.state, _notifier(portal, simulator), _client(simulator)
    state.add_order(
        region="US", currency="USD", items=[ITEM], user_id="u9", order_id="O-9", buyer_name="Ana P."
    )
    ret = state.request_return("O-9", reason="ecom_order_delivered_refund_and_return_reason_wrong_size")
    assert notifier.flush() == 1
    _run(portal, client)

    factory = portal.extensions["database"].sessionmaker
    with factory() as session:
        case = _case_for(session, ret["return_id"])
        assert (
            case is not None and case.order.external_order_id == "O-9" and case.buyer.display_name == "Ana P."
        )
        assert case.reason.value == "size" and str(case.value) == "19.90"
        assert case.status == CaseStatus.RETURN_APPROVED  # the policy approved it

    # The answer to the approval is lost after the marketplace acted: the retry with the same key is harmless.
    state.faults.lose_answer_next = 1
    result = send_pending(factory, client)
    assert (result.sent, result.failed) == (1, 0)
    assert [d[1] for d in state.decisions] == ["APPROVE_RETURN"]
    assert state.returns[ret["return_id"]]["return_status"] == "AWAITING_BUYER_SHIP"
    # Sent commands are never claimed again.
    assert send_pending(factory, client).sent == 0
    assert len(state.decisions) == 1

    # The marketplace's own notification of the approval changes nothing more.
    notifier.flush()
    _run(portal, client)
    with factory() as session:
        assert _case_for(session, ret["return_id"]).status == CaseStatus.RETURN_APPROVED
        assert session.scalar(select(MarketplaceCommand)).state == "sent"


def test_failures_back_off_and_a_refusal_is_not_retried(portal: Flask, simulator: SimulatorServer) -> None:
    state, notifier, client = simulator.state, _notifier(portal, simulator), _client(simulator, max_retries=0)
    state.add_order(region="US", currency="USD", items=[ITEM], user_id="u1", order_id="O-1")
    ret = state.request_return("O-1")
    notifier.flush()
    _run(portal, client)
    factory = portal.extensions["database"].sessionmaker

    state.faults.fail_next = 1
    now = utcnow()
    assert send_pending(factory, client, now=now).retried == 1
    with factory() as session:
        command = session.scalar(select(MarketplaceCommand))
        assert command.state == "pending" and command.attempts == 1 and command.next_attempt_at > now
        assert send_pending(factory, client, now=now).sent == 0  # not due yet
    # Meanwhile the buyer withdrew on the marketplace: the approval is refused, and stays failed.
    state.set_return_status(ret["return_id"], "RETURN_OR_REFUND_REQUEST_CANCEL")
    result = send_pending(factory, client, now=command.next_attempt_at)
    assert result.failed == 1
    with factory() as session:
        command = session.scalar(select(MarketplaceCommand))
        assert command.state == "failed" and "does not allow" in command.last_error
    assert state.decisions == []


def test_reconciliation_repairs_what_dropped_webhooks_missed(
    portal: Flask, simulator: SimulatorServer
) -> None:
    state, notifier, client = simulator.state, _notifier(portal, simulator), _client(simulator)
    factory = portal.extensions["database"].sessionmaker
    for n in range(6):
        state.add_order(region="US", currency="USD", items=[ITEM], user_id=f"u{n}", order_id=f"O-{n}")
    delivered = state.request_return("O-0")
    notifier.flush()
    # The portal is unreachable for a while: the platform gives up on these.
    notifier.drop = True
    lost = [
        state.request_return(f"O-{n}", return_type=kind)
        for n, kind in ((1, "RETURN_AND_REFUND"), (2, "REFUND"), (3, "REPLACEMENT"))
    ]
    state.set_return_status(lost[0]["return_id"], "AWAITING_BUYER_SHIP")
    state.set_return_status(
        lost[0]["return_id"],
        "BUYER_SHIPPED_ITEM",
        return_tracking_number="1ZBACK",
        return_provider_name="UPS",
    )
    state.set_return_status(delivered["return_id"], "RETURN_OR_REFUND_REQUEST_CANCEL")
    cancel = state.request_cancellation("O-0")
    state.set_cancellation_status(cancel["cancel_id"], "CANCELLATION_REQUEST_SUCCESS")
    state.buyer_writes("u1", "Where do I send it?")  # a new conversation and its first message
    notifier.flush()
    assert len(notifier.dropped) == 10
    notifier.drop = False
    _run(portal, client)

    result = reconcile(factory, client, SHOP)
    assert result.errors == [] and result.repaired >= 5
    _run(portal, client)

    with factory() as session:
        shipped = _case_for(session, lost[0]["return_id"])
        assert shipped.status == CaseStatus.RETURN_IN_TRANSIT
        assert shipped.returns[-1].shipment.tracking_number == "1ZBACK"
        assert _case_for(session, lost[1]["return_id"]).type == CaseType.REFUND_ONLY
        assert _case_for(session, lost[2]["return_id"]).type == CaseType.EXCHANGE
        assert _case_for(session, delivered["return_id"]).status == CaseStatus.RESOLVED
        repairs = session.scalars(
            select(MarketplaceEvent).where(MarketplaceEvent.source == "reconcile")
        ).all()
        assert repairs and {e.state for e in repairs} <= {"done", "stale"}
        cursors = session.scalars(select(MarketplaceSyncCursor)).all()
        assert {c.resource for c in cursors} == {"returns", "cancellations", "orders", "buyer_messages"}
        assert [m.body for m in shipped.messages if m.direction.value == "inbound"] == ["Where do I send it?"]
        assert all(c.last_error is None and c.synced_until > 0 for c in cursors)
        assert (
            session.scalar(select(Order.status).where(Order.external_order_id == "O-0"))
            == OrderStatus.CANCELLED
        )

    # A second pass finds nothing new to repair.
    assert reconcile(factory, client, SHOP).repaired == 0


def test_agent_refund_reaches_the_marketplace(portal: Flask, simulator: SimulatorServer) -> None:
    state, notifier, client = simulator.state, _notifier(portal, simulator), _client(simulator)
    state.add_order(region="US", currency="USD", items=[ITEM], user_id="u1", order_id="O-1")
    ret = state.request_return("O-1", return_type="REFUND")
    notifier.flush()
    _run(portal, client)
    factory = portal.extensions["database"].sessionmaker
    with factory() as session:
        case = _case_for(session, ret["return_id"])
        ops.full_refund(session, case, Actor.system("agent"), "refund")
        session.commit()
    assert send_pending(factory, client).sent == 1
    assert state.returns[ret["return_id"]]["return_status"] == "RETURN_OR_REFUND_REQUEST_SUCCESS"
    notifier.flush()
    _run(portal, client)
    with factory() as session:
        case = _case_for(session, ret["return_id"])
        assert case.status == CaseStatus.RESOLVED  # the marketplace confirmed the refund
        assert case.refunds[-1].status.value == "completed"
