"""The TikTok Shop webhook: signatures, storing raw events once, answering fast, and processing afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.factories import TEST_POLICY, make_case, publish_policy, shop_with_market
from support.marketplace import (
    APP_KEY,
    APP_SECRET,
    OLD_SECRET,
    envelope,
    marketplace_app,
    post_signed,
    return_data,
)

from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, CaseType, OrderStatus
from portal.domain.lifecycle import Actor
from portal.domain.marketplace.processing import process_one, process_pending
from portal.domain.marketplace.signing import verify_webhook, webhook_signature
from portal.domain.models import Case, MarketplaceCommand, MarketplaceEntity, MarketplaceEvent, Order
from portal.domain.types import utcnow


@pytest.fixture
def mp_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = marketplace_app(database_url, tmp_path)
    yield application
    application.extensions["database"].engine.dispose()


@pytest.fixture
def session(mp_app: Flask) -> Iterator[Session]:
    s = mp_app.extensions["database"].session()
    yield s
    s.close()


def _events(session: Session) -> list[MarketplaceEvent]:
    session.expire_all()
    return list(session.scalars(select(MarketplaceEvent).order_by(MarketplaceEvent.id)))


def _process(mp_app: Flask) -> None:
    with mp_app.app_context():
        process_pending(mp_app.extensions["database"].sessionmaker, None)


# ---- the signature -------------------------------------------------------------------------------------


def test_signature_test_vector_from_the_platform_docs() -> None:
    """The documented scheme with the documented test key: app key `abcdef`, secret `123`.

    The public documentation we could reach describes the scheme (lowercase hex HMAC-SHA256 keyed with
    the app secret over the app key followed by the raw body) but not an expected digest for a body, so
    the expected value is computed here independently with hmac.
    """
    body = (
        b'{"type":1,"tts_notification_id":"7327112393057371910","shop_id":"7494049642642441621",'
        b'"timestamp":1644412885,"data":{"order_id":"576462151000000001","order_status":"UNPAID",'
        b'"update_time":1644412885}}'
    )
    expected = hmac.new(b"123", b"abcdef" + body, hashlib.sha256).hexdigest()
    assert webhook_signature("abcdef", "123", body) == expected
    assert expected == expected.lower() and len(expected) == 64
    assert verify_webhook("abcdef", ["123"], body, expected)
    assert not verify_webhook("abcdef", ["123"], body, expected.upper())
    assert not verify_webhook("abcdef", ["124"], body, expected)
    assert not verify_webhook("abcdeg", ["123"], body, expected)
    assert not verify_webhook("abcdef", ["123"], body + b" ", expected)


def _body(shop_id: str = "shop-x", notification_id: str | None = None, kind: int = 1) -> bytes:
    data = {"order_id": "576000000000001", "order_status": "IN_TRANSIT", "update_time": 1700000000}
    return envelope(kind, data, shop_id, notification_id)


def test_signed_notification_is_stored_raw_and_acknowledged(mp_app: Flask, session: Session) -> None:
    body = _body(notification_id="n-1")
    response = post_signed(mp_app.test_client(), body)
    assert response.status_code == 200
    assert response.get_json()["code"] == 0
    [event] = _events(session)
    assert event.notification_id == "n-1" and event.type == 1 and event.state == "pending"
    assert event.body.encode() == body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "0" * 64},
        {"Authorization": "Bearer " + "0" * 64},
        {"Authorization": "wrong-secret"},
    ],
    ids=["missing", "empty", "zeros", "bearer", "garbage"],
)
def test_bad_or_missing_signature_gets_401_and_changes_nothing(
    mp_app: Flask, session: Session, headers: dict[str, str]
) -> None:
    response = mp_app.test_client().post("/webhooks/tiktok-shop", data=_body(), headers=headers)
    assert response.status_code == 401
    assert _events(session) == []


def test_signature_with_another_secret_or_key_is_refused(mp_app: Flask, session: Session) -> None:
    client = mp_app.test_client()
    assert post_signed(client, _body(), secret="not-our-secret").status_code == 401
    assert post_signed(client, _body(), app_key="another-app").status_code == 401
    body = _body()
    tampered = body.replace(b"IN_TRANSIT", b"DELIVERED")
    response = client.post(
        "/webhooks/tiktok-shop",
        data=tampered,
        headers={"Authorization": webhook_signature(APP_KEY, APP_SECRET, body)},
    )
    assert response.status_code == 401
    assert _events(session) == []


def test_two_secrets_are_accepted_during_a_rotation(database_url: str, tmp_path: Path) -> None:
    rotating = marketplace_app(database_url, tmp_path, TIKTOK_SHOP_APP_SECRET_PREVIOUS=OLD_SECRET)
    client = rotating.test_client()
    assert post_signed(client, _body(notification_id="new"), secret=APP_SECRET).status_code == 200
    assert post_signed(client, _body(notification_id="old"), secret=OLD_SECRET).status_code == 200
    assert post_signed(client, _body(notification_id="x"), secret="retired-long-ago").status_code == 401
    rotating.extensions["database"].engine.dispose()


def test_without_a_configured_secret_every_notification_is_refused(database_url: str, tmp_path: Path) -> None:
    bare = marketplace_app(database_url, tmp_path, TIKTOK_SHOP_APP_SECRET="")
    assert post_signed(bare.test_client(), _body(), secret="").status_code == 401
    bare.extensions["database"].engine.dispose()


def test_signed_body_that_is_not_a_notification_gets_400(mp_app: Flask, session: Session) -> None:
    client = mp_app.test_client()
    for body in (
        b"not json",
        b"[1,2]",
        json.dumps({"type": 1, "data": {}}).encode(),
        json.dumps({"type": "1", "tts_notification_id": "a", "data": {}}).encode(),
    ):
        response = post_signed(client, body)
        assert response.status_code == 400, body
        assert response.get_json()["message"]
    assert _events(session) == []


def test_repeated_notification_id_is_acknowledged_and_stored_once(mp_app: Flask, session: Session) -> None:
    client = mp_app.test_client()
    body = _body(notification_id="dup-1")
    first, second = post_signed(client, body), post_signed(client, body)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["data"]["duplicate"] is False
    assert second.get_json()["data"]["duplicate"] is True
    assert len(_events(session)) == 1


def test_unknown_type_is_acknowledged_kept_and_not_acted_on(mp_app: Flask, session: Session) -> None:
    body = envelope(99, {"something": "new"}, "shop-x", "future-1")
    assert post_signed(mp_app.test_client(), body).status_code == 200
    _process(mp_app)
    [event] = _events(session)
    assert event.state == "ignored" and event.body.encode() == body


# ---- processing afterwards -------------------------------------------------------------------------------


def _order(session: Session) -> tuple[str, Order]:
    shop, market = shop_with_market(session)
    publish_policy(session, TEST_POLICY)
    order = make_case(session, market).order
    session.commit()
    return shop.external_shop_id, order


def test_return_request_opens_a_case_through_the_policy_and_queues_its_decision(
    mp_app: Flask, session: Session
) -> None:
    shop_id, order = _order(session)
    data = return_data(order.external_order_id, "R-1", "RETURN_OR_REFUND_REQUEST_PENDING", 1700000000)
    assert post_signed(mp_app.test_client(), envelope(12, data, shop_id)).status_code == 200
    _process(mp_app)

    session.expire_all()
    entity = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == "R-1"))
    assert entity is not None and entity.case is not None
    case = entity.case
    assert case.type == CaseType.RETURN_AND_REFUND and case.order_id == order.id
    # The test policy approves return-and-refund requests; the marketplace is to be told.
    assert case.status == CaseStatus.RETURN_APPROVED
    [command] = session.scalars(select(MarketplaceCommand)).all()
    assert (command.kind, command.return_id, command.state) == ("approve_return", "R-1", "pending")
    assert command.payload == {"decision": "APPROVE_RETURN"}
    assert _events(session)[0].state == "done" and _events(session)[0].case_id == case.id


def test_later_statuses_move_the_case_and_older_ones_never_overwrite(mp_app: Flask, session: Session) -> None:
    shop_id, order = _order(session)
    client = mp_app.test_client()
    oid = order.external_order_id
    post_signed(
        client, envelope(12, return_data(oid, "R-2", "RETURN_OR_REFUND_REQUEST_PENDING", 100), shop_id)
    )
    shipped = return_data(
        oid, "R-2", "BUYER_SHIPPED_ITEM", 300, return_tracking_number="1ZRET", return_provider_name="UPS"
    )
    post_signed(client, envelope(12, shipped, shop_id))
    # Arrives late, after the newer one: kept, but not applied.
    post_signed(client, envelope(12, return_data(oid, "R-2", "AWAITING_BUYER_SHIP", 200), shop_id))
    _process(mp_app)

    states = [e.state for e in _events(session)]
    assert states == ["done", "done", "stale"]
    case = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == "R-2")).case
    assert case.status == CaseStatus.RETURN_IN_TRANSIT
    assert case.returns[-1].shipment.tracking_number == "1ZRET"
    assert "return_shipped" in [d.event for d in case.decisions]
    entity = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == "R-2"))
    assert (entity.status, entity.update_time) == ("BUYER_SHIPPED_ITEM", 300)
    # Only the policy's own approval goes to the marketplace, not what the marketplace told us.
    assert [c.kind for c in session.scalars(select(MarketplaceCommand))] == ["approve_return"]


def test_out_of_order_first_sight_still_opens_and_follows(mp_app: Flask, session: Session) -> None:
    shop_id, order = _order(session)
    client = mp_app.test_client()
    oid = order.external_order_id
    post_signed(client, envelope(12, return_data(oid, "R-3", "AWAITING_BUYER_SHIP", 200), shop_id))
    post_signed(
        client, envelope(12, return_data(oid, "R-3", "RETURN_OR_REFUND_REQUEST_PENDING", 100), shop_id)
    )
    _process(mp_app)
    assert [e.state for e in _events(session)] == ["done", "stale"]
    case = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == "R-3")).case
    assert case.status == CaseStatus.RETURN_APPROVED
    # Approved on the marketplace already: nothing to send back.
    assert session.scalar(select(func.count()).select_from(MarketplaceCommand)) == 0


def test_marketplace_rejection_and_refund_are_mirrored_without_echo(mp_app: Flask, session: Session) -> None:
    shop_id, order = _order(session)
    client = mp_app.test_client()
    oid = order.external_order_id
    post_signed(
        client,
        envelope(
            12,
            return_data(oid, "R-4", "RETURN_OR_REFUND_REQUEST_PENDING", 100, return_type="REFUND"),
            shop_id,
        ),
    )
    post_signed(
        client,
        envelope(
            12, return_data(oid, "R-4", "REFUND_OR_RETURN_REQUEST_REJECT", 200, return_type="REFUND"), shop_id
        ),
    )
    _process(mp_app)
    case = session.scalar(select(MarketplaceEntity).where(MarketplaceEntity.external_id == "R-4")).case
    assert case.type == CaseType.REFUND_ONLY and case.status == CaseStatus.REJECTED
    assert session.scalar(select(func.count()).select_from(MarketplaceCommand)) == 0


def test_agent_decisions_on_marketplace_cases_are_queued_once_and_others_are_not(
    mp_app: Flask, session: Session
) -> None:
    shop_id, order = _order(session)
    client = mp_app.test_client()
    oid = order.external_order_id
    for rid in ("R-5", "R-6"):
        data = return_data(oid, rid, "RETURN_OR_REFUND_REQUEST_PENDING", 100, return_type="REFUND")
        post_signed(client, envelope(12, data, shop_id))
    _process(mp_app)
    by_return = {e.external_id: e.case for e in session.scalars(select(MarketplaceEntity))}
    agent = Actor.system("agent")
    assert by_return["R-5"].status == CaseStatus.IN_REVIEW  # the test policy leaves refund-only to people
    ops.full_refund(session, by_return["R-5"], agent, "refund")
    ops.reject(session, by_return["R-6"], agent, "Used item")
    local = session.scalar(
        select(Case).where(
            Case.order_id == order.id, Case.id.not_in([by_return["R-5"].id, by_return["R-6"].id])
        )
    )
    ops.start_review(session, local, agent)
    ops.reject(session, local, agent, "Not ours to send")
    session.commit()
    commands = {c.return_id: c for c in session.scalars(select(MarketplaceCommand))}
    assert set(commands) == {"R-5", "R-6"}
    assert commands["R-5"].payload == {"decision": "APPROVE_REFUND"}
    assert by_return["R-5"].refunds[-1].idempotency_key == commands["R-5"].idempotency_key
    assert commands["R-6"].payload == {"decision": "REJECT_REFUND", "reason": "Used item"}


def test_an_event_is_processed_once_even_if_two_workers_try(mp_app: Flask, session: Session) -> None:
    shop_id, order = _order(session)
    data = return_data(order.external_order_id, "R-7", "RETURN_OR_REFUND_REQUEST_PENDING", 100)
    post_signed(mp_app.test_client(), envelope(12, data, shop_id))
    [event] = _events(session)
    factory = mp_app.extensions["database"].sessionmaker
    with mp_app.app_context():
        with factory() as first:
            assert process_one(first, event.id, None, utcnow()) == "done"
            first.commit()
        with factory() as second:
            assert process_one(second, event.id, None, utcnow()) is None
    assert session.scalar(select(func.count()).select_from(Case).where(Case.order_id == order.id)) == 2


def test_unknown_order_without_api_fails_clearly_and_can_be_retried(mp_app: Flask, session: Session) -> None:
    shop, _market = shop_with_market(session)
    session.commit()
    data = return_data("999000111", "R-8", "RETURN_OR_REFUND_REQUEST_PENDING", 100)
    post_signed(mp_app.test_client(), envelope(12, data, shop.external_shop_id))
    _process(mp_app)
    [event] = _events(session)
    assert event.state == "failed" and "999000111" in (event.last_error or "")


def test_order_status_and_cancellation_update_the_order(mp_app: Flask, session: Session) -> None:
    shop_id, order = _order(session)
    client = mp_app.test_client()
    oid = order.external_order_id
    post_signed(
        client, envelope(1, {"order_id": oid, "order_status": "IN_TRANSIT", "update_time": 100}, shop_id)
    )
    _process(mp_app)
    session.expire_all()
    assert session.get(Order, order.id).status == OrderStatus.SHIPPED
    cancel = {
        "order_id": oid,
        "cancel_id": "C-1",
        "cancel_status": "CANCELLATION_REQUEST_SUCCESS",
        "cancellations_role": "BUYER",
        "update_time": 200,
    }
    post_signed(client, envelope(11, cancel, shop_id))
    post_signed(
        client, envelope(1, {"order_id": oid, "order_status": "DELIVERED", "update_time": 50}, shop_id)
    )
    _process(mp_app)
    session.expire_all()
    assert session.get(Order, order.id).status == OrderStatus.CANCELLED
    assert [e.state for e in _events(session)] == ["done", "done", "stale"]
