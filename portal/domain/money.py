"""Refund arithmetic: amounts are Decimal in the case currency, and never more than is left to refund."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from portal.domain.enums import RefundKind, RefundStatus
from portal.domain.models import Case

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def refunded(case: Case) -> Decimal:
    """Money already returned or on its way (coupons are compensation, not refunds)."""
    return sum(
        (r.amount for r in case.refunds if r.kind != RefundKind.COUPON and r.status != RefundStatus.FAILED),
        Decimal("0"),
    )


def remaining(case: Case) -> Decimal:
    return max(Decimal("0"), cents(case.value - refunded(case)))


def has_full_refund(case: Case) -> bool:
    return any(r.kind == RefundKind.FULL and r.status != RefundStatus.FAILED for r in case.refunds)


def share(case: Case, percent: Decimal) -> Decimal:
    """`percent` of the case value, to the cent."""
    return cents(case.value * percent / Decimal(100))
