"""Demo cases that reach the platform's dispute desk: opening, answering with evidence, the ruling."""

from __future__ import annotations

from datetime import timedelta

from portal.demo import images
from portal.demo.case_ctx import Actor, Ctx
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    DeadlineKind,
    DisputeStatus,
    EvidenceKind,
    EvidenceSource,
    RefundKind,
    RefundMethod,
    RefundStatus,
)
from portal.domain.models import Dispute, Refund

DISPUTE_REASONS: dict[CaseReason, str] = {
    CaseReason.NOT_RECEIVED: "Buyer says the parcel never arrived",
    CaseReason.NOT_AS_DESCRIBED: "Buyer says the item is not as described",
    CaseReason.DAMAGED: "Buyer says the item arrived damaged",
    CaseReason.QUALITY: "Buyer says the quality is not as advertised",
    CaseReason.WRONG_ITEM: "Buyer says a different item was sent",
}
WON_NOTES = ("Platform ruled for the seller: tracking trail and proof of delivery accepted.",
             "Platform ruled for the seller: packing photos and QC certificate show the item left as listed.")
LOST_NOTES = ("Platform ruled for the buyer: seller's evidence arrived after the response deadline.",
              "Platform ruled for the buyer: buyer's photos show the defect clearly.")
LOST_NOT_RECEIVED = "Platform ruled for the buyer: the delivery photo does not show the buyer's door."


def proof_of_delivery(c: Ctx, actor: Actor) -> None:
    """The carrier's photo or signature, pulled into the case as evidence (once)."""
    outbound, rng = c.record.outbound, c.world.rng
    if outbound is None or outbound.delivered_at is None or "proof_of_delivery" in c.evidence_kinds:
        return
    stamp = outbound.delivered_at.strftime("%Y-%m-%d %H:%M")
    note = next((s[1] for s in reversed(c.record.steps) if s[0] == "delivered"), "")
    if any(word in note for word in ("signed", "handed")):
        data = images.signature_image(rng, c.case.buyer.display_name, stamp)
        caption = f"{outbound.carrier} signature on delivery"
    else:
        data = images.doorstep_photo(rng, stamp, outbound.tracking_number)
        caption = f"{outbound.carrier} delivery photo"
    filename = f"pod-{outbound.tracking_number}.png"
    c.evidence(EvidenceKind.PROOF_OF_DELIVERY, EvidenceSource.CARRIER, data, filename, caption, actor)


def open_dispute(c: Ctx) -> None:
    case, world, rng = c.case, c.world, c.world.rng
    if c.index == 0:
        c.emit("case_opened", "system", {"type": case.type.value, "reason": case.reason.value})
        if case.buyer_note:
            c.hear(case.buyer_note)
    else:
        c.hear(c.buyer_line("escalate"))
    while (number := f"7{rng.randrange(10**17, 10**18)}") in world.issued:
        pass
    world.issued.add(number)
    respond_by = c.t + timedelta(hours=72 + rng.uniform(0, 12))
    c.dispute = Dispute(id=world.new_id(Dispute), case=case, external_id=number,
                        reason=DISPUTE_REASONS.get(case.reason, "Buyer escalated"), status=DisputeStatus.OPEN,
                        amount=case.value, currency=case.currency, opened_at=c.t, respond_by=respond_by)
    c.rows.append(c.dispute)
    world.counts["disputes"] += 1
    case.escalated, case.queue = True, "disputes"
    c.status(CaseStatus.DISPUTE_OPEN, "system")
    c.emit("dispute_opened", "system", {"external_id": number, "respond_by": respond_by.isoformat()})
    c.emit("queued", "system", {"queue": "disputes"})
    c.deadline("dispute_response", DeadlineKind.PLATFORM, respond_by)
    senior = world.users.get("senior@demo.test")
    if senior is not None and case.assignee is not senior:
        case.assignee = c.agent = senior
        c.emit("assigned", "system", {"to": senior.name})


def respond(c: Ctx) -> None:
    case, rng = c.case, c.world.rng
    assert c.dispute is not None
    actor = c.take()
    item = c.main_item
    if c.plan.pool == "delivered" and case.reason == CaseReason.NOT_RECEIVED:
        proof_of_delivery(c, actor)
    c.evidence(EvidenceKind.PACKING, EvidenceSource.SELLER,
               images.packing_photo(rng, item.category, f"Packed {c.record.order.external_order_id}"),
               "packing.png", "Packing photo before dispatch", actor)
    if rng.random() < 0.5:
        lines = ["Supplier: Shenzhen Lumen Manufacturing Co., Ltd.", f"SKU: {item.sku}",
                 f"Batch: B{rng.randint(2400, 2599)}-{rng.randint(10, 99)}",
                 f"Inspected: {(c.record.order.placed_at - timedelta(days=20)):%Y-%m-%d}",
                 "Sample size: 80 pcs (AQL 2.5)", "Critical 0 / Major 0 / Minor 1", "Result: ACCEPTED"]
        c.evidence(EvidenceKind.QC_CERTIFICATE, EvidenceSource.SELLER,
                   images.document_image("QUALITY CONTROL CERTIFICATE", lines, "PASS"),
                   f"qc-{item.sku}.png", "Factory QC certificate for the batch", actor)
    note = "Answered with the full tracking trail, the evidence above and every message with the buyer."
    c.dispute.status, c.dispute.responded_at, c.dispute.outcome_note = DisputeStatus.RESPONDED, c.t, note
    c.emit("dispute_responded", actor, {"note": note})
    c.meet("dispute_response")
    if case.first_response_at is None:
        case.first_response_at = c.t


def won(c: Ctx) -> None:
    assert c.dispute is not None
    c.dispute.status, c.dispute.closed_at = DisputeStatus.WON, c.t
    c.dispute.outcome_note = c.world.rng.choice(WON_NOTES)
    c.emit("note", "system", {"text": c.dispute.outcome_note})
    c.status(CaseStatus.RESOLVED, "system")


def lost(c: Ctx) -> None:
    """The platform refunds the buyer itself; the case is settled, then closed."""
    case, world = c.case, c.world
    assert c.dispute is not None
    c.dispute.status, c.dispute.closed_at = DisputeStatus.LOST, c.t
    door = case.reason == CaseReason.NOT_RECEIVED and world.rng.random() < 0.7
    c.dispute.outcome_note = LOST_NOT_RECEIVED if door else world.rng.choice(LOST_NOTES)
    reason = "Dispute lost: the platform refunded the buyer"
    c.refund = Refund(id=world.new_id(Refund), case=case, kind=RefundKind.FULL,
                      method=RefundMethod.ORIGINAL_PAYMENT, status=RefundStatus.COMPLETED, amount=case.value,
                      currency=case.currency, reason=reason, created_at=c.t, completed_at=c.t,
                      idempotency_key=f"rf_{world.rng.getrandbits(64):016x}")
    world.counts["refunds"] += 1
    c.emit("note", "system", {"text": c.dispute.outcome_note})
    c.emit("refund_issued", "system", {"amount": str(case.value), "currency": case.currency, "kind": "full",
                                       "reason": reason})
    c.status(CaseStatus.RESOLVED, "system")
    c.status(CaseStatus.CLOSED, "system")
