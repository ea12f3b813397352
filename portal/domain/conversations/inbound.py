"""What the buyer writes: marketplace customer-service messages arriving on the signed webhook.

A buyer message lands on the buyer's open case (else their latest case, which it reopens: the whole
conversation and its evidence stay on the one case the platform's request belongs to, which is what a
dispute is judged on). It resumes the clocks paused while waiting for the buyer, brings the case back
in front of an agent, counts as unread until an agent opens the case, and runs the policy's
`buyer_replied` section. Images arrive as buyer evidence with their hashes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import deadline_rules, policy_engine
from portal.domain.attachments import AttachmentStore
from portal.domain.enums import (
    OPEN_STATUSES,
    CaseStatus,
    EvidenceKind,
    EvidenceSource,
    MessageDirection,
    MessageStatus,
)
from portal.domain.lifecycle import Actor, move, record
from portal.domain.marketplace.client import MarketplaceClient
from portal.domain.models import Buyer, Case, Message
from portal.domain.types import utcnow

BUYER = Actor.system("buyer")
MAX_TEXT = 4000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Statuses in which a buyer's message reopens the case (it was settled, the buyer is not done).
SETTLED = {CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED}


class InboundError(Exception):
    """A buyer message that cannot be placed; `retryable` says whether a later attempt may work."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def case_for(session: Session, buyer: Buyer) -> Case | None:
    """The buyer's open case (most recently opened first), else their latest case."""
    cases = list(
        session.scalars(
            select(Case).where(Case.buyer_id == buyer.id).order_by(Case.opened_at.desc()).limit(20)
        )
    )
    open_cases = [c for c in cases if c.status in OPEN_STATUSES]
    found = open_cases or cases
    return found[0] if found else None


def buyer_for_conversation(
    session: Session, conversation_id: str, client: MarketplaceClient | None, buyer_user_id: str = ""
) -> Buyer | None:
    buyer = session.scalar(select(Buyer).where(Buyer.conversation_id == conversation_id))
    if buyer is not None:
        return buyer
    if not buyer_user_id and client is not None:
        found = client.find_conversation(conversation_id)
        if found is not None:
            for person in found.get("participants") or []:
                if isinstance(person, dict) and str(person.get("role") or "").upper() == "BUYER":
                    buyer_user_id = str(person.get("user_id") or "")
    if not buyer_user_id:
        return None
    buyer = session.scalar(select(Buyer).where(Buyer.marketplace_user_id == buyer_user_id[:64]))
    if buyer is not None and not buyer.conversation_id:
        buyer.conversation_id = conversation_id[:64]
    return buyer


def new_conversation(
    session: Session, data: dict[str, Any], client: MarketplaceClient | None
) -> Buyer | None:
    """A buyer opened a conversation with the shop: remember it on the buyer."""
    conversation = _text(data, "conversation_id", 64)
    if not conversation:
        raise InboundError("the notification has no conversation_id")
    return buyer_for_conversation(session, conversation, client, _text(data, "buyer_user_id", 64))


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip()[:limit]
    return ""


