"""The outbox: queued buyer messages claimed in batches, sent outside any transaction, each exactly once.

Buyer messages are one kind of stored work (`portal.domain.work.queues.BUYER_MESSAGES`): a dispatcher
leases due messages with the one claim helper (state `sending` until the lease runs out), so two
scheduler processes never take the same message. It reads what it needs, commits, sends through the
chosen channel with no transaction open, then records every outcome of the batch in one short
transaction. A failure backs off with jitter (`claims.fail`); after the last attempt the message is
failed for good and its case comes back to an agent with the reason. A dispatcher that dies mid-batch
leaves leases that run out; the messages are then claimed again, and their idempotency keys stop the
marketplace (and the buyer's mail program, through the Message-ID) from taking them twice.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from portal.domain.attachments import AttachmentStore
from portal.domain.conversations.channels import Delivery, DeliveryError, Outgoing, Router
from portal.domain.enums import MessageStatus
from portal.domain.lifecycle import Actor, record
from portal.domain.models import Buyer, Case, Market, Message
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import BUYER_MESSAGES

# Batches this large are sent by several threads at once (each with its own SMTP and HTTP connections).
SEND_THREADS = 8
PARALLEL_FROM = 16
MAX_ATTEMPTS = BUYER_MESSAGES.backoff.max_attempts
BACKOFF_CAP = BUYER_MESSAGES.backoff.cap
OUTBOX = Actor.system("outbox")


def claim(session: Session, batch: int, now: datetime) -> list[int]:
    """Lease up to `batch` due outbound messages to this dispatcher; returns their ids."""
    return claims.claim(session, BUYER_MESSAGES, now, batch)


def _outgoing(message: Message, store: AttachmentStore | None) -> Outgoing:
    buyer: Buyer = message.case.buyer
    data = None
    content_type = None
    if message.attachment_sha256 and store is not None:
        data = store.read(message.attachment_sha256)
        attachment = message.attachment
        content_type = attachment.content_type if attachment is not None else None
    return Outgoing(
        message_id=message.id,
        idempotency_key=message.idempotency_key or f"msg-{message.id}",
        case_number=message.case.number,
        language=message.language,
        subject=message.subject or message.case.number,
        body=message.body,
        buyer_name=buyer.display_name,
        buyer_email=buyer.email,
        marketplace_user_id=buyer.marketplace_user_id,
        conversation_id=buyer.conversation_id,
        attachment=data,
        attachment_name=message.attachment_name,
        attachment_type=content_type,
        shop_id=message.case.market.shop.external_shop_id,
    )


@dataclass
class Outcome:
    message_id: int
    channel: str
    delivery: Delivery | None = None
    error: DeliveryError | None = None


def dispatch(
    factory: sessionmaker[Session],
    router: Router,
    store: AttachmentStore | None = None,
    batch: int = 100,
    now: datetime | None = None,
    max_batches: int = 50,
) -> int:
    """Send what is due, batch after batch (at most `max_batches`); returns how many were sent."""
    sent = 0
    try:
        for _ in range(max_batches):
            done, claimed = _one_batch(factory, router, store, batch, now)
            sent += done
            if claimed < batch:
                break
    finally:
        router.close()
    return sent


def _one_batch(
    factory: sessionmaker[Session],
    router: Router,
    store: AttachmentStore | None,
    batch: int,
    now: datetime | None,
) -> tuple[int, int]:
    moment = now or utcnow()
    with factory() as session:
        ids = claim(session, batch, moment)
        messages = (
            session.scalars(
                select(Message)
                .where(Message.id.in_(ids))
                .options(
                    selectinload(Message.case).selectinload(Case.buyer),
                    selectinload(Message.case).selectinload(Case.market).selectinload(Market.shop),
                    selectinload(Message.attachment),
                )
                .order_by(Message.id)
            ).all()
            if ids
            else []
        )
        work = [_outgoing(m, store) for m in messages]
        session.commit()
    if not work:
        return 0, 0
    if len(work) < PARALLEL_FROM:
        outcomes = _send_all(router, work)
    else:
        # Sending waits on the network: a few threads, each with its own connections, overlap the waits.
        # One buyer's messages stay in one thread, so they arrive in the order they were written.
        shares: list[list[Outgoing]] = [[] for _ in range(SEND_THREADS)]
        for outgoing in work:
            who = outgoing.marketplace_user_id or outgoing.buyer_email or outgoing.case_number
            shares[zlib.crc32(who.encode()) % SEND_THREADS].append(outgoing)
        routers = [router] + [router.copy() for _ in shares[1:]]
        with ThreadPoolExecutor(max_workers=SEND_THREADS) as pool:
            parts = list(pool.map(_send_all, routers, shares))
        for extra in routers[1:]:
            extra.close()
        outcomes = [outcome for part in parts for outcome in part]
    with factory() as session:
        sent = _record(session, outcomes, now or utcnow())
        session.commit()
    return sent, len(work)


def _send_all(router: Router, work: list[Outgoing]) -> list[Outcome]:
    outcomes = []
    for outgoing in work:
        channel = router.choose(outgoing)
        try:
            outcomes.append(Outcome(outgoing.message_id, channel.name, delivery=channel.send(outgoing)))
        except DeliveryError as error:
            outcomes.append(Outcome(outgoing.message_id, channel.name, error=error))
        except Exception as error:  # a channel's bug must not stop the other messages
            outcomes.append(Outcome(outgoing.message_id, channel.name, error=DeliveryError(repr(error))))
    return outcomes


def _record(session: Session, outcomes: list[Outcome], now: datetime) -> int:
    sent = 0
    messages = {
        m.id: m
        for m in session.scalars(
            select(Message)
            .where(Message.id.in_([o.message_id for o in outcomes]))
            .options(selectinload(Message.case).selectinload(Case.buyer))
        )
    }
    for outcome in outcomes:
        message = messages.get(outcome.message_id)
        if message is None or message.status != MessageStatus.SENDING:
            continue
        message.channel = outcome.channel
        if outcome.delivery is not None:
            delivery = outcome.delivery
            message.status = delivery.state
            message.sent_at = now
            message.external_id = delivery.external_id
            message.last_error = delivery.note
            if delivery.state in (MessageStatus.DELIVERED, MessageStatus.READ):
                message.delivered_at = now
            if delivery.conversation_id and not message.case.buyer.conversation_id:
                message.case.buyer.conversation_id = delivery.conversation_id
            if message.case.delivery_problem:
                message.case.delivery_problem = None  # retried (here or on Failed work) and delivered
            sent += 1
            continue
        error = outcome.error or DeliveryError("unknown failure")
        failure = claims.fail(
            session, BUYER_MESSAGES, message.id, now, error.reason, retryable=error.retryable,
            attempt=message.attempts,
        )
        if failure is None or failure.retry_at is not None:
            continue
        case = message.case
        case.delivery_problem = error.reason[:300]
        record(session, case, OUTBOX, "message_failed", {"message_id": message.id, "reason": error.reason})
    return sent


def retry(session: Session, message: Message, now: datetime | None = None) -> bool:
    """Queue a failed message again (an agent's or an admin's retry); False when it is not failed."""
    if not claims.retry(session, BUYER_MESSAGES, message.id, now):
        return False
    session.refresh(message)
    if message.case.delivery_problem:
        message.case.delivery_problem = None
    return True
