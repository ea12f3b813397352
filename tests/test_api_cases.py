"""The JSON API as an ERP uses it: find, open and move cases, upload evidence, read decisions."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.api import bearer, make_token
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain.enums import CaseReason, CaseStatus, CaseType, Role
from portal.domain.models import ApiIdempotencyKey, Case, CaseEvent, EvidenceItem, Market
from portal.domain.types import utcnow


@pytest.fixture
def market(db: Session) -> Market:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    db.commit()
    return market


@pytest.fixture
def agent(app: Flask, db: Session) -> dict[str, str]:
    return bearer(make_token(db, Role.CS_AGENT))


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    return app.test_client()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, "PNG")
    return out.getvalue()


# ---- reading --------------------------------------------------------------------------------------


def test_list_filters_and_finds_the_cases_of_an_order(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    first = make_case(db, market, number="AS-200001", reason=CaseReason.SIZE)
    make_case(db, market, number="AS-200002", reason=CaseReason.DAMAGED, status=CaseStatus.CLOSED)
    db.commit()
    everything = api.get("/api/v1/cases", headers=agent).get_json()
    assert {c["number"] for c in everything["items"]} == {"AS-200001", "AS-200002"}
    assert everything["next"] is None

    by_order = api.get(f"/api/v1/cases?order_id={first.order.external_order_id}", headers=agent).get_json()
    assert [c["number"] for c in by_order["items"]] == ["AS-200001"]
    row = by_order["items"][0]
    assert row["value"] == {"amount": "25.00", "currency": "USD"}
    assert row["order_id"] == first.order.external_order_id and row["market"] == "US"
    assert row["opened_at"].endswith("+00:00") and row["next_deadline_at"] is None

    open_only = api.get("/api/v1/cases?status=open", headers=agent).get_json()
    assert [c["number"] for c in open_only["items"]] == ["AS-200001"]
    damaged = api.get("/api/v1/cases?reason=damaged&status=all", headers=agent).get_json()
    assert [c["number"] for c in damaged["items"]] == ["AS-200002"]
    search = api.get("/api/v1/cases?q=AS-200002", headers=agent).get_json()
    assert [c["number"] for c in search["items"]] == ["AS-200002"]


def test_updated_since_and_opened_range(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    now = utcnow()
    old = make_case(db, market, number="AS-OLD", opened_at=now - timedelta(days=10))
    old.updated_at = now - timedelta(days=9)
    make_case(db, market, number="AS-NEW", opened_at=now - timedelta(hours=1))
    db.commit()
    since = (now - timedelta(days=1)).isoformat()
    recent = api.get("/api/v1/cases", query_string={"updated_since": since}, headers=agent).get_json()
    assert [c["number"] for c in recent["items"]] == ["AS-NEW"]
    window = api.get(
        "/api/v1/cases",
        query_string={
            "opened_from": (now - timedelta(days=11)).isoformat(),
            "opened_to": (now - timedelta(days=5)).isoformat(),
        },
        headers=agent,
    ).get_json()
    assert [c["number"] for c in window["items"]] == ["AS-OLD"]


def test_cursor_pagination_walks_every_case_once(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    for i in range(7):
        make_case(db, market, number=f"AS-P{i}")
    db.commit()
    seen: list[str] = []
    url = "/api/v1/cases?limit=3"
    pages = 0
    while True:
        page = api.get(url, headers=agent).get_json()
        seen += [c["number"] for c in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        url = f"/api/v1/cases?limit=3&cursor={page['next']}"
    assert pages == 3 and sorted(seen) == sorted(f"AS-P{i}" for i in range(7)) and len(seen) == 7


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=nonsense", "status"),
        ("type=teleport", "type"),
        ("limit=0", "limit"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2026-01-01T00:00:00", "updated_since"),  # no offset: ambiguous
        ("cursor=bm90IGEgY3Vyc29y", "cursor"),
        ("colour=red", "colour"),
    ],
)
def test_bad_filters_get_422_naming_the_field(
    api: FlaskClient, agent: dict[str, str], market: Market, query: str, field: str
) -> None:
    response = api.get(f"/api/v1/cases?{query}", headers=agent)
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["code"] == "validation_failed" and field in body["details"]["fields"]


def test_get_case_carries_version_and_etag(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    case = make_case(db, market, number="AS-GET")
    db.commit()
    response = api.get("/api/v1/cases/AS-GET", headers=agent)
    body = response.get_json()
    assert response.status_code == 200 and response.headers["ETag"] == f'"{case.version}"'
    assert body["version"] == case.version and body["items"][0]["sku"].startswith("SKU-")
    assert body["items"][0]["unit_price"] == {"amount": "25.00", "currency": "USD"}
    assert body["allowed_events"] == []  # nothing to ship until the return is approved
    missing = api.get("/api/v1/cases/AS-NOPE", headers=agent)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


# ---- creating -------------------------------------------------------------------------------------


def _order_case(db: Session, market: Market) -> Case:
    """A case whose order the API then opens a second case on."""
    case = make_case(db, market, number="AS-ORIG", status=CaseStatus.CLOSED)
    db.commit()
    return case


def test_create_runs_the_policy_and_answers_201_with_location(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    order_id = _order_case(db, market).order.external_order_id
    response = api.post(
        "/api/v1/cases",
        json={
            "order_id": order_id,
            "type": "return_and_refund",
            "reason": "size",
            "note": "Too small",
            "buyer_email": "sam@example.test",
        },
        headers=agent,
    )
    body = response.get_json()
    assert response.status_code == 201, body
    assert response.headers["Location"] == f"/api/v1/cases/{body['number']}"
    assert response.headers["ETag"] == f'"{body["version"]}"'
    # TEST_POLICY approves returns of return_and_refund cases.
    assert body["status"] == "return_approved" and body["returns"][0]["rma_number"].startswith("RMA-US-")
    assert body["allowed_events"] == ["return_shipped", "return_received"]
    assert body["value"] == {"amount": "25.00", "currency": "USD"} and body["buyer_note"] == "Too small"
    db.expire_all()
    created = db.scalar(select(Case).where(Case.number == body["number"]))
    assert created.buyer.email == "sam@example.test"  # messages about the case can go by e-mail
    opened = db.scalar(
        select(CaseEvent).where(CaseEvent.case_id == created.id, CaseEvent.kind == "case_opened")
    )
    assert opened.actor_label.startswith("API token “test cs_agent”")
    decisions = api.get(f"/api/v1/cases/{body['number']}/decisions", headers=agent).get_json()["items"]
    assert decisions[0]["event"] == "case_opened" and decisions[0]["actions"][0]["name"] == "approve_return"


def test_idempotency_key_returns_the_same_case(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    order_id = _order_case(db, market).order.external_order_id
    payload = {"order_id": order_id, "type": "refund_only", "reason": "damaged"}
    headers = {**agent, "Idempotency-Key": "erp-7781"}
    first = api.post("/api/v1/cases", json=payload, headers=headers)
    again = api.post("/api/v1/cases", json=payload, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.get_json()["number"] == again.get_json()["number"]
    assert db.scalar(select(func.count()).select_from(Case)) == 2  # the original and one new
    changed = api.post("/api/v1/cases", json={**payload, "reason": "size"}, headers=headers)
    assert (
        changed.status_code == 422 and "Idempotency-Key" in changed.get_json()["error"]["details"]["fields"]
    )
    assert db.scalar(select(func.count()).select_from(ApiIdempotencyKey)) == 1


def test_create_for_chosen_items(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    original = _order_case(db, market)
    sku = original.items[0].order_item.sku
    ok = api.post(
        "/api/v1/cases",
        json={
            "order_id": original.order.external_order_id,
            "type": "refund_only",
            "reason": "quality",
            "items": [{"sku": sku, "quantity": 1}],
        },
        headers=agent,
    )
    assert ok.status_code == 201 and ok.get_json()["items"][0]["sku"] == sku
    too_many = api.post(
        "/api/v1/cases",
        json={
            "order_id": original.order.external_order_id,
            "type": "refund_only",
            "reason": "quality",
            "items": [{"sku": sku, "quantity": 5}, {"sku": "NOPE"}],
        },
        headers=agent,
    )
    fields = too_many.get_json()["error"]["details"]["fields"]
    assert too_many.status_code == 422
    assert fields["items.0.quantity"] == [f"Only 1 of {sku} were ordered."]
    assert "no item NOPE" in fields["items.1.sku"][0]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"type": "refund_only", "reason": "size"}, "order_id"),
        ({"order_id": "X", "type": "teleport", "reason": "size"}, "type"),
        ({"order_id": "X", "type": "refund_only", "reason": "size", "extra": 1}, "extra"),
        ({"order_id": "   ", "type": "refund_only", "reason": "size"}, "order_id"),
        ({"order_id": "NO-SUCH-ORDER", "type": "refund_only", "reason": "size"}, "order_id"),
        (
            {"order_id": "X", "type": "refund_only", "reason": "size", "buyer_email": "not an address"},
            "buyer_email",
        ),
    ],
)
def test_create_refuses_bad_values_per_field(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market, payload: dict, field: str
) -> None:
    response = api.post("/api/v1/cases", json=payload, headers=agent)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]["fields"]
    assert db.scalar(select(func.count()).select_from(Case)) == 0


def test_create_needs_json(api: FlaskClient, agent: dict[str, str], market: Market) -> None:
    broken = api.post("/api/v1/cases", data="{not json", content_type="application/json", headers=agent)
    assert broken.status_code == 400 and broken.get_json()["error"]["code"] == "bad_json"
    form = api.post("/api/v1/cases", data={"order_id": "1"}, headers=agent)
    assert form.status_code == 415 and form.get_json()["error"]["code"] == "unsupported_media_type"


# ---- events and locking ---------------------------------------------------------------------------


@pytest.fixture
def approved(db: Session, market: Market) -> Case:
    case = make_case(
        db, market, number="AS-RET", status=CaseStatus.IN_REVIEW, type=CaseType.RETURN_AND_REFUND
    )
    db.commit()
    from portal.domain import operations as ops
    from portal.domain.lifecycle import Actor

    ops.approve_return(db, case, Actor.system())
    db.commit()
    return case


def test_return_journey_through_events(api: FlaskClient, agent: dict[str, str], approved: Case) -> None:
    shipped = api.post(
        "/api/v1/cases/AS-RET/events",
        json={"event": "return_shipped", "carrier": "UPS", "tracking_number": "1ZRETURN1"},
        headers={**agent, "If-Match": f'"{approved.version}"'},
    )
    body = shipped.get_json()
    assert shipped.status_code == 200, body
    assert body["case"]["status"] == "return_in_transit"
    assert body["case"]["returns"][0]["tracking_number"] == "1ZRETURN1"
    assert body["decision"]["event"] == "return_shipped"
    assert shipped.headers["ETag"] == f'"{body["case"]["version"]}"'

    received = api.post("/api/v1/cases/AS-RET/events", json={"event": "return_received"}, headers=agent)
    assert received.get_json()["case"]["status"] == "return_received"
    inspected = api.post(
        "/api/v1/cases/AS-RET/events",
        json={"event": "inspection_done", "result": "pass", "disposition": "restock"},
        headers=agent,
    ).get_json()
    # TEST_POLICY refunds a passed inspection.
    assert inspected["case"]["status"] == "refund_pending"
    assert inspected["decision"]["rule"]["name"] == "passed"
    assert inspected["case"]["refunds"][0]["amount"] == {"amount": "25.00", "currency": "USD"}


def test_event_the_lifecycle_refuses_is_409(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    make_case(db, market, number="AS-NEWCASE")
    db.commit()
    response = api.post("/api/v1/cases/AS-NEWCASE/events", json={"event": "return_received"}, headers=agent)
    error = response.get_json()["error"]
    assert response.status_code == 409 and error["code"] == "not_allowed_now"
    assert "mark_return_received" in error["message"] and error["details"]["status"] == "new"
    db.expire_all()
    assert db.scalar(select(Case).where(Case.number == "AS-NEWCASE")).status == CaseStatus.NEW


def test_stale_if_match_is_412_and_changes_nothing(
    api: FlaskClient, agent: dict[str, str], approved: Case, db: Session
) -> None:
    response = api.post(
        "/api/v1/cases/AS-RET/events",
        json={"event": "return_received"},
        headers={**agent, "If-Match": f'"{approved.version - 1}"'},
    )
    assert response.status_code == 412
    assert response.get_json()["error"]["details"]["current_etag"] == f'"{approved.version}"'
    db.expire_all()
    assert db.scalar(select(Case).where(Case.number == "AS-RET")).status == CaseStatus.RETURN_APPROVED


def test_unknown_event_is_422(api: FlaskClient, agent: dict[str, str], approved: Case) -> None:
    response = api.post("/api/v1/cases/AS-RET/events", json={"event": "teleported"}, headers=agent)
    assert response.status_code == 422 and "event" in response.get_json()["error"]["details"]["fields"]
    missing = api.post("/api/v1/cases/AS-RET/events", json={"event": "return_shipped"}, headers=agent)
    assert set(missing.get_json()["error"]["details"]["fields"]) == {
        "return_shipped.carrier",
        "return_shipped.tracking_number",
    }


# ---- evidence -------------------------------------------------------------------------------------


def test_evidence_upload_is_checked_like_the_portal(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    make_case(db, market, number="AS-EV")
    db.commit()
    ok = api.post(
        "/api/v1/cases/AS-EV/evidence",
        data={"file": (io.BytesIO(_png()), "parcel.png"), "kind": "photo", "caption": "Dented box"},
        headers=agent,
    )
    body = ok.get_json()
    assert ok.status_code == 201, body
    assert body["kind"] == "photo" and body["content_type"] == "image/png" and body["caption"] == "Dented box"
    assert ok.headers["ETag"]
    fake = api.post(
        "/api/v1/cases/AS-EV/evidence",
        data={"file": (io.BytesIO(b"MZ\x90\x00 not an image"), "photo.png"), "kind": "photo"},
        headers=agent,
    )
    assert (
        fake.status_code == 422 and "Only photos" in fake.get_json()["error"]["details"]["fields"]["file"][0]
    )
    missing = api.post(
        "/api/v1/cases/AS-EV/evidence",
        data={"kind": "selfie"},
        content_type="multipart/form-data",
        headers=agent,
    )
    assert set(missing.get_json()["error"]["details"]["fields"]) == {"file", "kind"}
    as_json = api.post("/api/v1/cases/AS-EV/evidence", json={"kind": "photo"}, headers=agent)
    assert as_json.status_code == 415
    db.expire_all()
    assert len(db.scalars(select(EvidenceItem)).all()) == 1


def test_body_over_the_limit_is_413_json(
    app: Flask, api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    make_case(db, market, number="AS-BIG")
    db.commit()
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = api.post(
        "/api/v1/cases/AS-BIG/evidence",
        data={"file": (io.BytesIO(b"%PDF-" + b"0" * 4096), "big.pdf"), "kind": "document"},
        headers=agent,
    )
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


# ---- decisions ------------------------------------------------------------------------------------


def test_decisions_are_explained_in_the_requested_language(
    api: FlaskClient, agent: dict[str, str], db: Session, market: Market
) -> None:
    order_id = _order_case(db, market).order.external_order_id
    number = api.post(
        "/api/v1/cases",
        json={"order_id": order_id, "type": "return_and_refund", "reason": "size"},
        headers=agent,
    ).get_json()["number"]
    english = api.get(f"/api/v1/cases/{number}/decisions", headers=agent)
    chinese = api.get(
        f"/api/v1/cases/{number}/decisions", headers={**agent, "Accept-Language": "zh-CN,zh;q=0.9"}
    )
    en, zh = english.get_json()["items"][0], chinese.get_json()["items"][0]
    assert english.headers["Content-Language"] == "en" and chinese.headers["Content-Language"] == "zh"
    assert en["policy_version"] == 1 and en["rule"]["line"] >= 1
    assert en["explanation"] != zh["explanation"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["explanation"])
    assert en["decided_at"].endswith("+00:00")
