"""Processing the inbox after the webhook answered: each event claimed once, applied, retried on failure."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.attachments import AttachmentStore
from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError
from portal.domain.marketplace.clients import ShopClients, ShopUnavailable
from portal.domain.marketplace.inbox import parse
from portal.domain.marketplace.mapping import ProcessingError, apply
from portal.domain.models import MarketplaceEvent
from portal.domain.shops import notifications as authorisation
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import MARKETPLACE_INBOX

# Events applied in one transaction; each in its own savepoint, so one failure undoes only itself.
BATCH = 50


@dataclass
class ProcessResult:
    done: int = 0
    stale: int = 0
    ignored: int = 0
    retried: int = 0
    failed: int = 0
    # Shops (the marketplace's ids) whose access token the marketplace refused, with its answer.
    token_refused: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.done + self.stale + self.ignored + self.failed


def _claimed_values(now: datetime) -> dict[str, object]:
    return {"state": "done", "processed_at": now}


def _clients(client: MarketplaceClient | ShopClients | None) -> ShopClients:
    return client if isinstance(client, ShopClients) else ShopClients.single(client)


def _apply_claimed(
    session: Session, event_id: int, clients: ShopClients, store: AttachmentStore | None
) -> str:
    event = session.get(MarketplaceEvent, event_id)
    assert event is not None
    session.refresh(event)
    envelope = parse(event.body.encode())
    if envelope.type in authorisation.TYPES:
        event.state = authorisation.apply(session, envelope)
        event.last_error = None
        return event.state
    try:
        client = clients.for_shop(envelope.shop_id)
    except ShopUnavailable as error:
        # Kept and reported, not dropped: an admin retries it once the shop is connected again.
        raise ProcessingError(f"{error}; not processed", retryable=False) from None
    outcome, case_id = apply(session, envelope, client, store)
    event.state = outcome
    event.case_id = case_id
    event.last_error = None
    return outcome


def process_one(
    session: Session,
    event_id: int,
    client: MarketplaceClient | ShopClients | None,
    now: datetime,
    store: AttachmentStore | None = None,
) -> str | None:
    """Claim and apply one event in the caller's transaction; None when another worker had it."""
    if not claims.claim(session, MARKETPLACE_INBOX, now, values=_claimed_values(now), ids=[event_id]):
        return None
    return _apply_claimed(session, event_id, _clients(client), store)


def _failure(error: Exception) -> tuple[str, bool]:
    """The message to keep and whether trying again can help."""
    retryable = not isinstance(error, ProcessingError) or error.retryable
    if isinstance(error, MarketplaceError):
        # A refused token is the shop's problem, not the event's: it waits while the token is refreshed.
        retryable = error.retryable or error.code is None or error.token_refused
    if isinstance(error, ProcessingError | MarketplaceError):
        return str(error), retryable
    return traceback.format_exc(), retryable


def _process_batch(
    factory: sessionmaker[Session], clients: ShopClients, now: datetime, batch: int,
    result: ProcessResult, store: AttachmentStore | None,
) -> int:
    with factory() as session:
        ids = claims.claim(session, MARKETPLACE_INBOX, now, batch, values=_claimed_values(now))
        for event_id in ids:
            try:
                with session.begin_nested():
                    outcome = _apply_claimed(session, event_id, clients, store)
            except Exception as error:
                message, retryable = _failure(error)
                if isinstance(error, MarketplaceError) and error.token_refused:
                    shop = select(MarketplaceEvent.shop_id).where(MarketplaceEvent.id == event_id)
                    shop_id = session.scalar(shop)
                    result.token_refused[shop_id or ""] = str(error)
                failure = claims.fail(
                    session, MARKETPLACE_INBOX, event_id, now, message, retryable,
                    holding="done", reset={"processed_at": None},
                )
                if failure is not None:
                    if failure.dead:
                        result.failed += 1
                    else:
                        result.retried += 1
                continue
            setattr(result, outcome, getattr(result, outcome) + 1)
        session.commit()
        return len(ids)


def process_pending(
    factory: sessionmaker[Session],
    client: MarketplaceClient | ShopClients | None,
    now: datetime | None = None,
    batch: int = BATCH,
    store: AttachmentStore | None = None,
) -> ProcessResult:
    """Apply every pending event that is due, oldest first, `batch` to a transaction.

    `client` is one client for every shop, or each shop's own (ShopClients).
    """
    now = now or utcnow()
    result = ProcessResult()
    clients = _clients(client)
    while _process_batch(factory, clients, now, batch, result, store) == batch:
        pass
    return result


def retry_event(session: Session, event_id: int) -> bool:
    """Queue a failed event again (an admin asked); True when it was failed."""
    return claims.retry(session, MARKETPLACE_INBOX, event_id)
