"""Processing the inbox after the webhook answered: each event claimed once, applied, retried on failure."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.attachments import AttachmentStore
from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError
from portal.domain.marketplace.inbox import parse
from portal.domain.marketplace.mapping import ProcessingError, apply
from portal.domain.models import MarketplaceEvent
from portal.domain.types import rowcount, utcnow

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)


@dataclass
class ProcessResult:
    done: int = 0
    stale: int = 0
    ignored: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.done + self.stale + self.ignored + self.failed


def _due(session: Session, now: datetime, batch: int) -> list[int]:
    query = (
        select(MarketplaceEvent.id)
        .where(MarketplaceEvent.state == "pending", MarketplaceEvent.next_attempt_at <= now)
        .order_by(MarketplaceEvent.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def process_one(
    session: Session,
    event_id: int,
    client: MarketplaceClient | None,
    now: datetime,
    store: AttachmentStore | None = None,
) -> str | None:
    """Claim and apply one event in the caller's transaction; None when another worker had it."""
    claimed = rowcount(session.execute(
        update(MarketplaceEvent)
        .where(MarketplaceEvent.id == event_id, MarketplaceEvent.state == "pending")
        .values(state="done", processed_at=now, attempts=MarketplaceEvent.attempts + 1)
        .execution_options(synchronize_session=False)
    ))
    if claimed != 1:
        return None
    event = session.get(MarketplaceEvent, event_id)
    assert event is not None
    session.refresh(event)
    outcome, case_id = apply(session, parse(event.body.encode()), client, store)
    event.state = outcome
    event.case_id = case_id
    event.last_error = None
    return outcome


def process_pending(
    factory: sessionmaker[Session],
    client: MarketplaceClient | None,
    now: datetime | None = None,
    batch: int = 200,
    store: AttachmentStore | None = None,
) -> ProcessResult:
    """Apply every pending event that is due, oldest first, each in its own transaction."""
    now = now or utcnow()
    result = ProcessResult()
    while True:
        with factory() as session:
            ids = _due(session, now, batch)
            session.rollback()  # release the locks taken while listing
        for event_id in ids:
            with factory() as session:
                try:
                    outcome = process_one(session, event_id, client, now, store)
                    session.commit()
                except Exception as error:
                    session.rollback()
                    retryable = not isinstance(error, ProcessingError) or error.retryable
                    if isinstance(error, MarketplaceError):
                        retryable = error.retryable or error.code is None
                    message = (
                        str(error)
                        if isinstance(error, ProcessingError | MarketplaceError)
                        else (traceback.format_exc())
                    )
                    _postpone(session, event_id, now, message, retryable, result)
                    session.commit()
                    continue
            if outcome is not None:
                setattr(result, outcome, getattr(result, outcome) + 1)
        if len(ids) < batch:
            return result


def _postpone(
    session: Session, event_id: int, now: datetime, error: str, retryable: bool, result: ProcessResult
) -> None:
    event = session.get(MarketplaceEvent, event_id)
    if event is None or event.state != "pending":
        return
    event.attempts += 1
    event.last_error = error[-4000:]
    if retryable and event.attempts < MAX_ATTEMPTS:
        event.next_attempt_at = now + FIRST_RETRY * 2 ** (event.attempts - 1)
        result.retried += 1
    else:
        event.state = "failed"
        result.failed += 1


def retry_event(session: Session, event_id: int) -> bool:
    """Queue a failed event again (an admin asked); True when it was failed."""
    return (
        rowcount(session.execute(
            update(MarketplaceEvent)
            .where(MarketplaceEvent.id == event_id, MarketplaceEvent.state == "failed")
            .values(state="pending", next_attempt_at=utcnow(), attempts=0)
            .execution_options(synchronize_session=False)
        ))
        == 1
    )
