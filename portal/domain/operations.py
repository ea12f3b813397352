"""What can be done to a case: agents (through the web) and the policy (through events) share these."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import deadline_rules, hooks, money
from portal.domain.conversations import steps, templates
from portal.domain.conversations.texts import buyer_language
from portal.domain.enums import (
    AddressKind,
    CaseReason,
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    Disposition,
    DisputeStatus,
    ExchangeStatus,
    InspectionResult,
    MessageDirection,
    MessageStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    ReturnStatus,
    ShipmentKind,
    ShippingPayer,
    TrackingStatus,
)
from portal.domain.lifecycle import N_, Actor, LifecycleError, move, record, require
from portal.domain.lifecycle import allowed as lifecycle_allowed
from portal.domain.models import (
    Case,
    CaseTag,
    Deadline,
    Exchange,
    Inspection,
    Message,
    Refund,
    ReturnShipment,
    Shipment,
    User,
)
from portal.domain.returns import insurance
from portal.domain.text_limits import bounded
from portal.domain.types import utcnow
from rules.limits import MAX_AMOUNT, MAX_DURATION_DAYS, MAX_DURATION_SECONDS

# The buyer has five days to ship an approved return (the marketplace's rule, unless a market changes it).
SHIP_WITHIN = timedelta(hours=float(deadline_rules.RULES["buyer_ship_by"].hours))
SELLER_FAULT = {
    CaseReason.DAMAGED,
    CaseReason.WRONG_ITEM,
    CaseReason.NOT_AS_DESCRIBED,
    CaseReason.QUALITY,
    CaseReason.MISSING_PARTS,
}
EVIDENCE_KINDS = ("photo", "video", "document")


def queue_message(
    session: Session,
    case: Case,
    template: str,
    actor: Actor,
    extra: dict[str, str] | None = None,
    body: str | None = None,
) -> Message:
    """Put a message to the buyer in the outbox; the dispatcher sends it.

    A template message is written from the case's facts and refused when it would be untrue or
    incomplete; a free-text reply may start from a template, which must still fit the case. The
    messages of one step (an agent's action and what the policy does after it) become one message.
    """
    purpose = templates.resolve_name(template) if template else None
    if template and purpose is None:
        raise LifecycleError(N_("There is no message template called “%(name)s”."), name=template)
    try:
        rendered = templates.render(session, case, purpose, extra) if purpose else None
    except templates.TemplateError as error:
        raise LifecycleError(error.message, **error.params) from None
    language = rendered.language if rendered else buyer_language(case.buyer.language)
    subject = rendered.subject if rendered else templates.reply_subject(case, language)
    text = body if body is not None else rendered.body if rendered else ""
    if purpose == "evidence_requested" and not case.waiting_for_buyer:
        # Asking for evidence by any route pauses the clocks that wait for the buyer.
        deadline_rules.set_waiting(session, case, True)
        if lifecycle_allowed(case, "request_evidence") and case.status != CaseStatus.AWAITING_BUYER:
            move(session, case, CaseStatus.AWAITING_BUYER, actor)
    earlier = steps.queued_in_step(session, case)
    if earlier is not None and body is None and earlier.template and purpose:
        message = steps.combine(earlier, purpose, subject, text)
    else:
        message = Message(
            case=case,
            direction=MessageDirection.OUTBOUND,
            status=MessageStatus.QUEUED,
            language=language,
            template=purpose,
            subject=subject,
            body=text,
            author_id=actor.user.id if actor.user else None,
            idempotency_key=uuid.uuid4().hex,
            next_attempt_at=utcnow(),
        )
        session.add(message)
        steps.remember(session, case, message)
    if case.first_response_at is None:
        case.first_response_at = utcnow()
    case.delivery_problem = None
    record(session, case, actor, "message_queued", {"template": purpose or "reply"})
    return message


def start_review(session: Session, case: Case, actor: Actor) -> None:
    require(case, "start_review")
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.IN_REVIEW, actor)


def _rma(session: Session, case: Case) -> str:
    while True:
        candidate = f"RMA-{case.market.code}-{secrets.token_hex(3).upper()}"
        if session.scalar(select(ReturnShipment.id).where(ReturnShipment.rma_number == candidate)) is None:
            return candidate


def approve_return(session: Session, case: Case, actor: Actor, now: datetime | None = None) -> ReturnShipment:
    """Create the return (RMA, the market's return address, ship-by date) and queue the instructions."""
    require(case, "approve_return")
    now = now or utcnow()
    address = next((a for a in case.market.return_addresses if a.is_default), None)
    if address is None:
        raise LifecycleError(
            N_("Market %(market)s has no default return address; add one first."), market=case.market.code
        )
    cross_border = address.kind == AddressKind.CONSOLIDATION_WAREHOUSE
    category = case.items[0].order_item.category if case.items else "goods"
    ret = ReturnShipment(
        case=case,
        rma_number=_rma(session, case),
        status=ReturnStatus.APPROVED,
        address=address,
        shipping_payer=ShippingPayer.SELLER if case.reason in SELLER_FAULT else ShippingPayer.BUYER,
        ship_by=deadline_rules.due_for(session, case, "buyer_ship_by", now) or now + SHIP_WITHIN,
        approved_at=now,
        customs_description=f"Returned {category.title()}" if cross_border else None,
        declared_value=case.value if cross_border else None,
    )
    session.add(ret)
    deadline_rules.set_waiting(session, case, True, now)
    move(session, case, CaseStatus.RETURN_APPROVED, actor, now)
    record(session, case, actor, "return_approved", {"rma": ret.rma_number, "ship_by": ret.ship_by}, now=now)
    session.flush()
    insurance.open_claim(session, case, ret, actor, now)
    message = queue_message(session, case, "return_approved", actor)
    hooks.return_approved(session, case, ret, message)
    return ret


def mark_return_shipped(
    session: Session, case: Case, actor: Actor, carrier: str = "", tracking_number: str = ""
) -> None:
    require(case, "mark_return_shipped")
    carrier, tracking_number = bounded("carrier", carrier), bounded("tracking", tracking_number)
    ret = case.returns[-1]
    now = utcnow()
    if carrier and tracking_number:
        ret.shipment = Shipment(
            order=case.order,
            kind=ShipmentKind.RETURN,
            carrier=carrier,
            tracking_number=tracking_number,
            status=TrackingStatus.IN_TRANSIT,
            shipped_at=now,
            last_event_at=now,
        )
    ret.status = ReturnStatus.IN_TRANSIT
    ret.shipped_at = now
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.RETURN_IN_TRANSIT, actor, now)
    record(
        session,
        case,
        actor,
        "return_shipped",
        {"rma": ret.rma_number, "carrier": carrier, "tracking": tracking_number},
        now=now,
    )


def mark_return_received(session: Session, case: Case, actor: Actor) -> None:
    require(case, "mark_return_received")
    ret = case.returns[-1]
    now = utcnow()
    ret.status = ReturnStatus.RECEIVED
    ret.received_at = now
    ret.shipped_at = ret.shipped_at or now
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.RETURN_RECEIVED, actor, now)
    record(session, case, actor, "return_received", {"rma": ret.rma_number}, now=now)
    queue_message(session, case, "return_received", actor)


