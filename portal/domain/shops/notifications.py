"""Notifications about a shop's authorisation: de-authorised (type 6), expiring soon (type 7)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from portal.domain.marketplace.inbox import AUTHORIZATION_EXPIRE, SELLER_DEAUTHORIZATION, Envelope
from portal.domain.marketplace.mapping import Outcome, ProcessingError
from portal.domain.shops.connections import mark_deauthorised, mark_expiring
from portal.domain.types import utcnow

TYPES = {SELLER_DEAUTHORIZATION, AUTHORIZATION_EXPIRE}


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def apply(session: Session, envelope: Envelope) -> str:
    """Mark the shop; a notice about a shop the portal has not connected is kept as failed, to report."""
    now = utcnow()
    if envelope.type == SELLER_DEAUTHORIZATION:
        message = str(envelope.data.get("message") or "the seller de-authorised the app")[:500]
        reason = f"de-authorised on the marketplace: {message}"
        known = mark_deauthorised(session, envelope.shop_id, reason, now)
    else:
        expires = _time(envelope.data.get("expiration_time") or envelope.data.get("expire_time"))
        known = mark_expiring(session, envelope.shop_id, expires, now)
    if not known:
        raise ProcessingError(
            f"authorisation notice for shop {envelope.shop_id or '(none)'}, "
            "which is not connected in the portal",
            retryable=False,
        )
    return Outcome.DONE
