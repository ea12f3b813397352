"""What a marketplace notification means for the portal: cases opened and moved, orders and parcels updated.

Cases move only through the operations agents use (portal.domain.operations) and the policy's events,
never by setting their fields. What the marketplace already did is mirrored under `mirroring()`, so it
is not sent back as a command.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import events, lifecycle
from portal.domain import operations as ops
from portal.domain.attachments import AttachmentStore
from portal.domain.conversations import inbound
from portal.domain.enums import (
    OPEN_STATUSES,
    CaseReason,
    CaseType,
    Channel,
    OrderStatus,
    ShipmentKind,
    TrackingStatus,
)
from portal.domain.lifecycle import Actor, LifecycleError
from portal.domain.lookups import next_case_number
from portal.domain.marketplace.client import MarketplaceClient
from portal.domain.marketplace.commands import mirroring
from portal.domain.marketplace.inbox import (
    CANCELLATION_STATUS_CHANGE,
    NEW_CONVERSATION,
    NEW_MESSAGE,
    ORDER_STATUS_CHANGE,
    PACKAGE_UPDATE,
    RETURN_STATUS_CHANGE,
    Envelope,
)
from portal.domain.models import (
    Buyer,
    Case,
    CaseItem,
    Market,
    MarketplaceEntity,
    Order,
    OrderItem,
    Shipment,
    Shop,
)
from portal.domain.types import utcnow

MARKETPLACE = Actor.system("TikTok Shop")

CASE_TYPES = {
    "REFUND": CaseType.REFUND_ONLY,
    "RETURN_AND_REFUND": CaseType.RETURN_AND_REFUND,
    "REPLACEMENT": CaseType.EXCHANGE,
}
REQUESTED = {"RETURN_OR_REFUND_REQUEST_PENDING", "REPLACEMENT_REQUEST_PENDING"}
APPROVED = {"AWAITING_BUYER_SHIP", "BUYER_SHIPPED_ITEM"}
REJECTED = {"REFUND_OR_RETURN_REQUEST_REJECT", "REPLACEMENT_REQUEST_REJECT"}
REFUNDED = {"RETURN_OR_REFUND_REQUEST_SUCCESS", "REPLACEMENT_REQUEST_REFUND_SUCCESS"}
COMPLETED = {"RETURN_OR_REFUND_REQUEST_COMPLETE", "REPLACEMENT_REQUEST_COMPLETE"}
WITHDRAWN = {"RETURN_OR_REFUND_REQUEST_CANCEL"}
# A request first heard of in one of these needs no case: it was settled without the seller.
ENDED = REJECTED | COMPLETED | WITHDRAWN

ORDER_STATUSES = {
    "UNPAID": None,
    "ON_HOLD": OrderStatus.PAID,
    "AWAITING_SHIPMENT": OrderStatus.PAID,
    "AWAITING_COLLECTION": OrderStatus.PAID,
    "PARTIALLY_SHIPPING": OrderStatus.SHIPPED,
    "IN_TRANSIT": OrderStatus.SHIPPED,
    "DELIVERED": OrderStatus.DELIVERED,
    "COMPLETED": OrderStatus.DELIVERED,
    "CANCELLED": OrderStatus.CANCELLED,
}
CANCELLED = {"CANCELLATION_REQUEST_SUCCESS", "CANCELLATION_REQUEST_COMPLETE"}
# The marketplace names some countries differently from the portal's market codes.
REGIONS = {"GB": "UK"}
REASON_WORDS: list[tuple[str, CaseReason]] = [
    ("size", CaseReason.SIZE),
    ("colo", CaseReason.COLOR),
    ("damage", CaseReason.DAMAGED),
    ("broken", CaseReason.DAMAGED),
    ("missing", CaseReason.MISSING_PARTS),
    ("wrong", CaseReason.WRONG_ITEM),
    ("description", CaseReason.NOT_AS_DESCRIBED),
    ("not_as", CaseReason.NOT_AS_DESCRIBED),
    ("quality", CaseReason.QUALITY),
    ("defect", CaseReason.QUALITY),
    ("not_received", CaseReason.NOT_RECEIVED),
    ("lost", CaseReason.NOT_RECEIVED),
    ("late", CaseReason.LATE_DELIVERY),
]


class ProcessingError(Exception):
    """The notification cannot be applied now; `retryable` says whether a later attempt may work."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Outcome:
    DONE = "done"
    STALE = "stale"  # older than what we hold; kept, not applied
    IGNORED = "ignored"  # a type the portal does not act on; kept


