"""Reconciliation: poll the marketplace for what changed since the last sync and repair what webhooks missed.

The marketplace gives up on a notification after a few failed deliveries. Every few minutes this reads
returns, cancellations and orders updated since the cursor, compares each with the newest state the
portal holds, and puts a notification-shaped event in the inbox for each one it is missing, so repairs
go through the same processing (and the same "older never overwrites newer" rule) as webhooks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError, search_buyer_messages
from portal.domain.marketplace.inbox import (
    CANCELLATION_STATUS_CHANGE,
    NEW_MESSAGE,
    ORDER_STATUS_CHANGE,
    RETURN_STATUS_CHANGE,
    receive,
)
from portal.domain.models import MarketplaceEntity, MarketplaceSyncCursor, Message
from portal.domain.types import utcnow

# Read a little either side of the window: the marketplace's clock and ours differ, and it commits late.
OVERLAP_SECONDS = 120
# The first sync of a shop looks this far back.
FIRST_LOOKBACK_SECONDS = 3 * 24 * 3600


@dataclass(frozen=True)
class Resource:
    name: str
    kind: str  # MarketplaceEntity.kind
    type: int  # the notification type a repair imitates
    id_key: str
    status_key: str
    search: Callable[[MarketplaceClient, int, int], Iterator[dict[str, Any]]]
    data: Callable[[dict[str, Any]], dict[str, Any]]
    # Whether the portal lacks this item; by default, compared with the newest MarketplaceEntity state.
    missing: Callable[[Session, dict[str, Any]], bool] | None = None


def _return_data(item: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "order_id",
        "return_id",
        "return_type",
        "return_status",
        "create_time",
        "update_time",
        "return_tracking_number",
        "return_provider_name",
    )
    return {"return_role": "BUYER", **{k: item[k] for k in keys if k in item}}


def _cancel_data(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": item.get("order_id"),
        "cancel_id": item.get("cancel_id"),
        "cancel_status": item.get("cancel_status"),
        "cancellations_role": item.get("cancellations_role", "BUYER"),
        "create_time": item.get("create_time"),
        "update_time": item.get("update_time"),
    }


def _order_data(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": item.get("id"),
        "order_status": item.get("status"),
        "update_time": item.get("update_time"),
        "is_on_hold_order": False,
    }


def _message_data(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "conversation_id": item.get("conversation_id"),
        "message_id": item.get("id"),
        "type": item.get("type"),
        "content": item.get("content"),
        "create_time": item.get("create_time"),
        "sender": item.get("sender"),
    }


def _message_missing(session: Session, item: dict[str, Any]) -> bool:
    found = session.scalar(
        select(Message.id).where(Message.channel == "marketplace", Message.external_id == str(item.get("id")))
    )
    return found is None


RESOURCES = (
    Resource(
        "returns",
        "return",
        RETURN_STATUS_CHANGE,
        "return_id",
        "return_status",
        lambda c, ge, lt: c.search_returns(ge, lt),
        _return_data,
    ),
    Resource(
        "cancellations",
        "cancellation",
        CANCELLATION_STATUS_CHANGE,
        "cancel_id",
        "cancel_status",
        lambda c, ge, lt: c.search_cancellations(ge, lt),
        _cancel_data,
    ),
    Resource(
        "orders",
        "order",
        ORDER_STATUS_CHANGE,
        "id",
        "status",
        lambda c, ge, lt: c.search_orders(ge, lt),
        _order_data,
    ),
    Resource(
        "buyer_messages",
        "message",
        NEW_MESSAGE,
        "id",
        "type",
        search_buyer_messages,
        _message_data,
        _message_missing,
    ),
)


@dataclass
class ReconcileResult:
    seen: int = 0
    repaired: int = 0
    errors: list[str] = field(default_factory=list)
    # Set when the marketplace refused the shop's token: the shop stops syncing until it is fixed.
    token_refused: str | None = None


def _cursor(session: Session, shop_id: str, resource: str) -> MarketplaceSyncCursor:
    cursor = session.get(MarketplaceSyncCursor, (shop_id, resource))
    if cursor is None:
        cursor = MarketplaceSyncCursor(shop_id=shop_id, resource=resource, synced_until=0, repaired_total=0)
        session.add(cursor)
    return cursor


def _missing(session: Session, kind: str, external_id: str, status: str, update_time: int) -> bool:
    entity = session.scalar(
        select(MarketplaceEntity).where(
            MarketplaceEntity.kind == kind, MarketplaceEntity.external_id == external_id
        )
    )
    if entity is None:
        return True
    return update_time > entity.update_time or (update_time == entity.update_time and status != entity.status)


def reconcile(
    factory: sessionmaker[Session], client: MarketplaceClient, shop_id: str, now: datetime | None = None
) -> ReconcileResult:
    """Read each list since its cursor and queue a repair for every change the portal has not applied."""
    now = now or utcnow()
    until = int(now.timestamp())
    result = ReconcileResult()
    for resource in RESOURCES:
        with factory() as session:
            cursor = _cursor(session, shop_id, resource.name)
            since = (
                max(0, cursor.synced_until - OVERLAP_SECONDS)
                if cursor.synced_until
                else until - FIRST_LOOKBACK_SECONDS
            )
            cursor.last_run_at = now
            repaired = 0
            try:
                for item in resource.search(client, since, until + OVERLAP_SECONDS):
                    result.seen += 1
                    external_id = str(item.get(resource.id_key) or "")
                    status = str(item.get(resource.status_key) or "")
                    update_time = int(item.get("update_time") or 0)
                    if not external_id:
                        continue
                    if resource.missing is not None:
                        if not resource.missing(session, item):
                            continue
                    elif not _missing(session, resource.kind, external_id, status, update_time):
                        continue
                    repair_id = f"recon:{resource.kind}:{external_id}:{update_time}:{status}"
                    body = json.dumps(
                        {
                            "type": resource.type,
                            "tts_notification_id": repair_id[:80],
                            "shop_id": shop_id,
                            "timestamp": update_time,
                            "data": resource.data(item),
                        },
                        separators=(",", ":"),
                    ).encode()
                    if receive(session, body, source="reconcile", now=now):
                        repaired += 1
            except MarketplaceError as error:
                session.rollback()
                cursor = _cursor(session, shop_id, resource.name)
                cursor.last_run_at = now
                cursor.last_error = str(error)[:2000]
                session.commit()
                result.errors.append(f"{resource.name}: {error}")
                if error.token_refused:
                    result.token_refused = str(error)
                    break  # every other list would be refused the same way
                continue
            cursor.synced_until = until
            cursor.last_success_at = now
            cursor.last_error = None
            cursor.repaired_total = (cursor.repaired_total or 0) + repaired
            session.commit()
            result.repaired += repaired
    return result