def record_inspection(
    session: Session,
    case: Case,
    actor: Actor,
    result: InspectionResult,
    disposition: Disposition,
    notes: str = "",
    inspector: str = "",
) -> Inspection:
    require(case, "record_inspection")
    notes, inspector = bounded("inspection_notes", notes), bounded("inspector", inspector)
    ret = case.returns[-1]
    inspection = Inspection(
        case=case,
        return_id=ret.id,
        result=result,
        disposition=disposition,
        notes=notes or None,
        inspector=inspector or actor.label[:120],
    )
    session.add(inspection)
    ret.status = ReturnStatus.INSPECTED
    move(session, case, CaseStatus.INSPECTED, actor)
    record(
        session, case, actor, "inspection_done", {"result": result.value, "disposition": disposition.value}
    )
    if result == InspectionResult.PASS:
        queue_message(session, case, "inspection_passed", actor)
    return inspection


def _refund(
    session: Session,
    case: Case,
    actor: Actor,
    kind: RefundKind,
    amount: Decimal,
    reason: str,
    method: RefundMethod = RefundMethod.ORIGINAL_PAYMENT,
) -> Refund:
    if amount <= 0:
        raise LifecycleError(N_("A refund must be more than zero."))
    reason = bounded("reason", reason)
    refund = Refund(
        case=case,
        kind=kind,
        method=method,
        status=RefundStatus.PENDING,
        amount=money.cents(amount),
        currency=case.currency,
        reason=reason or None,
        created_by_id=actor.user.id if actor.user else None,
        decision_id=actor.decision_id,
    )
    session.add(refund)
    record(
        session,
        case,
        actor,
        "refund_issued",
        {"amount": refund.amount, "currency": case.currency, "kind": kind.value, "reason": reason},
    )
    template = "coupon_issued" if kind == RefundKind.COUPON else "refund_initiated"
    queue_message(session, case, template, actor)
    hooks.refund_issued(session, case, refund)
    return refund


