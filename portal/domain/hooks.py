"""Points where other parts of the portal join the lifecycle without the lifecycle importing them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from portal.domain.models import Case, Message, ReturnShipment

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
