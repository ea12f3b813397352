"""What API clients do to cases: open one for an order, record a business event.

Each goes through the operations and event handling the portal's own pages use, so a program can do
nothing the case's lifecycle would refuse an agent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import events, lifecycle
from portal.domain import operations as ops
from portal.domain.enums import (
    CaseReason,
    CaseType,
    Disposition,
    InspectionResult,
)
from portal.domain.lifecycle import N_, Actor
from portal.domain.lookups import next_case_number
from portal.domain.models import ApiIdempotencyKey, Case, CaseItem, Decision, Order


class InputError(Exception):
    """Request values that name things which do not exist or do not fit; messages per field."""

    def __init__(self, fields: dict[str, list[tuple[str, dict[str, Any]]]]) -> None:
        super().__init__("; ".join(f"{k}: {m % p if p else m}" for k, v in fields.items() for m, p in v))
        self.fields = fields


class IdempotencyMismatch(Exception):
    """An Idempotency-Key used before with a different request."""


@dataclass(frozen=True)
class RequestedItem:
    sku: str
    quantity: int


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def replayed_case(session: Session, token_id: int, key: str, body_hash: str) -> Case | None:
    """The case an earlier request with this Idempotency-Key created, if any."""
    row = session.scalar(
        select(ApiIdempotencyKey).where(ApiIdempotencyKey.token_id == token_id, ApiIdempotencyKey.key == key)
    )
    if row is None:
        return None
    if row.request_hash != body_hash:
        raise IdempotencyMismatch(key)
    return row.case


def _case_items(order: Order, requested: list[RequestedItem] | None) -> list[CaseItem]:
    if not requested:
        return [CaseItem(order_item=item, quantity=item.quantity) for item in order.items]
    by_sku = {item.sku: item for item in order.items}
    problems: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    chosen: list[CaseItem] = []
    seen: set[str] = set()
    for i, wanted in enumerate(requested):
        item = by_sku.get(wanted.sku)
        if item is None:
            problems[f"items.{i}.sku"] = [
                (
                    N_("Order %(order)s has no item %(sku)s."),
                    {"order": order.external_order_id, "sku": wanted.sku},
                )
            ]
        elif wanted.sku in seen:
            problems[f"items.{i}.sku"] = [(N_("Item %(sku)s is listed twice."), {"sku": wanted.sku})]
        elif wanted.quantity > item.quantity:
            problems[f"items.{i}.quantity"] = [
                (N_("Only %(count)d of %(sku)s were ordered."), {"count": item.quantity, "sku": wanted.sku})
            ]
        else:
            chosen.append(CaseItem(order_item=item, quantity=wanted.quantity))
        seen.add(wanted.sku)
    if problems:
        raise InputError(problems)
    return chosen


def open_case_for_order(
    session: Session,
    actor: Actor,
    *,
    order_id: str,
    type: CaseType,
    reason: CaseReason,
    items: list[RequestedItem] | None = None,
    note: str | None = None,
    idempotency: tuple[int, str, str] | None = None,
    buyer_email: str | None = None,
    return_insurance: bool | None = None,
    return_insurer: str | None = None,
) -> Case:
    """Open a case on an existing order and let the market's policy decide its first step.

    `idempotency` is (token id, key, request hash): the case is remembered under the key in the same
    transaction, so a retry finds it. The caller commits.
    """
    order = session.scalar(select(Order).where(Order.external_order_id == order_id))
    if order is None:
        raise InputError({"order_id": [(N_("There is no order %(order)s."), {"order": order_id})]})
    chosen = _case_items(order, items)
    if buyer_email:
        order.buyer.email = buyer_email
    if return_insurance is not None or return_insurer:
        order.return_insurance = return_insurance if return_insurance is not None else True
        order.return_insurer = return_insurer.strip() if return_insurer and order.return_insurance else None
    value = sum((ci.order_item.unit_price * ci.quantity for ci in chosen), Decimal(0))
    for _attempt in range(5):
        case = Case(
            number=next_case_number(session),
            shop_id=order.shop_id,
            market_id=order.market_id,
            order=order,
            buyer_id=order.buyer_id,
            type=type,
            reason=reason,
            value=value,
            currency=order.currency,
            buyer_note=(note or "").strip()[:4000] or None,
        )
        case.items.extend(chosen)
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            # Another request took the number between our look and our insert; take the next one.
            chosen = [CaseItem(order_item=ci.order_item, quantity=ci.quantity) for ci in chosen]
            continue
        break
    else:
        raise RuntimeError("could not find a free case number")
    if idempotency is not None:
        token_id, key, body_hash = idempotency
        session.add(ApiIdempotencyKey(token_id=token_id, key=key, request_hash=body_hash, case_id=case.id))
        session.flush()
    events.open_case(session, case, actor)
    return case


def _return_shipped(session: Session, case: Case, actor: Actor, data: dict[str, Any]) -> Decision | None:
    ops.mark_return_shipped(session, case, actor, data["carrier"].strip(), data["tracking_number"].strip())
    return events.handle_event(session, case, "return_shipped")


def _return_received(session: Session, case: Case, actor: Actor, data: dict[str, Any]) -> Decision | None:
    ops.mark_return_received(session, case, actor)
    return events.handle_event(session, case, "return_received")


def _inspection_done(session: Session, case: Case, actor: Actor, data: dict[str, Any]) -> Decision | None:
    ops.record_inspection(
        session,
        case,
        actor,
        InspectionResult(data["result"]),
        Disposition(data["disposition"]),
        data.get("notes") or "",
        data.get("inspector") or "",
    )
    return events.handle_event(session, case, "inspection_done")


def _exchange_shipped(session: Session, case: Case, actor: Actor, data: dict[str, Any]) -> Decision | None:
    ops.ship_exchange(session, case, actor, data["carrier"], data["tracking_number"])
    return None


# Each business event, with the lifecycle operation it is; the same pairs the case page uses.
EVENT_HANDLERS: dict[str, tuple[str, Callable[[Session, Case, Actor, dict[str, Any]], Decision | None]]] = {
    "return_shipped": ("mark_return_shipped", _return_shipped),
    "return_received": ("mark_return_received", _return_received),
    "inspection_done": ("record_inspection", _inspection_done),
    "exchange_shipped": ("ship_exchange", _exchange_shipped),
}


def allowed_events(case: Case) -> list[str]:
    """The events the case's lifecycle accepts now."""
    return [name for name, (operation, _) in EVENT_HANDLERS.items() if lifecycle.allowed(case, operation)]


def record_event(
    session: Session, case: Case, actor: Actor, event: str, data: dict[str, Any]
) -> Decision | None:
    """Record a business event; raises LifecycleError when the case's state does not allow it."""
    operation, handler = EVENT_HANDLERS[event]
    lifecycle.require(case, operation)
    return handler(session, case, actor, data)