def full_refund(session: Session, case: Case, actor: Actor, operation: str = "refund") -> Refund:
    """Refund everything that is left; `pre_refund` leaves the return running, the others settle the case."""
    require(case, operation)
    if money.has_full_refund(case):
        raise LifecycleError(N_("This case already has a full refund."))
    left = money.remaining(case)
    if left <= 0:
        raise LifecycleError(N_("Nothing is left to refund on this case."))
    refund = _refund(session, case, actor, RefundKind.FULL, left, operation)
    if operation != "pre_refund":
        deadline_rules.set_waiting(session, case, False)
        move(session, case, CaseStatus.REFUND_PENDING, actor)
    return refund


def partial_refund_value(
    case: Case, amount: Decimal | None = None, percent: Decimal | None = None
) -> Decimal:
    """What a partial refund of `amount` or `percent` comes to, refused when it is no refund this case can
    have; nothing changes, so the agent's confirm step asks it first."""
    if percent is not None and not (percent.is_finite() and 0 < percent <= 100):
        raise LifecycleError(N_("A share must be more than 0% and at most 100%."))
    if amount is not None:
        amount = check_amount(amount)
    value = money.share(case, percent) if percent is not None else money.cents(amount or Decimal("0"))
    if value <= 0:
        raise LifecycleError(N_("A refund must be more than zero."))
    left = money.remaining(case)
    if value > left:
        raise LifecycleError(
            N_("A partial refund of %(amount)s is more than the %(left)s left to refund."),
            amount=f"{value} {case.currency}",
            left=f"{left} {case.currency}",
        )
    return value


def partial_refund(
    session: Session,
    case: Case,
    actor: Actor,
    amount: Decimal | None = None,
    percent: Decimal | None = None,
    reason: str = "",
) -> Refund:
    require(case, "partial_refund")
    value = partial_refund_value(case, amount, percent)
    refund = _refund(session, case, actor, RefundKind.PARTIAL, value, reason or "partial refund")
    _settle_if_deciding(session, case, actor)
    return refund


def coupon_value(case: Case, amount: Decimal) -> Decimal:
    """The coupon an agent asked for, to the cent, refused when it is worth more than the case."""
    value = money.cents(check_amount(amount))
    if value > case.value:
        raise LifecycleError(
            N_("A coupon of %(amount)s is more than the case is worth."), amount=f"{value} {case.currency}"
        )
    return value


def coupon(session: Session, case: Case, actor: Actor, amount: Decimal, reason: str = "") -> Refund:
    require(case, "coupon")
    value = coupon_value(case, amount)
    refund = _refund(session, case, actor, RefundKind.COUPON, value, reason or "coupon", RefundMethod.COUPON)
    _settle_if_deciding(session, case, actor)
    return refund


def _settle_if_deciding(session: Session, case: Case, actor: Actor) -> None:
    # Compensation offered instead of a return closes the request; later on (say, a stale parcel) it does not.
    if case.status in {CaseStatus.NEW, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_BUYER}:
        deadline_rules.set_waiting(session, case, False)
        move(session, case, CaseStatus.RESOLVED, actor)


def confirm_refund(session: Session, case: Case, actor: Actor) -> None:
    require(case, "confirm_refund")
    for refund in case.refunds:
        if refund.status in (RefundStatus.PENDING, RefundStatus.PROCESSING):
            refund.status = RefundStatus.COMPLETED
            refund.completed_at = utcnow()
    move(session, case, CaseStatus.RESOLVED, actor)