def _content(data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get("content")
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return {"content": raw}
        return parsed if isinstance(parsed, dict) else {"content": str(parsed)}
    return {}


def new_message(
    session: Session,
    data: dict[str, Any],
    client: MarketplaceClient | None,
    store: AttachmentStore | None,
) -> tuple[str, int | None]:
    """A message in a customer-service conversation; returns ("done" | "stale" | "ignored", case id)."""
    conversation = _text(data, "conversation_id", 64)
    message_id = _text(data, "message_id", 128)
    if not conversation or not message_id:
        raise InboundError("the notification needs conversation_id and message_id")
    raw_sender = data.get("sender")
    sender: dict[str, Any] = raw_sender if isinstance(raw_sender, dict) else {}
    if str(sender.get("role") or "BUYER").upper() != "BUYER":
        return "ignored", None  # the shop's own messages and the platform's notices come back too
    if session.scalar(
        select(Message.id).where(Message.channel == "marketplace", Message.external_id == message_id)
    ):
        return "stale", None
    buyer = buyer_for_conversation(session, conversation, client)
    if buyer is None:
        raise InboundError(f"no buyer in the portal for conversation {conversation}")
    case = case_for(session, buyer)
    if case is None:
        return "ignored", None
    content = _content(data)
    kind = str(data.get("type") or "TEXT").upper()
    at = _time(data.get("create_time"))
    message = Message(
        case=case,
        direction=MessageDirection.INBOUND,
        status=MessageStatus.RECEIVED,
        language=buyer.language,
        channel="marketplace",
        external_id=message_id,
        body=str(content.get("content") or "").strip()[:MAX_TEXT],
        created_at=at,
    )
    session.add(message)
    if kind == "IMAGE":
        image = _image(content, client)
        if image is not None and store is not None:
            from portal.domain.evidence import add_evidence

            name = f"buyer-{message_id[-24:]}.jpg"
            item = add_evidence(
                session, store, case, BUYER, data=image, filename=name, kind=EvidenceKind.PHOTO,
                caption=message.body or None, source=EvidenceSource.BUYER,
            )
            message.attachment_sha256 = item.sha256
            message.attachment_name = name
    if not message.body and message.attachment_sha256 is None:
        message.body = f"[{kind.lower()}]"
    buyer_replied(session, case, message, at)
    return "done", case.id


def _time(value: Any) -> datetime:
    try:
        stamp = int(value)
        if 946684800 <= stamp <= 4102444800:  # 2000 to 2100; anything else is not a message time
            return datetime.fromtimestamp(stamp, UTC)
    except (TypeError, ValueError, OverflowError):
        pass
    return utcnow()


# Where the marketplace keeps buyers' images; a notification pointing anywhere else is not followed
# (a signed body is still no reason to make the portal fetch an internal address).
MEDIA_HOST_SUFFIXES = (".tiktokcdn.com", ".tiktokcdn-us.com", ".tiktokcdn-eu.com", ".ibyteimg.com")


def media_url_allowed(url: str, client: MarketplaceClient) -> bool:
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    own = urlsplit(client.base_url)
    if (parsed.hostname, parsed.port) == (own.hostname, own.port):
        return True  # the marketplace's own API host (the simulator serves its files there)
    return parsed.scheme == "https" and parsed.hostname.endswith(MEDIA_HOST_SUFFIXES)


def _image(content: dict[str, Any], client: MarketplaceClient | None) -> bytes | None:
    url = content.get("url")
    if not isinstance(url, str) or client is None or not media_url_allowed(url, client):
        return None
    try:
        with client.http.get(url, timeout=client.timeout, stream=True) as response:
            if response.status_code != 200:
                raise InboundError(f"the image could not be fetched (HTTP {response.status_code})", True)
            data = response.raw.read(MAX_IMAGE_BYTES + 1, decode_content=True)
    except requests.RequestException as error:
        raise InboundError(f"the image could not be fetched: {error}", retryable=True) from None
    if len(data) > MAX_IMAGE_BYTES:
        raise InboundError("the image is larger than 10 MB")
    return data


def buyer_replied(session: Session, case: Case, message: Message, at: datetime | None = None) -> None:
    """The buyer wrote: the case comes back to an agent and the policy hears of it."""
    now = at or utcnow()
    case.unread_messages = (case.unread_messages or 0) + 1
    case.last_buyer_message_at = now
    reopened = case.status in SETTLED
    if case.waiting_for_buyer:
        deadline_rules.set_waiting(session, case, False, now)
    if case.status == CaseStatus.AWAITING_BUYER or reopened:
        move(session, case, CaseStatus.IN_REVIEW, BUYER, now)
    session.flush()
    record(
        session, case, BUYER, "buyer_replied",
        {"message_id": message.id, "reopened": reopened, "attachment": bool(message.attachment_sha256)},
        now=now,
    )
    if policy_engine.has_section(session, case, "buyer_replied"):
        from portal.domain.events import handle_event

        handle_event(session, case, "buyer_replied", now)
