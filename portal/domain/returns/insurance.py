"""Return-shipping insurance: an insured order's approved return calls for a claim the seller makes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from portal.domain.lifecycle import N_, Actor, LifecycleError, record
from portal.domain.models import Case, InsuranceClaim, ReturnShipment

TO_CLAIM = "to_claim"
CLAIMED = "claimed"


def open_claim(
    session: Session, case: Case, ret: ReturnShipment, actor: Actor, now: datetime | None = None
) -> InsuranceClaim | None:
    """The claim for the postage of `ret` when the order is insured (once per return); None otherwise."""
    order = case.order
    if not order.return_insurance:
        return None
    existing = next(iter(ret.claims), None)
    if existing is not None:
        return existing
    claim = InsuranceClaim(
        case_id=case.id, return_shipment=ret, insurer=order.return_insurer, status=TO_CLAIM
    )
    session.add(claim)
    record(
        session,
        case,
        actor,
        "insurance_claim_opened",
        {"rma": ret.rma_number, "insurer": order.return_insurer or ""},
        now=now,
    )
    return claim


def mark_claimed(session: Session, case: Case, claim_id: int, actor: Actor) -> InsuranceClaim:
    """An agent made the claim with the insurer."""
    claim = session.get(InsuranceClaim, claim_id)
    if claim is None or claim.case_id != case.id:
        raise LifecycleError(N_("This case has no such insurance claim."))
    if claim.status == CLAIMED:
        raise LifecycleError(N_("This insurance claim is already marked as made; nothing was changed."))
    claim.status = CLAIMED
    record(
        session,
        case,
        actor,
        "insurance_claimed",
        {"rma": claim.return_shipment.rma_number, "insurer": claim.insurer or ""},
    )
    return claim