def exchange(session: Session, case: Case, actor: Actor, replacement_sku: str | None = None) -> Exchange:
    """Promise a replacement; the item comes back first unless it already has."""
    require(case, "exchange")
    sku = replacement_sku or (case.items[0].order_item.sku if case.items else "")
    swap = Exchange(case=case, replacement_sku=sku, status=ExchangeStatus.PENDING)
    session.add(swap)
    record(session, case, actor, "exchange_promised", {"sku": sku})
    if case.status not in {CaseStatus.RETURN_RECEIVED, CaseStatus.INSPECTED}:
        approve_return(session, case, actor)
    return swap


def ship_exchange(session: Session, case: Case, actor: Actor, carrier: str, tracking_number: str) -> None:
    require(case, "ship_exchange")
    carrier, tracking_number = bounded("carrier", carrier), bounded("tracking", tracking_number)
    if not carrier or not tracking_number:
        raise LifecycleError(N_("Give the carrier and the tracking number of the replacement."))
    swap = next((e for e in case.exchanges if e.status == ExchangeStatus.PENDING), None)
    if swap is None:
        swap = Exchange(
            case=case,
            replacement_sku=case.items[0].order_item.sku if case.items else "",
            status=ExchangeStatus.PENDING,
        )
        session.add(swap)
    now = utcnow()
    swap.shipment = Shipment(
        order=case.order,
        kind=ShipmentKind.REPLACEMENT,
        carrier=carrier,
        tracking_number=tracking_number,
        status=TrackingStatus.INFO_RECEIVED,
        shipped_at=now,
        last_event_at=now,
    )
    swap.status = ExchangeStatus.SHIPPED
    swap.shipped_at = now
    move(session, case, CaseStatus.EXCHANGE_SHIPPED, actor, now)
    record(
        session, case, actor, "exchange_shipped", {"carrier": carrier, "tracking": tracking_number}, now=now
    )
    queue_message(session, case, "exchange_shipped", actor, {"tracking": f"{carrier} {tracking_number}"})


def rejection_reason(reason: str) -> str:
    """The reason a buyer will read, trimmed and within its limit; refused when empty."""
    reason = bounded("reason", reason)
    if not reason:
        raise LifecycleError(N_("Give the reason the buyer will see."))
    return reason


def reject(session: Session, case: Case, actor: Actor, reason: str) -> None:
    require(case, "reject")
    reason = rejection_reason(reason)
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.REJECTED, actor)
    record(session, case, actor, "rejected", {"reason": reason})
    queue_message(session, case, "request_rejected", actor, {"reason": reason})
    hooks.request_rejected(session, case, reason)


def request_evidence(session: Session, case: Case, actor: Actor, kind: str) -> None:
    require(case, "request_evidence")
    if kind not in EVIDENCE_KINDS:
        raise LifecycleError(N_("Ask for a photo, a video or a document."))
    deadline_rules.set_waiting(session, case, True)
    move(session, case, CaseStatus.AWAITING_BUYER, actor)
    record(session, case, actor, "evidence_requested", {"kind": kind})
    queue_message(session, case, "evidence_requested", actor, {"evidence": kind})


def request_redelivery(session: Session, case: Case, actor: Actor) -> None:
    require(case, "request_redelivery")
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.REDELIVERY_REQUESTED, actor)


def respond_dispute(session: Session, case: Case, actor: Actor, note: str) -> None:
    require(case, "respond_dispute")
    dispute = next((d for d in case.disputes if d.status == DisputeStatus.OPEN), None)
    if dispute is None:
        raise LifecycleError(N_("There is no open dispute on this case."))
    dispute.status = DisputeStatus.RESPONDED
    dispute.responded_at = utcnow()
    note = bounded("dispute_note", note)
    dispute.outcome_note = note or None
    record(session, case, actor, "dispute_responded", {"note": note})
    deadline_rules.met(case, "dispute_response")


def resolve(session: Session, case: Case, actor: Actor) -> None:
    require(case, "resolve")
    deadline_rules.set_waiting(session, case, False)
    move(session, case, CaseStatus.RESOLVED, actor)


def close(session: Session, case: Case, actor: Actor) -> None:
    require(case, "close")
    move(session, case, CaseStatus.CLOSED, actor)


