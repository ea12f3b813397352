"""Builders for document tests: a case with a return, tracking, messages, photos, decisions, refunds."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from flask import Flask
from PIL import Image, ImageDraw
from sqlalchemy.orm import Session
from support.app import make_test_app
from support.factories import make_case, shop_with_market

from portal import migrate
from portal.documents.instruction_texts import ENGLISH, LANGUAGES, texts_for
from portal.domain import audit
from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.enums import (
    AddressKind,
    CaseStatus,
    CaseType,
    Disposition,
    DisputeStatus,
    EvidenceKind,
    EvidenceSource,
    InspectionResult,
    MessageDirection,
    MessageStatus,
    PolicyStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    ReturnStatus,
    ShipmentKind,
    ShippingPayer,
    TrackingStatus,
)
from portal.domain.models import (
    Case,
    CaseEvent,
    Decision,
    Dispute,
    EvidenceItem,
    Inspection,
    Market,
    Message,
    Policy,
    PolicyVersion,
    Refund,
    ReturnAddress,
    ReturnShipment,
    Shipment,
    TrackingEvent,
)
from portal.domain.types import utcnow

HOSTILE = (
    '<img src="file:///etc/passwd"> see http://169.254.169.254/latest/meta-data '
    '<style>@import url("http://127.0.0.1:9/x.css");</style>'
)


def png(seed: int, size: tuple[int, int] = (96, 64)) -> bytes:
    """A small real PNG, different for every seed."""
    image = Image.new("RGB", size, ((seed * 53) % 256, (seed * 97) % 256, (seed * 29) % 256))
    ImageDraw.Draw(image).rectangle((8, 8, size[0] - 8, size[1] - 8), outline=(0, 0, 0), width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_address(session: Session, market: Market, country: str = "CN") -> ReturnAddress:
    address = ReturnAddress(
        market=market,
        kind=AddressKind.CONSOLIDATION_WAREHOUSE,
        label="Shenzhen hub",
        recipient="Testco Returns",
        street="8 Pingshan Road",
        city="Shenzhen",
        region="Guangdong",
        postcode="518118",
        country=country,
        phone="+86 755 0000 1111",
        carriers="DHL,EMS",
        is_default=False,
    )
    session.add(address)
    session.flush()
    return address


def build_case(
    session: Session,
    store: AttachmentStore,
    *,
    number: str = "AS-900001",
    language: str = "en",
    market_code: str = "US",
    cross_border: bool = False,
    body: str = "The shirt runs small.",
    events: int = 3,
    photos: int = 3,
    market: Market | None = None,
) -> Case:
    """A returned, inspected and refunded case with every kind of record an evidence pack shows."""
    if market is None:
        _shop, market = shop_with_market(session, code=market_code)
        market.language = language
    case = make_case(
        session,
        market,
        number=number,
        type=CaseType.RETURN_AND_REFUND,
        status=CaseStatus.RESOLVED,
        value="64.00",
        buyer_name="Jordan M.",
    )
    case.buyer.language = language
    case.buyer.timezone = "Europe/Berlin" if language == "de" else market.timezone
    case.buyer_note = body
    now = utcnow()
    address = add_address(session, market) if cross_border else market.return_addresses[0]
    ret = ReturnShipment(
        case=case,
        rma_number=f"RMA-{number[-6:]}-7K",
        status=ReturnStatus.INSPECTED,
        return_address_id=address.id,
        shipping_payer=ShippingPayer.BUYER,
        ship_by=now + timedelta(days=5),
        approved_at=now - timedelta(days=3),
        customs_description="Returned Apparel" if cross_border else None,
        declared_value=Decimal("64.00") if cross_border else None,
    )
    parcel = Shipment(
        order=case.order,
        kind=ShipmentKind.RETURN,
        carrier="UPS",
        tracking_number="1ZRETURN0001",
        status=TrackingStatus.DELIVERED,
        shipped_at=now - timedelta(days=2),
    )
    for i, status in enumerate(
        [TrackingStatus.INFO_RECEIVED, TrackingStatus.IN_TRANSIT, TrackingStatus.DELIVERED]
    ):
        parcel.events.append(
            TrackingEvent(
                status=status,
                description=f"Return scan {i}",
                location="Newark, US",
                occurred_at=now - timedelta(days=2, hours=-i),
            )
        )
    ret.shipment = parcel
    session.add_all([ret, parcel])
    session.add(
        Message(
            case=case,
            direction=MessageDirection.INBOUND,
            status=MessageStatus.RECEIVED,
            language=language,
            body=body,
            created_at=now - timedelta(days=4),
        )
    )
    session.add(
        Message(
            case=case,
            direction=MessageDirection.OUTBOUND,
            status=MessageStatus.SENT,
            language=language,
            body="Your return is approved.",
            created_at=now - timedelta(days=3),
        )
    )
    kinds = [
        (EvidenceKind.PROOF_OF_DELIVERY, EvidenceSource.CARRIER),
        (EvidenceKind.PACKING, EvidenceSource.SELLER),
        (EvidenceKind.PHOTO, EvidenceSource.WAREHOUSE),
        (EvidenceKind.PHOTO, EvidenceSource.BUYER),
    ]
    for i in range(photos):
        kind, source = kinds[i % len(kinds)]
        sha = store_attachment(session, store, png(hash((number, i)) % 10_000), "image/png").sha256
        session.add(
            EvidenceItem(
                case=case,
                kind=kind,
                source=source,
                sha256=sha,
                filename=f"photo-{i}.png",
                caption=f"{kind.value} {i}",
            )
        )
    video = store_attachment(session, store, b"\x00\x00\x00\x18ftypmp42 not really a video", "video/mp4")
    session.add(
        EvidenceItem(
            case=case,
            kind=EvidenceKind.VIDEO,
            source=EvidenceSource.SELLER,
            sha256=video.sha256,
            filename="packing.mp4",
            caption="Packing video",
        )
    )
    session.add(
        Inspection(
            case=case,
            result=InspectionResult.PASS,
            disposition=Disposition.RESTOCK,
            inspector="Warehouse Newark – Ana",
            notes="Tags on, unworn.",
            inspected_at=now - timedelta(hours=20),
        )
    )
    session.add(
        Refund(
            case=case,
            kind=RefundKind.FULL,
            method=RefundMethod.ORIGINAL_PAYMENT,
            status=RefundStatus.COMPLETED,
            amount=Decimal("64.00"),
            currency=case.currency,
            reason="Inspection passed",
            completed_at=now - timedelta(hours=10),
        )
    )
    session.add(
        Dispute(
            case=case,
            reason="Buyer says refund is late",
            status=DisputeStatus.WON,
            amount=Decimal("64.00"),
            currency=case.currency,
            respond_by=now + timedelta(days=2),
            outcome_note="Refund proven",
        )
    )
    policy = Policy(name=f"Policy {number}")
    version = PolicyVersion(
        policy=policy,
        number=3,
        status=PolicyStatus.PUBLISHED,
        text="on return_requested:\n  if value < 100 then approve_return",
    )
    session.add_all([policy, version])
    session.flush()
    session.add(
        Decision(
            case=case,
            event="return_requested",
            policy_version_id=version.id,
            rule_line=2,
            rule_name="cheap returns",
            actions=[{"name": "approve_return", "args": []}],
            explanation={
                "outcome": "rule",
                "rule": {"line": 2, "name": "cheap returns"},
                "parts": [
                    {
                        "text": "value < 100",
                        "result": "true",
                        "values": [{"field": "value", "value": 64, "status": "present"}],
                    }
                ],
                "earlier": [],
            },
        )
    )
    for i in range(events):
        session.add(
            CaseEvent(
                case=case,
                kind="note",
                data={"text": f"Step {i}"},
                actor_label="agent@example.test",
                occurred_at=now - timedelta(days=5, minutes=-i),
            )
        )
    audit.record(session, "case.status_changed", "case", case.id, {"to": "resolved"}, actor_label="agent")
    session.flush()
    return case


def test_every_buyer_language_has_every_text() -> None:
    for lang in LANGUAGES:
        used, texts = texts_for(lang)
        assert used == lang
        assert set(texts) == set(ENGLISH), lang
        for key, text in texts.items():
            assert text.strip(), (lang, key)
            # Every language but English comes from its catalogue, so a missing translation shows.
            assert lang == "en" or text != ENGLISH[key] or key in {"sku"}, (lang, key)


def sqlite_app(directory: Path, **config: object) -> Flask:
    """An app on its own migrated SQLite file, for tests whose subject does not depend on the database."""
    url = f"sqlite:///{directory / 'documents.db'}"
    migrate.upgrade(url)
    return make_test_app(url, directory, JOBS_RUN_INLINE=True, **config)
