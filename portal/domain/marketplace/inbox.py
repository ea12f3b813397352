"""The notification inbox: store each marketplace notification once, raw, to be processed afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from portal.domain.json_input import UnreadableBody, load_json
from portal.domain.models import MarketplaceEvent
from portal.domain.types import utcnow

# The notification types the portal acts on; any other is acknowledged and kept.
ORDER_STATUS_CHANGE = 1
PACKAGE_UPDATE = 4
SELLER_DEAUTHORIZATION = 6
AUTHORIZATION_EXPIRE = 7
CANCELLATION_STATUS_CHANGE = 11
RETURN_STATUS_CHANGE = 12
NEW_CONVERSATION = 13
NEW_MESSAGE = 14
KNOWN_TYPES = {
    ORDER_STATUS_CHANGE,
    PACKAGE_UPDATE,
    SELLER_DEAUTHORIZATION,
    AUTHORIZATION_EXPIRE,
    CANCELLATION_STATUS_CHANGE,
    RETURN_STATUS_CHANGE,
    NEW_CONVERSATION,
    NEW_MESSAGE,
}


class InvalidNotification(ValueError):
    """A signed body that is not a notification envelope."""


@dataclass(frozen=True)
class Envelope:
    type: int
    notification_id: str
    shop_id: str
    timestamp: int
    data: dict[str, Any]


def parse(body: bytes) -> Envelope:
    try:
        doc = load_json(body)
    except UnreadableBody as error:
        raise InvalidNotification(str(error)) from None
    if not isinstance(doc, dict):
        raise InvalidNotification("the body is not a JSON object")
    kind, notification_id = doc.get("type"), doc.get("tts_notification_id")
    if not isinstance(kind, int) or isinstance(kind, bool):
        raise InvalidNotification("type must be a number")
    if not isinstance(notification_id, str | int) or not str(notification_id).strip():
        raise InvalidNotification("tts_notification_id is missing")
    data = doc.get("data")
    if not isinstance(data, dict):
        raise InvalidNotification("data must be an object")
    timestamp = doc.get("timestamp")
    return Envelope(
        type=kind,
        notification_id=str(notification_id).strip()[:80],
        shop_id=str(doc.get("shop_id") or "")[:64],
        timestamp=timestamp if isinstance(timestamp, int) else 0,
        data=data,
    )


def receive(session: Session, body: bytes, source: str = "webhook", now: datetime | None = None) -> bool:
    """Store a notification unless its id is already in the inbox; True when it was new.

    One INSERT ... ON CONFLICT DO NOTHING, so concurrent deliveries of the same id store one row and
    neither fails. The caller commits.
    """
    envelope = parse(body)
    now = now or utcnow()
    values = {
        "notification_id": envelope.notification_id,
        "type": envelope.type,
        "shop_id": envelope.shop_id,
        "source": source,
        "body": body.decode("utf-8"),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(MarketplaceEvent).values(**values).on_conflict_do_nothing(index_elements=["notification_id"])
    )
    # RETURNING, not rowcount: drivers disagree on the rowcount of an INSERT that did nothing.
    return session.execute(statement.returning(MarketplaceEvent.id)).scalar() is not None


def backlog(session: Session) -> dict[str, int]:
    """How many events are in each state."""
    rows = session.execute(select(MarketplaceEvent.state, func.count()).group_by(MarketplaceEvent.state))
    return {state: count for state, count in rows}
