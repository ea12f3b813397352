"""Applying carrier tracking updates: checkpoints onto the parcel (and so the case timeline), proof of
delivery as evidence, and a failed delivery attempt opening a delivery-failed case."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import deadline_rules, events
from portal.domain import operations as ops
from portal.domain.attachments import AttachmentStore, store_attachment
from portal.domain.enums import (
    EVIDENCE_ORIGIN,
    OPEN_STATUSES,
    CaseReason,
    CaseType,
    DeadlineState,
    EvidenceKind,
    EvidenceSource,
    OrderStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.lifecycle import Actor, record
from portal.domain.lookups import next_case_number
from portal.domain.models import (
    Case,
    CaseItem,
    EvidenceItem,
    Shipment,
    TrackingEvent,
    UnmatchedTrackingUpdate,
)
from portal.domain.tracking import Checkpoint, TrackingUpdate, parse_aftership, parse_seventeentrack
from portal.domain.types import utcnow

PROVIDER_NAMES = {"aftership": "AfterShip", "17track": "17TRACK"}
PARSERS = {"aftership": parse_aftership, "17track": parse_seventeentrack}
# Parcels whose failed delivery is the buyer's problem to solve with us (not a return on its way back).
DELIVERIES = (ShipmentKind.OUTBOUND, ShipmentKind.REPLACEMENT)


@dataclass
class ApplyResult:
    matched: bool
    shipment_id: int | None = None
    new_checkpoints: int = 0
    opened_cases: list[str] = field(default_factory=list)
    evidence_added: int = 0


def _find_shipment(session: Session, update: TrackingUpdate) -> Shipment | None:
    query = select(Shipment).where(Shipment.tracking_number == update.tracking_number).order_by(Shipment.id)
    if session.get_bind().dialect.name == "postgresql":
        # Two deliveries of the same notification wait for each other instead of both adding checkpoints.
        query = query.with_for_update()
    candidates = list(session.scalars(query))
    same_carrier = [s for s in candidates if s.carrier.lower() == update.carrier.lower()]
    found = same_carrier or candidates
    return found[0] if found else None


def _key(status: TrackingStatus, when: datetime, description: str) -> tuple[str, str, str]:
    return status.value, when.isoformat(timespec="seconds"), description.strip()


def apply_update(
    session: Session,
    update: TrackingUpdate,
    body: str,
    store: AttachmentStore | None = None,
    now: datetime | None = None,
) -> ApplyResult:
    """Apply a verified update; an unknown tracking number is kept to apply when its parcel appears."""
    now = now or utcnow()
    shipment = _find_shipment(session, update)
    if shipment is None:
        session.add(
            UnmatchedTrackingUpdate(
                provider=update.provider,
                carrier=update.carrier,
                tracking_number=update.tracking_number,
                status=update.status.value if update.status else "",
                body=body,
                received_at=now,
            )
        )
        return ApplyResult(matched=False)
    return _apply_to_shipment(session, shipment, update, store, now)


def _apply_to_shipment(
    session: Session, shipment: Shipment, update: TrackingUpdate, store: AttachmentStore | None, now: datetime
) -> ApplyResult:
    result = ApplyResult(matched=True, shipment_id=shipment.id)
    actor = Actor.system(f"carrier ({PROVIDER_NAMES.get(update.provider, update.provider)})")
    checkpoints = list(update.checkpoints)
    if not checkpoints and update.status is not None and update.status != shipment.status:
        # A status with no checkpoint list still says something happened, now.
        checkpoints = [Checkpoint(update.status, now, update.status.value.replace("_", " "))]
    known = {_key(e.status, e.occurred_at, e.description) for e in shipment.events}
    fresh: list[Checkpoint] = []
    for checkpoint in sorted(checkpoints, key=lambda c: c.occurred_at):
        key = _key(checkpoint.status, checkpoint.occurred_at, checkpoint.description)
        if key in known:
            continue
        known.add(key)
        fresh.append(checkpoint)
        shipment.events.append(
            TrackingEvent(
                status=checkpoint.status,
                description=checkpoint.description[:300],
                location=checkpoint.location,
                occurred_at=checkpoint.occurred_at,
                source=update.provider,
            )
        )
    result.new_checkpoints = len(fresh)
    if fresh:
        latest = max(fresh, key=lambda c: c.occurred_at)
        if shipment.last_event_at is None or latest.occurred_at >= shipment.last_event_at:
            shipment.last_event_at = latest.occurred_at
            shipment.status = update.status or latest.status
    elif update.status is not None and shipment.last_event_at is None:
        shipment.status = update.status

    delivered = next((c for c in fresh if c.status == TrackingStatus.DELIVERED), None)
    if delivered is not None:
        shipment.delivered_at = shipment.delivered_at or delivered.occurred_at
        if shipment.kind == ShipmentKind.OUTBOUND and shipment.order.status != OrderStatus.DELIVERED:
            shipment.order.status = OrderStatus.DELIVERED
            shipment.order.delivered_at = delivered.occurred_at
    if update.proof is not None and store is not None and shipment.status == TrackingStatus.DELIVERED:
        result.evidence_added = _store_proof(session, store, shipment, update, delivered, actor)

    # A failed attempt the parcel has since got past (a late notification) opens nothing.
    if shipment.kind in DELIVERIES and shipment.status != TrackingStatus.DELIVERED:
        for checkpoint in fresh:
            if checkpoint.status == TrackingStatus.ATTEMPT_FAIL:
                opened = failed_attempt(session, shipment, checkpoint, actor, now)
                if opened is not None:
                    result.opened_cases.append(opened.number)
    return result


def _proof_text(shipment: Shipment, update: TrackingUpdate, delivered_at: datetime | None) -> str:
    proof = update.proof
    assert proof is not None
    lines = [
        "Proof of delivery",
        f"Carrier: {shipment.carrier} (reported by {PROVIDER_NAMES.get(update.provider, update.provider)})",
        f"Tracking number: {shipment.tracking_number}",
        f"Delivered at: {delivered_at.isoformat(timespec='seconds') if delivered_at else 'not given'}",
    ]
    if proof.signed_by:
        lines.append(f"Signed by: {proof.signed_by}")
    if proof.photo_url:
        # The photo stays where the carrier keeps it: the webhook does not fetch addresses it is sent.
        lines.append(f"Delivery photo (held by the carrier): {proof.photo_url}")
    return "\n".join(lines) + "\n"


def _store_proof(
    session: Session,
    store: AttachmentStore,
    shipment: Shipment,
    update: TrackingUpdate,
    delivered: Checkpoint | None,
    actor: Actor,
) -> int:
    """Keep the proof of delivery as evidence on every case of the order (once per case)."""
    data = _proof_text(shipment, update, delivered.occurred_at if delivered else shipment.delivered_at)
    cases = list(session.scalars(select(Case).where(Case.order_id == shipment.order_id)))
    if not cases:
        return 0
    attachment = store_attachment(session, store, data.encode("utf-8"), "text/plain")
    proof = update.proof
    assert proof is not None
    caption = f"Signed by {proof.signed_by}" if proof.signed_by else "Delivery photo held by the carrier"
    added = 0
    for case in cases:
        if any(e.sha256 == attachment.sha256 for e in case.evidence):
            continue
        session.add(
            EvidenceItem(
                case=case,
                kind=EvidenceKind.PROOF_OF_DELIVERY,
                source=EvidenceSource.CARRIER,
                sha256=attachment.sha256,
                filename=f"proof-of-delivery-{shipment.tracking_number}.txt",
                caption=caption[:300],
            )
        )
        record(
            session,
            case,
            actor,
            "evidence_added",
            {
                "kind": EvidenceKind.PROOF_OF_DELIVERY.value,
                "sha256": attachment.sha256,
                "from": EVIDENCE_ORIGIN[EvidenceSource.CARRIER],
            },
        )
        added += 1
    return added



def failed_attempt(
    session: Session, shipment: Shipment, checkpoint: Checkpoint, actor: Actor, now: datetime
) -> Case | None:
    """The carrier could not deliver: open a delivery-failed case (unless one is open for the order),
    ask the buyer to confirm the address, and let the policy handle `delivery_failed`.

    Returns the case when one was opened.
    """
    order = shipment.order
    order.status = OrderStatus.DELIVERY_FAILED
    details = {
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "description": checkpoint.description,
        "at": checkpoint.occurred_at.isoformat(timespec="seconds"),
    }
    case = session.scalar(
        select(Case)
        .where(
            Case.order_id == order.id,
            Case.type == CaseType.DELIVERY_FAILED,
            Case.status.in_(OPEN_STATUSES),
        )
        .order_by(Case.id)
        .limit(1)
    )
    opened = None
    if case is None:
        case = Case(
            number=next_case_number(session),
            shop_id=order.shop_id,
            market=order.market,
            order=order,
            buyer=order.buyer,
            type=CaseType.DELIVERY_FAILED,
            reason=CaseReason.NOT_RECEIVED,
            value=order.total_amount,
            currency=order.currency,
            opened_at=now,
        )
        case.items = [CaseItem(order_item=item, quantity=item.quantity) for item in order.items]
        events.open_case(session, case, actor, now)
        _count_redelivery_from_attempt(session, case, checkpoint.occurred_at, now)
        record(session, case, actor, "delivery_attempt_failed", details, now=now)
        ops.queue_message(session, case, "confirm_address", actor)
        opened = case
    else:
        record(session, case, actor, "delivery_attempt_failed", details, now=now)
    events.handle_event(session, case, "delivery_failed", now)
    return opened


def _count_redelivery_from_attempt(
    session: Session, case: Case, attempted_at: datetime, now: datetime
) -> None:
    """The marketplace's redelivery window runs from the failed attempt, not from when we heard of it."""
    if attempted_at >= now or "redelivery" not in deadline_rules.RULES:
        return
    due = deadline_rules.due_for(session, case, "redelivery", attempted_at)
    for deadline in case.deadlines:
        if deadline.name == "redelivery" and deadline.state == DeadlineState.PENDING and due is not None:
            deadline.due_at = due


def apply_pending(
    session: Session, shipment: Shipment, store: AttachmentStore | None = None, now: datetime | None = None
) -> int:
    """Apply the updates that arrived before this parcel was known; returns how many."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(UnmatchedTrackingUpdate)
            .where(
                UnmatchedTrackingUpdate.tracking_number == shipment.tracking_number,
                UnmatchedTrackingUpdate.applied_at.is_(None),
            )
            .order_by(UnmatchedTrackingUpdate.id)
        )
    )
    for row in rows:
        update = parse_body(row.provider, row.body)
        if update is not None:
            _apply_to_shipment(session, shipment, update, store, now)
        row.applied_at = now
        row.shipment_id = shipment.id
    return len(rows)


def parse_body(provider: str, body: str) -> TrackingUpdate | None:
    payload: Any = json.loads(body)
    return PARSERS[provider](payload)
