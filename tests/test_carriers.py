"""Carrier webhooks: signatures, timeline checkpoints, proof of delivery, failed attempts, stale tracking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain.enums import (
    CaseStatus,
    CaseType,
    DeadlineState,
    EvidenceKind,
    MessageStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.models import (
    Case,
    CaseEvent,
    Decision,
    EvidenceItem,
    Message,
    Shipment,
    TrackingEvent,
    TrackingStaleMark,
    UnmatchedTrackingUpdate,
)
from portal.domain.tracking_stale import raise_stale
from portal.timeline import build_timeline

AFTERSHIP_SECRET = "as-secret"
SEVENTEEN_KEY = "17-key"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def webhooks(app: Flask) -> FlaskClient:
    app.config["AFTERSHIP_WEBHOOK_SECRET"] = AFTERSHIP_SECRET
    app.config["SEVENTEENTRACK_API_KEY"] = SEVENTEEN_KEY
    return app.test_client()


def aftership(client: FlaskClient, payload: dict[str, Any], signature: str | None = "auto") -> Any:
    body = json.dumps(payload).encode()
    if signature == "auto":
        # AfterShip: base64 of HMAC-SHA256 over the raw body with the webhook secret.
        signature = base64.b64encode(
            hmac.new(AFTERSHIP_SECRET.encode(), body, hashlib.sha256).digest()
        ).decode()
    headers = {"aftership-hmac-sha256": signature} if signature else {}
    return client.post("/webhooks/aftership", data=body, headers=headers, content_type="application/json")


def seventeen(client: FlaskClient, payload: dict[str, Any], signature: str | None = "auto") -> Any:
    body = json.dumps(payload).encode()
    if signature == "auto":
        # 17TRACK: hex SHA-256 of the raw body, "/", and the API key.
        signature = hashlib.sha256(body + b"/" + SEVENTEEN_KEY.encode()).hexdigest()
    headers = {"sign": signature} if signature else {}
    return client.post("/webhooks/17track", data=body, headers=headers, content_type="application/json")


def aftership_payload(
    number: str, tag: str, checkpoints: list[tuple[str, str, str]], **msg: Any
) -> dict[str, Any]:
    return {
        "event": "tracking_update",
        "event_id": "e1",
        "msg": {
            "tracking_number": number,
            "slug": "ups",
            "tag": tag,
            "checkpoints": [
                {"checkpoint_time": when, "tag": t, "message": text, "location": "Austin, TX"}
                for when, t, text in checkpoints
            ],
            **msg,
        },
        "ts": 1772000000,
    }


def seventeen_payload(number: str, status: str, events: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "event": "TRACKING_UPDATED",
        "data": {
            "number": number,
            "carrier": 100002,
            "track_info": {
                "latest_status": {"status": status, "sub_status": f"{status}_Other"},
                "tracking": {
                    "providers": [
                        {
                            "provider": {"key": 100002, "name": "UPS"},
                            "events": [
                                {
                                    "time_iso": when,
                                    "time_utc": when,
                                    "description": text,
                                    "location": "Austin, TX",
                                    "stage": stage,
                                    "sub_status": f"{stage}_Other",
                                }
                                for when, stage, text in events
                            ],
                        }
                    ]
                },
            },
        },
    }


def in_transit_case(db: Session, number: str = "1ZTRACK0001", type: CaseType = CaseType.NOT_RECEIVED) -> Case:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, type=type, tracking_number=number)
    shipment = case.order.shipments[0]
    shipment.status = TrackingStatus.IN_TRANSIT
    shipment.delivered_at = None
    for event in list(shipment.events):
        db.delete(event)
    db.commit()
    return case


def tracking_rows(db: Session, shipment_id: int) -> list[tuple[str, str]]:
    db.expire_all()
    return [
        (e.status.value, e.description)
        for e in db.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.shipment_id == shipment_id)
            .order_by(TrackingEvent.occurred_at)
        )
    ]


@pytest.mark.parametrize("send", [aftership, seventeen])
@pytest.mark.parametrize("signature", [None, "bm90IHRoZSByaWdodCBvbmU=", "0" * 64])
def test_bad_or_missing_signature_is_refused_and_changes_nothing(
    webhooks: FlaskClient, db: Session, send: Any, signature: str | None
) -> None:
    case = in_transit_case(db)
    payload = (
        aftership_payload("1ZTRACK0001", "Delivered", [("2026-03-09T10:00:00Z", "Delivered", "Delivered")])
        if send is aftership
        else seventeen_payload(
            "1ZTRACK0001", "Delivered", [("2026-03-09T10:00:00Z", "Delivered", "Delivered")]
        )
    )
    response = send(webhooks, payload, signature)
    assert response.status_code == 401
    assert tracking_rows(db, case.order.shipments[0].id) == []
    assert db.scalar(select(func.count()).select_from(UnmatchedTrackingUpdate)) == 0


def test_unset_secret_refuses_everything(app: Flask, db: Session) -> None:
    in_transit_case(db)
    app.config["AFTERSHIP_WEBHOOK_SECRET"] = ""
    body = json.dumps(aftership_payload("1ZTRACK0001", "InTransit", [])).encode()
    empty_key_signature = base64.b64encode(hmac.new(b"", body, hashlib.sha256).digest()).decode()
    response = app.test_client().post(
        "/webhooks/aftership", data=body, headers={"aftership-hmac-sha256": empty_key_signature}
    )
    assert response.status_code == 401


def test_aftership_checkpoints_go_on_the_timeline_once(webhooks: FlaskClient, db: Session) -> None:
    case = in_transit_case(db)
    payload = aftership_payload(
        "1ZTRACK0001",
        "OutForDelivery",
        [
            ("2026-03-08T09:00:00+08:00", "InTransit", "Departed facility"),
            ("2026-03-09T07:30:00Z", "OutForDelivery", "Out for delivery"),
        ],
    )
    first = aftership(webhooks, payload)
    assert first.status_code == 200
    assert first.get_json()["new_checkpoints"] == 2
    # The provider retries the same notification: nothing is added twice.
    assert aftership(webhooks, payload).get_json()["new_checkpoints"] == 0
    shipment_id = case.order.shipments[0].id
    assert tracking_rows(db, shipment_id) == [
        ("in_transit", "Departed facility"),
        ("out_for_delivery", "Out for delivery"),
    ]
    shipment = db.get(Shipment, shipment_id)
    assert shipment is not None and shipment.status == TrackingStatus.OUT_FOR_DELIVERY
    assert shipment.last_event_at == datetime(2026, 3, 9, 7, 30, tzinfo=UTC)
    loaded = db.get(Case, case.id)
    assert loaded is not None
    tracking = [e for e in build_timeline(loaded) if e.kind == "tracking"]
    assert [e.data["description"] for e in tracking] == ["Out for delivery", "Departed facility"]


def test_unknown_tracking_number_is_acknowledged_and_kept(webhooks: FlaskClient, db: Session) -> None:
    response = seventeen(
        webhooks,
        seventeen_payload("LOST123", "InTransit", [("2026-03-09T10:00:00Z", "InTransit", "Accepted")]),
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "unmatched"
    row = db.scalar(select(UnmatchedTrackingUpdate))
    assert row is not None and row.tracking_number == "LOST123" and row.provider == "17track"
    assert row.applied_at is None


def test_other_events_and_garbage(webhooks: FlaskClient) -> None:
    assert seventeen(webhooks, {"event": "TRACKING_STOPPED", "data": {"number": "X"}}).get_json() == {
        "status": "ignored"
    }
    body = b"not json"
    sign = hashlib.sha256(body + b"/" + SEVENTEEN_KEY.encode()).hexdigest()
    assert webhooks.post("/webhooks/17track", data=body, headers={"sign": sign}).status_code == 400


def test_proof_of_delivery_is_kept_as_evidence(webhooks: FlaskClient, db: Session) -> None:
    case = in_transit_case(db)
    payload = aftership_payload(
        "1ZTRACK0001",
        "Delivered",
        [("2026-03-09T15:00:00Z", "Delivered", "Delivered, front porch")],
        signed_by="J. SMITH",
        proof_of_delivery={"photo_url": "https://carrier.example/pod/123.jpg"},
    )
    assert aftership(webhooks, payload).status_code == 200
    assert aftership(webhooks, payload).status_code == 200
    items = list(db.scalars(select(EvidenceItem).where(EvidenceItem.case_id == case.id)))
    assert len(items) == 1
    item = items[0]
    assert item.kind == EvidenceKind.PROOF_OF_DELIVERY and item.source.value == "carrier"
    assert item.caption == "Signed by J. SMITH"
    stored = webhooks.application.extensions["attachments"].read(item.sha256).decode()
    assert "Signed by: J. SMITH" in stored
    assert "https://carrier.example/pod/123.jpg" in stored
    db.expire_all()
    shipment = db.get(Shipment, case.order.shipments[0].id)
    assert shipment is not None and shipment.delivered_at == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_failed_attempt_opens_a_delivery_failed_case(webhooks: FlaskClient, db: Session) -> None:
    case = in_transit_case(db, "1ZFAIL0001", type=CaseType.NOT_RECEIVED)
    attempt = NOW - timedelta(hours=2)
    payload = seventeen_payload(
        "1ZFAIL0001",
        "DeliveryFailure",
        [(attempt.isoformat(), "DeliveryFailure", "Nobody home, notice left")],
    )
    response = seventeen(webhooks, payload)
    assert response.status_code == 200
    opened = response.get_json()["opened_cases"]
    assert len(opened) == 1
    failed = db.scalar(select(Case).where(Case.number == opened[0]))
    assert failed is not None
    assert failed.type == CaseType.DELIVERY_FAILED and failed.order_id == case.order_id
    assert failed.status not in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
    kinds = [e.kind for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == failed.id))]
    assert "case_opened" in kinds and "delivery_attempt_failed" in kinds
    events = [d.event for d in db.scalars(select(Decision).where(Decision.case_id == failed.id))]
    assert "case_opened" in events and "delivery_failed" in events
    message = db.scalar(
        select(Message).where(Message.case_id == failed.id, Message.template == "confirm_address")
    )
    assert message is not None and message.status == MessageStatus.QUEUED
    assert "confirm your address" in message.body
    redelivery = [d for d in failed.deadlines if d.name == "redelivery"]
    assert len(redelivery) == 1
    assert redelivery[0].state == DeadlineState.PENDING
    assert redelivery[0].due_at == attempt + timedelta(days=12)

    # A second failed attempt goes on the same case.
    again = seventeen_payload(
        "1ZFAIL0001",
        "DeliveryFailure",
        [
            (attempt.isoformat(), "DeliveryFailure", "Nobody home, notice left"),
            (NOW.isoformat(), "DeliveryFailure", "Second attempt failed"),
        ],
    )
    assert seventeen(webhooks, again).get_json()["opened_cases"] == []
    assert db.scalar(select(func.count()).select_from(Case).where(Case.type == CaseType.DELIVERY_FAILED)) == 1


def test_failed_attempt_on_a_return_parcel_opens_nothing(webhooks: FlaskClient, db: Session) -> None:
    case = in_transit_case(db, "1ZRET0001")
    shipment = db.get(Shipment, case.order.shipments[0].id)
    assert shipment is not None
    shipment.kind = ShipmentKind.RETURN
    db.commit()
    payload = seventeen_payload(
        "1ZRET0001", "DeliveryFailure", [("2026-03-09T10:00:00Z", "DeliveryFailure", "Warehouse closed")]
    )
    assert seventeen(webhooks, payload).get_json()["opened_cases"] == []


def test_stale_tracking_is_raised_once_per_silence(app: Flask, db: Session) -> None:
    case = in_transit_case(db, "1ZSTALE001")
    shipment = db.get(Shipment, case.order.shipments[0].id)
    assert shipment is not None
    shipment.last_event_at = NOW - timedelta(days=6)
    # A parcel that is quiet but delivered, and one quiet for a shorter time, are left alone.
    other = in_transit_case(db, "1ZFRESH001")
    fresh = db.get(Shipment, other.order.shipments[0].id)
    assert fresh is not None
    fresh.last_event_at = NOW - timedelta(days=2)
    db.commit()
    factory = app.extensions["database"].sessionmaker

    assert raise_stale(factory, 5, now=NOW) == 1
    assert raise_stale(factory, 5, now=NOW + timedelta(hours=1)) == 0
    db.expire_all()
    events = [
        e
        for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))
        if e.kind == "tracking_stale"
    ]
    assert len(events) == 1 and events[0].data["days"] == 6
    assert [d.event for d in db.scalars(select(Decision).where(Decision.case_id == case.id))] == [
        "tracking_stale"
    ]

    # The parcel moves, then falls silent again: a new episode.
    shipment = db.get(Shipment, shipment.id)
    assert shipment is not None
    shipment.last_event_at = NOW + timedelta(days=1)
    db.commit()
    assert raise_stale(factory, 5, now=NOW + timedelta(days=3)) == 0
    # (the other parcel has been quiet for nine days by then, so it is raised too)
    assert raise_stale(factory, 5, now=NOW + timedelta(days=7)) == 2
    marks = db.scalars(select(TrackingStaleMark.since).where(TrackingStaleMark.shipment_id == shipment.id))
    assert sorted(marks) == [NOW - timedelta(days=6), NOW + timedelta(days=1)]


def test_stale_check_ignores_closed_cases(app: Flask, db: Session) -> None:
    case = in_transit_case(db, "1ZCLOSED01")
    case.status = CaseStatus.CLOSED
    case.order.shipments[0].last_event_at = NOW - timedelta(days=30)
    db.commit()
    assert raise_stale(app.extensions["database"].sessionmaker, 5, now=NOW) == 0
