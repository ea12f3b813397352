"""Refreshing shops' access tokens before they expire, with the claim helper (lease, backoff, dead letter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from portal.domain.marketplace.client import MarketplaceError
from portal.domain.models import ShopConnection
from portal.domain.shops.connections import auth_service, grant_values, set_status
from portal.domain.shops.platform import AuthService, Grant
from portal.domain.shops.secrets import SecretUnreadable, Vault
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import SHOP_TOKENS


@dataclass
class RefreshResult:
    refreshed: int = 0
    retried: int = 0
    failed: int = 0


def refresh_due(
    factory: sessionmaker[Session], vault: Vault, config: Mapping[str, Any], now: datetime | None = None,
    service: AuthService | None = None,
) -> RefreshResult:
    """Refresh every token that is due; the HTTP call happens outside any transaction, under a lease."""
    now = now or utcnow()
    service = service or auth_service(config)
    result = RefreshResult()
    with factory() as session:
        ids = claims.claim(session, SHOP_TOKENS, now, 50)
        work = []
        for connection_id in ids:
            connection = session.get(ShopConnection, connection_id)
            assert connection is not None
            work.append((connection_id, connection.refresh_attempts, connection.app_key,
                         connection.app_secret, connection.refresh_token))
        session.commit()
    for connection_id, attempt, app_key, sealed_secret, sealed_refresh in work:
        grant: Grant | None = None
        try:
            if not sealed_refresh:
                raise SecretUnreadable("the shop has no refresh token; authorise it again")
            grant = service.refresh(app_key, vault.open(sealed_secret), vault.open(sealed_refresh))
        except MarketplaceError as error:
            message = f"token refresh refused: {error}"
            _failed(factory, connection_id, attempt, message, error.retryable, result)
        except SecretUnreadable as error:
            _failed(factory, connection_id, attempt, str(error), False, result)
        if grant is not None:
            _store(factory, vault, connection_id, attempt, grant, result)
    return result


def _store(
    factory: sessionmaker[Session], vault: Vault, connection_id: int, attempt: int, grant: Grant,
    result: RefreshResult,
) -> None:
    now = utcnow()
    values = {**grant_values(vault, grant, now), "last_refreshed_at": now}
    with factory() as session:
        # Changes nothing when the shop was de-authorised meanwhile or the lease went to another worker.
        if claims.complete(session, SHOP_TOKENS, connection_id, values, attempt=attempt):
            connection = session.get(ShopConnection, connection_id)
            assert connection is not None
            if connection.status == "failed":
                set_status(connection, "connected", None, now)
            result.refreshed += 1
        session.commit()


def _failed(
    factory: sessionmaker[Session], connection_id: int, attempt: int, error: str, retryable: bool,
    result: RefreshResult,
) -> None:
    now = utcnow()
    with factory() as session:
        failure = claims.fail(session, SHOP_TOKENS, connection_id, now, error, retryable, attempt=attempt)
        if failure is not None and failure.dead:
            connection = session.get(ShopConnection, connection_id)
            assert connection is not None
            set_status(connection, "failed", error, now)
            result.failed += 1
        elif failure is not None:
            result.retried += 1
        session.commit()
