"""The steps of a demo case's life, writing what the portal's own operations would have written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from portal.demo import disputes, images, returns
from portal.demo.case_ctx import SELLER_FAULT, Actor, Ctx
from portal.demo.fmt import date_text
from portal.demo.replies import REJECT_REASONS
from portal.demo.world import money
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineKind,
    EvidenceKind,
    EvidenceSource,
    OrderStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    ReturnStatus,
    TrackingStatus,
)
from portal.domain.models import Refund

PHOTO_REASONS = SELLER_FAULT | {CaseReason.COLOR}
COUPON = {"USD": 5, "GBP": 4, "EUR": 5, "MYR": 20}
DECIDING = {CaseStatus.NEW, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_BUYER}


def _photo(c: Ctx, problem: str, count: int) -> None:
    rng = c.world.rng
    for _ in range(count):
        name = f"IMG_{rng.randint(1000, 9999)}.png"
        data = images.buyer_photo(rng, c.main_item.category, problem, f"{c.case.buyer.pseudonym} {name}")
        caption = f"Buyer photo: {problem.replace('_', ' ')}"
        c.evidence(EvidenceKind.PHOTO, EvidenceSource.BUYER, data, name, caption, "buyer")


def open_case(c: Ctx) -> None:
    case, rng = c.case, c.world.rng
    system_opened = case.type == CaseType.DELIVERY_FAILED
    c.emit("case_opened", "system" if system_opened else "buyer", {"type": case.type.value,
                                                                   "reason": case.reason.value})
    if case.buyer_note:
        c.hear(case.buyer_note)
    if case.reason in PHOTO_REASONS and not system_opened and rng.random() < 0.7:
        _photo(c, case.reason.value, rng.choice((1, 1, 2, 3)))
    platform_hours = 24 if c.spec.code == "MY" else 48
    c.deadline("seller_response", DeadlineKind.PLATFORM, c.t + timedelta(hours=platform_hours))
    c.deadline("review_target", DeadlineKind.AGENT_SLA, c.t + timedelta(hours=24), pauses=True)
    c.deadline("resolution_target", DeadlineKind.AGENT_SLA, c.t + timedelta(hours=72), pauses=True)
    if system_opened and c.record.failed_at is not None:
        # The marketplace's own 12 days to ask for a redelivery run from the failed attempt.
        c.deadline("redelivery", DeadlineKind.PLATFORM, c.record.failed_at + timedelta(days=12))


def review(c: Ctx) -> None:
    case, rng = c.case, c.world.rng
    actor = c.take()
    c.status(CaseStatus.IN_REVIEW, actor)
    c.meet("seller_response", "review_target")
    outbound = c.record.outbound
    if case.type == CaseType.NOT_RECEIVED and c.plan.pool == "delivered":
        disputes.proof_of_delivery(c, actor)
    elif case.type == CaseType.NOT_RECEIVED and outbound is not None and outbound.last_event_at is not None:
        text = (f"No scan from {outbound.carrier} since {outbound.last_event_at:%d %b}; "
                "asked the carrier to trace it.")
        c.emit("note", actor, {"text": text})
        if "tracking_stale" not in c.sent:
            c.send("tracking_stale", actor)
    if case.reason == CaseReason.DAMAGED and rng.random() < 0.4:
        data = images.packing_photo(rng, c.main_item.category, f"Packed {c.record.order.external_order_id}")
        c.evidence(EvidenceKind.PACKING, EvidenceSource.SELLER, data, "packing.png",
                   "Packing photo before dispatch", actor)
    c.reply("ack", actor if not isinstance(actor, str) else None)


def ask(c: Ctx) -> None:
    case = c.case
    actor = c.actor_for("request_evidence")
    outbound = c.record.outbound
    if case.type in (CaseType.DELIVERY_FAILED, CaseType.NOT_RECEIVED) and c.plan.pool != "delivered":
        c.asked = "confirm_address"
        if "confirm_address" not in c.sent:  # the policy may have asked already
            c.send("confirm_address", actor)
    elif case.type == CaseType.NOT_RECEIVED and outbound is not None and outbound.delivered_at is not None:
        c.asked = "pod"
        c.reply("pod", c.agent, date=date_text(outbound.delivered_at, c.spec.timezone, c.lang))
    else:
        kind = "video" if c.main_item.category == "jewelry" and c.main_item.unit_price >= 150 else "photo"
        c.asked = "evidence"
        c.emit("evidence_requested", actor, {"kind": kind})
        c.send("evidence_requested", actor, {"evidence": kind})
    case.waiting_for_buyer = True
    c.status(CaseStatus.AWAITING_BUYER, actor)
    c.wait()
    c.deadline("buyer_reply", DeadlineKind.PLATFORM, c.t + timedelta(hours=72))


def buyer_reply(c: Ctx) -> None:
    kind = {"confirm_address": "address_confirmed", "pod": "found_parcel"}.get(c.asked or "", "photos_sent")
    c.hear(c.buyer_line(kind))
    if kind == "photos_sent":
        _photo(c, c.case.reason.value, c.world.rng.choice((1, 2, 2, 3)))
    c.case.waiting_for_buyer = False
    c.resume()
    c.meet("buyer_reply")
    c.status(CaseStatus.IN_REVIEW, "buyer")


def hold(c: Ctx) -> None:
    case, rng = c.case, c.world.rng
    actor = c.take()
    outbound = c.record.outbound
    if case.type == CaseType.NOT_RECEIVED and outbound is not None:
        reference = f"CI-{rng.randint(100000, 999999)}"
        text = f"Carrier investigation opened with {outbound.carrier}, reference {reference}."
    else:
        text = "Waiting for the supplier's QC report on this batch before deciding."
        case.escalated, case.queue = True, "senior"
        c.emit("escalated", actor, {"queue": "senior"})
    c.emit("note", actor, {"text": text})
    case.on_hold = True
    c.status(CaseStatus.ON_HOLD, actor)


def _refund_kind(c: Ctx) -> RefundKind:
    if "partial_refund" in c.policy_actions:
        return RefundKind.PARTIAL
    deciding_only = c.case.type == CaseType.REFUND_ONLY and "refund_done" in {n for n, _ in c.plan.steps}
    if deciding_only and not c.policy_actions & {"refund", "refund_without_return"}:
        # Compensation instead of a full refund settles the request at once (as the portal does).
        return c.world.rng.choices([RefundKind.FULL, RefundKind.PARTIAL, RefundKind.COUPON], [55, 30, 15])[0]
    return RefundKind.FULL


def _amount(c: Ctx, kind: RefundKind) -> Decimal:
    value, share = c.case.value, c.policy_share
    if kind == RefundKind.COUPON:
        return min(value, money(COUPON.get(c.case.currency, 5)))
    if kind == RefundKind.FULL:
        return value
    if isinstance(share, dict) and "percent" in share:
        return money(value * Decimal(str(share["percent"])) / 100)
    if isinstance(share, int | float | str):
        return min(value, money(Decimal(str(share))))
    return money(value * c.world.rng.choice([20, 25, 30, 40, 50]) / 100)


def _refund_reason(c: Ctx, kind: RefundKind, no_return: bool) -> str:
    if c.plan.variant == "refund_on_scan":
        return "Return = refund on the warehouse's first scan"
    if kind != RefundKind.FULL:
        return "Small defect: compensation instead of a return"
    if c.case.type == CaseType.NOT_RECEIVED:
        return "Parcel lost in transit"
    if c.case.type == CaseType.DELIVERY_FAILED:
        return "Parcel returned to sender after the failed delivery"
    return "Not worth shipping back" if no_return else "Refund after the return passed inspection"


def refund(c: Ctx) -> None:
    case, world, rng = c.case, c.world, c.world.rng
    kind = _refund_kind(c)
    amount = _amount(c, kind)
    method = RefundMethod.COUPON if kind == RefundKind.COUPON else RefundMethod.ORIGINAL_PAYMENT
    if kind == RefundKind.FULL and rng.random() < 0.08:
        method = RefundMethod.STORE_CREDIT
    no_return = case.type == CaseType.REFUND_ONLY or c.plan.variant == "no_return"
    action = {RefundKind.PARTIAL: "partial_refund", RefundKind.COUPON: "coupon"}.get(
        kind, "refund_without_return" if no_return else "refund")
    actor = c.actor_for(action)
    reason = _refund_reason(c, kind, no_return)
    c.refund = Refund(id=world.new_id(Refund), case=case, kind=kind, method=method,
                      status=RefundStatus.PENDING, amount=amount, currency=case.currency, reason=reason,
                      created_at=c.t,
                      created_by_id=actor.id if not isinstance(actor, str) else None,
                      idempotency_key=f"rf_{rng.getrandbits(64):016x}")
    world.counts["refunds"] += 1
    c.emit("refund_issued", actor, {"amount": str(amount), "currency": case.currency, "kind": kind.value,
                                    "reason": reason})
    c.send("coupon_issued" if kind == RefundKind.COUPON else "refund_initiated", actor,
           {"amount": f"{amount} {case.currency}"})
    case.waiting_for_buyer = False
    c.meet("resolution_target", "redelivery")
    settles = kind != RefundKind.FULL and case.status in DECIDING
    c.status(CaseStatus.RESOLVED if settles else CaseStatus.REFUND_PENDING, actor)


def refund_done(c: Ctx) -> None:
    assert c.refund is not None
    c.refund.status, c.refund.completed_at = RefundStatus.COMPLETED, c.t
    if c.ret is not None:
        c.ret.status = ReturnStatus.CLOSED
    c.status(CaseStatus.RESOLVED, c.take())
    if c.world.rng.random() < 0.3:
        c.hear(c.buyer_line("thanks"), at=c.t + c.world.hours(1, 20))


def reject(c: Ctx) -> None:
    case = c.case
    if case.type == CaseType.NOT_RECEIVED:
        key = "delivered"
    elif any(item.customized for item, _ in c.lines):
        key = "personalised"
    elif c.inspection is not None or case.reason not in SELLER_FAULT:
        key = "used"
    else:
        key = "no_fault"
    actor = c.actor_for("reject")
    reason = REJECT_REASONS.get(c.lang, REJECT_REASONS["en"])[key]
    case.waiting_for_buyer = False
    c.resume()
    if c.ret is not None:
        c.ret.status = ReturnStatus.CLOSED
    c.meet("resolution_target")
    c.status(CaseStatus.REJECTED, actor)
    c.emit("rejected", actor, {"reason": reason})
    c.send("request_rejected", actor, {"reason": reason})


def close(c: Ctx) -> None:
    """Nothing more to do: settled first, then closed, as the portal only closes settled cases."""
    case = c.case
    previous = c.plan.steps[c.index - 1][0] if c.index else ""
    actor: Actor
    if previous == "approve":
        text, actor = "Buyer did not ship the return by the ship-by date; closed automatically.", "system"
        if c.ret is not None:
            c.ret.status = ReturnStatus.CLOSED
    elif previous == "buyer_reply":
        text, actor = "Buyer found the parcel; closed at the buyer's request.", c.take()
    elif case.type == CaseType.DELIVERY_FAILED and c.record.outbound is not None:
        text, actor = "Buyer collected the parcel from the carrier's depot.", "system"
        _deliver(c, "Collected by recipient at depot")
    else:
        text, actor = "No reply from the buyer within 72 hours; closed automatically.", "system"
    case.waiting_for_buyer = False
    c.resume()
    c.meet("resolution_target", "redelivery")
    c.emit("note", actor, {"text": text})
    c.status(CaseStatus.RESOLVED, actor)
    c.status(CaseStatus.CLOSED, actor)


def _deliver(c: Ctx, description: str) -> None:
    """The original parcel reaches the buyer after all: new scans, and the order counts as delivered."""
    outbound, order = c.record.outbound, c.record.order
    assert outbound is not None
    place = c.record.steps[-1][2] if c.record.steps else None
    c.world.add_tracking(outbound, "out_for_delivery", "Out for delivery (second attempt)", place,
                         c.t - c.world.hours(2, 6))
    c.world.add_tracking(outbound, "delivered", description, place, c.t)
    outbound.status, outbound.delivered_at, outbound.last_event_at = TrackingStatus.DELIVERED, c.t, c.t
    order.status, order.delivered_at = OrderStatus.DELIVERED, c.t


def redeliver_request(c: Ctx) -> None:
    actor = c.take()
    arrival = c.step_time("redelivered") or c.t + c.world.days(1, 3)
    carrier = c.record.outbound.carrier if c.record.outbound else "the carrier"
    c.emit("note", actor, {"text": f"Redelivery booked with {carrier} to the confirmed address."})
    c.reply("redelivery", c.agent, date=date_text(arrival, c.spec.timezone, c.lang))
    c.meet("resolution_target")
    c.status(CaseStatus.REDELIVERY_REQUESTED, actor)


def redelivered(c: Ctx) -> None:
    _deliver(c, "Delivered on second attempt, handed to recipient")
    c.meet("redelivery")
    c.status(CaseStatus.RESOLVED, c.take())


STEPS: dict[str, Callable[[Ctx], None]] = {
    "open": open_case, "review": review, "ask": ask, "buyer_reply": buyer_reply, "hold": hold,
    "approve": returns.approve, "ship_return": returns.ship_return, "receive": returns.receive,
    "receive_far": returns.receive, "inspect": returns.inspect, "refund": refund, "refund_done": refund_done,
    "reject": reject, "close": close, "exchange_ship": returns.exchange_ship,
    "exchange_done": returns.exchange_done, "redeliver_request": redeliver_request,
    "redelivered": redelivered,
    "dispute": disputes.open_dispute, "respond": disputes.respond, "won": disputes.won, "lost": disputes.lost,
}
