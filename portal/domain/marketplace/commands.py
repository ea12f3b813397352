"""Decisions on marketplace returns: queued with the decision, sent to the marketplace exactly once.

Approving, rejecting and refunding a case that came from the marketplace queues a command row in the
same transaction as the decision (through the lifecycle hooks in portal.domain.hooks). The scheduler
sends pending commands through the API client under a lease, retried with the claim helper's backoff;
each command has its own idempotency key, so a retry after a timeout cannot act twice, and a command
that was sent is never claimed again.
"""

from __future__ import annotations

import contextlib
import secrets
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain import hooks
from portal.domain.enums import CaseStatus, RefundKind
from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError
from portal.domain.marketplace.clients import ShopClients, ShopUnavailable
from portal.domain.models import (
    Case,
    MarketplaceCommand,
    MarketplaceEntity,
    Message,
    Refund,
    ReturnShipment,
    Shop,
)
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import MARKETPLACE_COMMANDS

_mirroring: ContextVar[bool] = ContextVar("marketplace_mirroring", default=False)


@contextlib.contextmanager
def mirroring() -> Iterator[None]:
    """While applying what the marketplace already did, queue nothing back to it."""
    token = _mirroring.set(True)
    try:
        yield
    finally:
        _mirroring.reset(token)


def marketplace_return(session: Session, case: Case) -> MarketplaceEntity | None:
    """The marketplace return a case was opened for, if it came from the marketplace."""
    if case.id is None:
        return None
    return session.scalar(
        select(MarketplaceEntity).where(
            MarketplaceEntity.case_id == case.id, MarketplaceEntity.kind == "return"
        )
    )


def queue_command(
    session: Session, case: Case, kind: str, payload: dict[str, str]
) -> MarketplaceCommand | None:
    if _mirroring.get():
        return None
    entity = marketplace_return(session, case)
    if entity is None:
        return None
    command = MarketplaceCommand(
        case_id=case.id,
        kind=kind,
        return_id=entity.external_id,
        payload=payload,
        idempotency_key=secrets.token_hex(16),
        state="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(command)
    return command


@hooks.on_return_approved
def _approved(session: Session, case: Case, ret: ReturnShipment, message: Message) -> None:
    entity = marketplace_return(session, case)
    decision = "APPROVE_REPLACEMENT" if entity and entity.return_type == "REPLACEMENT" else "APPROVE_RETURN"
    queue_command(session, case, "approve_return", {"decision": decision})


@hooks.on_request_rejected
def _rejected(session: Session, case: Case, reason: str) -> None:
    entity = marketplace_return(session, case)
    decision = "REJECT_REPLACEMENT" if entity and entity.return_type == "REPLACEMENT" else "REJECT_REFUND"
    queue_command(session, case, "reject_return", {"decision": decision, "reason": reason})


@hooks.on_refund_issued
def _refunded(session: Session, case: Case, refund: Refund) -> None:
    if refund.kind == RefundKind.COUPON:
        return  # a coupon is the seller's own; the marketplace refund is untouched
    if refund.kind == RefundKind.PARTIAL:
        payload = {
            "decision": "OFFER_PARTIAL_REFUND",
            "amount": str(refund.amount),
            "currency": refund.currency,
        }
    elif case.status in {CaseStatus.RETURN_RECEIVED, CaseStatus.INSPECTED}:
        payload = {"decision": "APPROVE_RECEIVED_PACKAGE"}
    else:
        payload = {"decision": "APPROVE_REFUND"}
    command = queue_command(session, case, "refund", payload)
    if command is not None:
        refund.idempotency_key = command.idempotency_key


@dataclass
class SendResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    # Shops (the marketplace's ids) whose access token the marketplace refused, with its answer.
    token_refused: dict[str, str] = field(default_factory=dict)


def _send(client: MarketplaceClient, command: MarketplaceCommand) -> None:
    payload = command.payload
    if command.kind == "reject_return":
        client.reject_return(
            command.return_id, payload["decision"], payload.get("reason", ""), command.idempotency_key
        )
    else:
        partial = (
            {"amount": payload["amount"], "currency": payload["currency"]} if "amount" in payload else None
        )
        client.approve_return(command.return_id, payload["decision"], command.idempotency_key, partial)


def send_pending(
    factory: sessionmaker[Session],
    client: MarketplaceClient | ShopClients,
    now: datetime | None = None,
    batch: int = 100,
) -> SendResult:
    """Send what is due, each through its case's shop's client (`client` alone serves every shop).

    Each command is claimed under a lease first, so no two senders send it. A command for a shop that
    may not be synced (de-authorised, token failed) fails at once with the reason, for an admin to retry.
    """
    now = now or utcnow()
    clients = client if isinstance(client, ShopClients) else ShopClients.single(client)
    result = SendResult()
    with factory() as session:
        ids = claims.claim(session, MARKETPLACE_COMMANDS, now, batch)
        session.commit()
    for command_id in ids:
        with factory() as session:
            command = session.get(MarketplaceCommand, command_id)
            assert command is not None
            shop = select(Shop.external_shop_id).where(Shop.id == command.case.shop_id)
            shop_id = session.scalar(shop) or ""
            try:
                shop_client = clients.for_shop(shop_id)
                if shop_client is None:
                    raise ShopUnavailable(f"shop {shop_id} has no marketplace connection")
                _send(shop_client, command)
            except ShopUnavailable as error:
                _after_failure(session, command_id, now, str(error), False, result)
                continue
            except MarketplaceError as error:
                if error.token_refused:
                    # Waits with backoff while the shop's token is refreshed, rather than failing for good.
                    result.token_refused[shop_id] = str(error)
                retryable = error.retryable or error.token_refused
                _after_failure(session, command_id, now, str(error), retryable, result)
                continue
            except Exception:
                _after_failure(session, command_id, now, traceback.format_exc(), True, result)
                continue
            claims.complete(session, MARKETPLACE_COMMANDS, command_id, {"state": "sent", "sent_at": utcnow()})
            session.commit()
            result.sent += 1
    return result


def _after_failure(
    session: Session, command_id: int, now: datetime, error: str, retryable: bool, result: SendResult
) -> None:
    session.rollback()
    failure = claims.fail(session, MARKETPLACE_COMMANDS, command_id, now, error, retryable)
    session.commit()
    if failure is None:
        return
    if failure.dead:
        result.failed += 1
    else:
        result.retried += 1


def retry_command(session: Session, command_id: int) -> bool:
    """Put a failed command back in the queue (an admin asked); True when it was failed."""
    return claims.retry(session, MARKETPLACE_COMMANDS, command_id)