def apply(
    session: Session,
    envelope: Envelope,
    client: MarketplaceClient | None,
    store: AttachmentStore | None = None,
) -> tuple[str, int | None]:
    """Apply one notification; returns the outcome and the case it touched, if any."""
    if envelope.type in (NEW_CONVERSATION, NEW_MESSAGE):
        return _conversation(session, envelope, client, store)
    handler = HANDLERS.get(envelope.type)
    if handler is None:
        return Outcome.IGNORED, None
    return handler(session, envelope, client)


def _conversation(
    session: Session, envelope: Envelope, client: MarketplaceClient | None, store: AttachmentStore | None
) -> tuple[str, int | None]:
    """Customer-service notifications: the buyer's messages (type 14) and new conversations (13)."""
    try:
        if envelope.type == NEW_CONVERSATION:
            inbound.new_conversation(session, envelope.data, client)
            return Outcome.DONE, None
        return inbound.new_message(session, envelope.data, client, store)
    except inbound.InboundError as error:
        raise ProcessingError(str(error), retryable=error.retryable) from None


def _update_time(envelope: Envelope) -> int:
    value = envelope.data.get("update_time")
    try:
        return int(value) if value is not None else envelope.timestamp
    except (TypeError, ValueError):
        return envelope.timestamp


def _entity(session: Session, kind: str, external_id: str) -> MarketplaceEntity | None:
    query = select(MarketplaceEntity).where(
        MarketplaceEntity.kind == kind, MarketplaceEntity.external_id == external_id
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()  # two processors on one object take turns
    return session.scalar(query)


def _is_stale(entity: MarketplaceEntity | None, status: str, update_time: int) -> bool:
    if entity is None:
        return False
    return update_time < entity.update_time or (update_time == entity.update_time and status == entity.status)


def _required(data: dict[str, Any], key: str) -> str:
    value = str(data.get(key) or "").strip()
    if not value:
        raise ProcessingError(f"the notification has no {key}", retryable=False)
    return value[:64]


# ---- returns, refunds and replacements (type 12) ------------------------------------------------------


def _return_status(
    session: Session, envelope: Envelope, client: MarketplaceClient | None
) -> tuple[str, int | None]:
    data = envelope.data
    return_id = _required(data, "return_id")
    status = str(data.get("return_status") or "").strip()[:64]
    update_time = _update_time(envelope)
    entity = _entity(session, "return", return_id)
    if _is_stale(entity, status, update_time):
        return Outcome.STALE, entity.case_id if entity else None
    if entity is None:
        entity = MarketplaceEntity(
            kind="return",
            external_id=return_id,
            status=status,
            update_time=update_time,
            return_type=str(data.get("return_type") or "")[:32] or None,
        )
        session.add(entity)
    if entity.case is None and status not in ENDED:
        detail = client.get_return(return_id) if client else None
        if client and detail is None:
            raise ProcessingError(f"the marketplace does not know return {return_id} yet")
        first_decided_elsewhere = status not in REQUESTED
        with mirroring() if first_decided_elsewhere else contextlib.nullcontext():
            entity.case = _open_case(session, envelope, entity, detail, client)
    entity.status = status
    entity.update_time = update_time
    case = entity.case
    if case is not None:
        lifecycle.record(
            session, case, MARKETPLACE, "marketplace_status", {"status": status, "return_id": return_id}
        )
        with mirroring():
            _follow_return(session, case, status, data)
    return Outcome.DONE, case.id if case else None


def _follow_return(session: Session, case: Case, status: str, data: dict[str, Any]) -> None:
    """Bring the case to where the marketplace says the request is, one allowed operation at a time."""
    if status in APPROVED and lifecycle.allowed(case, "approve_return"):
        _mirror(session, case, "approve_return", lambda: ops.approve_return(session, case, MARKETPLACE))
    if status == "BUYER_SHIPPED_ITEM" and lifecycle.allowed(case, "mark_return_shipped"):
        carrier = str(data.get("return_provider_name") or "")
        tracking = str(data.get("return_tracking_number") or "")

        def shipped() -> None:
            ops.mark_return_shipped(session, case, MARKETPLACE, carrier, tracking)
            events.handle_event(session, case, "return_shipped")

        _mirror(session, case, "mark_return_shipped", shipped)
    if status in REJECTED and lifecycle.allowed(case, "reject"):
        _mirror(
            session,
            case,
            "reject",
            lambda: ops.reject(session, case, MARKETPLACE, "The marketplace rejected the request."),
        )
    if status in REFUNDED | COMPLETED:
        if lifecycle.allowed(case, "confirm_refund"):
            _mirror(session, case, "confirm_refund", lambda: ops.confirm_refund(session, case, MARKETPLACE))
        elif status in REFUNDED and case.status in OPEN_STATUSES and lifecycle.allowed(case, "resolve"):
            _mirror(session, case, "resolve", lambda: ops.resolve(session, case, MARKETPLACE))
    if status in COMPLETED and lifecycle.allowed(case, "close"):
        _mirror(session, case, "close", lambda: ops.close(session, case, MARKETPLACE))
    if status in WITHDRAWN and case.status in OPEN_STATUSES and lifecycle.allowed(case, "resolve"):
        _mirror(session, case, "resolve", lambda: ops.resolve(session, case, MARKETPLACE))


def _mirror(session: Session, case: Case, operation: str, apply_it: Callable[[], object]) -> None:
    try:
        with session.begin_nested():
            apply_it()
    except LifecycleError as error:
        # The case cannot follow (say, it is on hold): the timeline says so and an agent takes over.
        lifecycle.record(
            session, case, MARKETPLACE, "action_skipped", {"action": operation, "reason": str(error)}
        )


def _reason(detail: dict[str, Any] | None) -> CaseReason:
    text = str((detail or {}).get("return_reason") or "").lower()
    return next((reason for word, reason in REASON_WORDS if word in text), CaseReason.CHANGED_MIND)


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and amount > 0 else None


def _open_case(
    session: Session,
    envelope: Envelope,
    entity: MarketplaceEntity,
    detail: dict[str, Any] | None,
    client: MarketplaceClient | None,
) -> Case:
    order = _order(session, envelope, _required(envelope.data, "order_id"), client)
    case_type = CASE_TYPES.get(entity.return_type or "", CaseType.RETURN_AND_REFUND)
    wanted = {
        str(line.get("order_line_item_id") or line.get("seller_sku") or "")
        for line in (detail or {}).get("return_line_items") or []
    }
    items = [i for i in order.items if wanted & {f"li-{i.id}", i.sku}] or list(order.items)
    value = _money(((detail or {}).get("refund_amount") or {}).get("refund_total"))
    if value is None:
        value = sum((i.unit_price * i.quantity for i in items), Decimal(0)) or order.total_amount
    case = Case(
        number=next_case_number(session),
        shop_id=order.shop_id,
        market_id=order.market_id,
        order=order,
        buyer_id=order.buyer_id,
        type=case_type,
        reason=_reason(detail),
        value=value,
        currency=order.currency,
        requested_amount=value,
        buyer_note=str((detail or {}).get("return_reason_text") or "")[:4000] or None,
        opened_at=_at(envelope.data.get("create_time")) or utcnow(),
    )
    case.items.extend(CaseItem(order_item=i, quantity=i.quantity) for i in items)
    entity.case = case
    entity.order_id = order.id
    events.open_case(session, case, MARKETPLACE)
    return case



def _at(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _order(session: Session, envelope: Envelope, order_id: str, client: MarketplaceClient | None) -> Order:
    """The local order, or one made from the marketplace's record of it."""
    order = session.scalar(select(Order).where(Order.external_order_id == order_id))
    if order is not None:
        return order
    if client is None:
        raise ProcessingError(
            f"order {order_id} is not in the portal and no marketplace API is configured", retryable=False
        )
    remote = client.get_order(order_id)
    if remote is None:
        raise ProcessingError(f"the marketplace does not know order {order_id} yet")
    shop = session.scalar(select(Shop).where(Shop.external_shop_id == envelope.shop_id))
    if shop is None:
        raise ProcessingError(f"shop {envelope.shop_id} is not set up in the portal", retryable=False)
    region = str((remote.get("recipient_address") or {}).get("region_code") or "").upper()
    code = REGIONS.get(region, region)
    market = session.scalar(select(Market).where(Market.shop_id == shop.id, Market.code == code))
    if market is None:
        raise ProcessingError(f"shop {envelope.shop_id} has no market {code or '(none)'}", retryable=False)
    user = str(remote.get("user_id") or "unknown")[:56]
    buyer = session.scalar(select(Buyer).where(Buyer.pseudonym == f"tts_{user}"))
    if buyer is None:
        name = str((remote.get("recipient_address") or {}).get("name") or "TikTok Shop buyer")[:120]
        buyer = Buyer(
            shop_id=shop.id,
            pseudonym=f"tts_{user}",
            marketplace_user_id=user,
            display_name=name,
            market=market,
            language=market.language,
            timezone=market.timezone,
            orders_count=1,
            first_order_at=_at(remote.get("create_time")),
        )
        session.add(buyer)
    payment = remote.get("payment") or {}
    currency = str(payment.get("currency") or market.currency)[:3]
    order = Order(
        shop_id=shop.id,
        market=market,
        buyer=buyer,
        external_order_id=order_id,
        channel=Channel.ORGANIC,
        status=ORDER_STATUSES.get(str(remote.get("status")), None) or OrderStatus.DELIVERED,
        currency=currency,
        total_amount=_money(payment.get("total_amount")) or Decimal("0.00"),
        placed_at=_at(remote.get("create_time")) or utcnow(),
        delivered_at=_at(remote.get("delivery_time")),
    )
    session.add(order)
    for line in remote.get("line_items") or []:
        session.add(
            OrderItem(
                order=order,
                sku=str(line.get("seller_sku") or line.get("sku_id") or "unknown")[:64],
                title=str(line.get("product_name") or "Item")[:200],
                category=str(line.get("category") or "goods")[:32],
                quantity=int(line.get("quantity") or 1),
                unit_price=_money(line.get("sale_price")) or Decimal("0.00"),
                currency=currency,
            )
        )
    if remote.get("tracking_number"):
        _outbound(session, order, remote)
    session.flush()
    return order


# ---- orders, parcels and cancellations (types 1, 4, 11) ---------------------------------------------


def _order_status(
    session: Session, envelope: Envelope, client: MarketplaceClient | None
) -> tuple[str, int | None]:
    order_id = _required(envelope.data, "order_id")
    status = str(envelope.data.get("order_status") or "").strip()[:64]
    update_time = _update_time(envelope)
    entity = _entity(session, "order", order_id)
    if _is_stale(entity, status, update_time):
        return Outcome.STALE, None
    order = session.scalar(select(Order).where(Order.external_order_id == order_id))
    _remember(session, entity, "order", order_id, status, update_time, order)
    mapped = ORDER_STATUSES.get(status)
    if order is not None and mapped is not None and order.status != mapped:
        order.status = mapped
        if mapped == OrderStatus.DELIVERED and order.delivered_at is None:
            order.delivered_at = _at(update_time) or utcnow()
    return Outcome.DONE, None


def _package(
    session: Session, envelope: Envelope, client: MarketplaceClient | None
) -> tuple[str, int | None]:
    order_id = _required(envelope.data, "order_id")
    package_id = _required(envelope.data, "package_id")
    status = str(envelope.data.get("package_status") or envelope.data.get("sc_type") or "UPDATED")[:64]
    update_time = _update_time(envelope)
    entity = _entity(session, "package", package_id)
    if _is_stale(entity, status, update_time):
        return Outcome.STALE, None
    order = session.scalar(select(Order).where(Order.external_order_id == order_id))
    _remember(session, entity, "package", package_id, status, update_time, order)
    if order is not None and client is not None:
        remote = client.get_order(order_id)
        if remote and remote.get("tracking_number"):
            _outbound(session, order, remote)
    return Outcome.DONE, None


def _outbound(session: Session, order: Order, remote: dict[str, Any]) -> None:
    """Create or update the outbound parcel from the marketplace's order record."""
    tracking = str(remote["tracking_number"])[:64]
    shipment = next((s for s in order.shipments if s.tracking_number == tracking), None)
    delivered = _at(remote.get("delivery_time"))
    status = TrackingStatus.DELIVERED if delivered else TrackingStatus.IN_TRANSIT
    if shipment is None:
        shipment = Shipment(
            order=order,
            kind=ShipmentKind.OUTBOUND,
            tracking_number=tracking,
            carrier=str(remote.get("shipping_provider") or "Marketplace")[:40],
            status=status,
            shipped_at=_at(remote.get("rts_time")),
        )
        session.add(shipment)
    shipment.status = status
    shipment.delivered_at = delivered
    shipment.last_event_at = utcnow()


def _cancellation(
    session: Session, envelope: Envelope, client: MarketplaceClient | None
) -> tuple[str, int | None]:
    data = envelope.data
    cancel_id = _required(data, "cancel_id") if data.get("cancel_id") else _required(data, "order_id")
    status = str(data.get("cancel_status") or "").strip()[:64]
    update_time = _update_time(envelope)
    entity = _entity(session, "cancellation", cancel_id)
    if _is_stale(entity, status, update_time):
        return Outcome.STALE, None
    order = session.scalar(select(Order).where(Order.external_order_id == str(data.get("order_id") or "")))
    _remember(session, entity, "cancellation", cancel_id, status, update_time, order)
    if order is None:
        return Outcome.DONE, None
    if status in CANCELLED and order.status != OrderStatus.CANCELLED:
        order.status = OrderStatus.CANCELLED
    touched = None
    for case in session.scalars(
        select(Case).where(Case.order_id == order.id, Case.status.in_(OPEN_STATUSES))
    ):
        lifecycle.record(
            session, case, MARKETPLACE, "marketplace_status", {"status": status, "cancel_id": cancel_id}
        )
        touched = case.id
    return Outcome.DONE, touched


def _remember(
    session: Session,
    entity: MarketplaceEntity | None,
    kind: str,
    external_id: str,
    status: str,
    update_time: int,
    order: Order | None,
) -> None:
    if entity is None:
        entity = MarketplaceEntity(kind=kind, external_id=external_id, status=status, update_time=update_time)
        session.add(entity)
    entity.status = status
    entity.update_time = update_time
    if order is not None:
        entity.order_id = order.id


Handler = Callable[[Session, Envelope, MarketplaceClient | None], tuple[str, int | None]]
HANDLERS: dict[int, Handler] = {
    RETURN_STATUS_CHANGE: _return_status,
    ORDER_STATUS_CHANGE: _order_status,
    PACKAGE_UPDATE: _package,
    CANCELLATION_STATUS_CHANGE: _cancellation,
}
