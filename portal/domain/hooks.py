"""Points where other parts of the portal join the lifecycle without the lifecycle importing them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from portal.domain.models import Case, Message, Refund, ReturnShipment

ReturnApprovedHook = Callable[[Session, Case, ReturnShipment, Message], None]
_return_approved: list[ReturnApprovedHook] = []


def on_return_approved(hook: ReturnApprovedHook) -> ReturnApprovedHook:
    """Register a function to run when a return is approved (the return-instructions PDF uses this)."""
    if hook not in _return_approved:
        _return_approved.append(hook)
    return hook


def return_approved(session: Session, case: Case, ret: ReturnShipment, message: Message) -> None:
    for hook in _return_approved:
        hook(session, case, ret, message)


RejectedHook = Callable[[Session, Case, str], None]
RefundIssuedHook = Callable[[Session, Case, Refund], None]
_request_rejected: list[RejectedHook] = []
_refund_issued: list[RefundIssuedHook] = []


def on_request_rejected(hook: RejectedHook) -> RejectedHook:
    """Register a function to run when a request is rejected (marketplace returns are told through this)."""
    if hook not in _request_rejected:
        _request_rejected.append(hook)
    return hook


def request_rejected(session: Session, case: Case, reason: str) -> None:
    for hook in _request_rejected:
        hook(session, case, reason)


def on_refund_issued(hook: RefundIssuedHook) -> RefundIssuedHook:
    """Register a function to run when a refund or coupon is issued (before the case moves on)."""
    if hook not in _refund_issued:
        _refund_issued.append(hook)
    return hook


def refund_issued(session: Session, case: Case, refund: Refund) -> None:
    for hook in _refund_issued:
        hook(session, case, refund)