def hold(session: Session, case: Case, actor: Actor) -> None:
    """Pause automation; a person decides from here."""
    require(case, "hold")
    case.on_hold = True
    move(session, case, CaseStatus.ON_HOLD, actor)


def release(session: Session, case: Case, actor: Actor) -> None:
    require(case, "release")
    held = next(
        (
            e
            for e in reversed(case.events)
            if e.kind == "status_changed" and e.data.get("to") == CaseStatus.ON_HOLD.value
        ),
        None,
    )
    before = CaseStatus(held.data["from"]) if held else CaseStatus.IN_REVIEW
    case.on_hold = False
    move(session, case, before, actor)


def escalate(session: Session, case: Case, actor: Actor) -> None:
    require(case, "escalate")
    case.escalated = True
    case.queue = "senior"
    record(session, case, actor, "escalated", {"queue": "senior"})


def assign_queue(session: Session, case: Case, actor: Actor, queue: str) -> None:
    require(case, "assign")
    queue = bounded("queue", queue).lower()
    if not queue:
        raise LifecycleError(N_("Name the queue."))
    case.queue = queue
    record(session, case, actor, "queued", {"queue": queue})


def assign_to(session: Session, case: Case, actor: Actor, user: User | None) -> None:
    require(case, "assign_to")
    case.assignee = user
    record(session, case, actor, "assigned", {"to": user.name if user else None})


def set_deadline(
    session: Session, case: Case, actor: Actor, name: str, seconds: int, pauses_while_waiting: bool = False
) -> Deadline:
    require(case, "set_deadline")
    if not 0 < seconds <= MAX_DURATION_SECONDS:
        # A policy checked before the checker bounded durations may still ask for this.
        raise LifecycleError(
            N_("A deadline must be more than zero and at most %(days)s days away."), days=MAX_DURATION_DAYS
        )
    deadline = Deadline(
        case=case,
        name=name[:64],
        kind=DeadlineKind.POLICY,
        state=DeadlineState.PENDING,
        due_at=utcnow() + timedelta(seconds=seconds),
        pauses_while_waiting=pauses_while_waiting,
    )
    session.add(deadline)
    record(session, case, actor, "deadline_set", {"name": name, "due_at": deadline.due_at})
    return deadline


def add_note(session: Session, case: Case, actor: Actor, text: str) -> None:
    text = bounded("note", text)
    if not text:
        raise LifecycleError(N_("The note is empty."))
    record(session, case, actor, "note", {"text": text})


def add_tag(session: Session, case: Case, actor: Actor, tag: str) -> None:
    tag = bounded("tag", tag).lower().replace(" ", "_")
    if not tag:
        raise LifecycleError(N_("The tag is empty."))
    if any(t.tag == tag for t in case.tags):
        return
    case.tags.append(CaseTag(tag=tag))
    record(session, case, actor, "tagged", {"tag": tag})


MAX_REPLY = 4000


def reply(session: Session, case: Case, actor: Actor, body: str, template: str | None = None) -> Message:
    body = body.strip()
    if not body:
        raise LifecycleError(N_("The reply is empty."))
    if len(body) > MAX_REPLY:
        raise LifecycleError(N_("A reply is at most %(limit)d characters."), limit=MAX_REPLY)
    if templates.has_unfilled(body):
        raise LifecycleError(
            N_("The reply still has a placeholder (%(field)s); fill it in or remove it before sending."),
            field=templates.has_unfilled(body),
        )
    return queue_message(session, case, template or "", actor, body=body)


def parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        raise LifecycleError(N_("“%(text)s” is not an amount."), text=text) from None
    if not value.is_finite() or value <= 0:
        raise LifecycleError(N_("The amount must be more than zero."))
    return check_amount(value)


def check_amount(value: Decimal) -> Decimal:
    """`value` when it is an amount a case can have: finite, above zero, at most MAX_AMOUNT."""
    if not value.is_finite() or value <= 0:
        raise LifecycleError(N_("The amount must be more than zero."))
    if value > MAX_AMOUNT:
        raise LifecycleError(N_("The amount must be at most %(limit)s."), limit=f"{MAX_AMOUNT:,}")
    return value
