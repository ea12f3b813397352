"""Connecting shops: adding one, its authorisation (state, code, tokens), its status, and its API client."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError, client_from_config
from portal.domain.marketplace.clients import ShopClients
from portal.domain.models import Market, Shop, ShopConnection
from portal.domain.shops.platform import AuthService, Grant, authorized_shops
from portal.domain.shops.secrets import SecretUnreadable, Vault
from portal.domain.types import utcnow

DEFAULT_API_URL = "https://open-api.tiktokglobalshop.com"
DEFAULT_AUTH_URL = "https://auth.tiktok-shops.com"
# How long an authorisation link may wait for the seller's approval.
STATE_LIFETIME = timedelta(minutes=15)
# A token is refreshed a day before it expires, or halfway through a shorter life.
REFRESH_AHEAD = timedelta(days=1)
# Admins are warned this long before a shop's refresh token ends: only a new authorisation helps then.
REAUTHORISE_AHEAD = timedelta(days=7)
# After the app secret is replaced, webhooks signed with the old one are still accepted this long.
PREVIOUS_SECRET_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class MarketSpec:
    code: str
    name: str
    currency: str
    timezone: str
    language: str


# The markets a shop can serve; buyers' languages are those the portal writes to buyers in.
MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("US", "United States", "USD", "America/New_York", "en"),
    MarketSpec("UK", "United Kingdom", "GBP", "Europe/London", "en"),
    MarketSpec("DE", "Germany", "EUR", "Europe/Berlin", "de"),
    MarketSpec("MY", "Malaysia", "MYR", "Asia/Kuala_Lumpur", "ms"),
    MarketSpec("SG", "Singapore", "SGD", "Asia/Singapore", "en"),
)
MARKETS_BY_CODE = {m.code: m for m in MARKETS}


class AuthorisationRefused(Exception):
    """The callback cannot connect the shop: `kind` says why (the page words it), `details` fill it in.

    Kinds: unknown_state (wrong, forged or replayed), expired_state, other_admin, no_code,
    code_refused (the marketplace refused the code: expired or used), wrong_shop.
    """

    def __init__(self, kind: str, **details: str) -> None:
        super().__init__(f"{kind}: {details}" if details else kind)
        self.kind = kind
        self.details = details


def api_url(config: Mapping[str, Any]) -> str:
    return str(config.get("TIKTOK_SHOP_API_URL") or DEFAULT_API_URL)


def auth_service(config: Mapping[str, Any]) -> AuthService:
    return AuthService(str(config.get("TIKTOK_SHOP_AUTH_URL") or DEFAULT_AUTH_URL))


def add_shop(
    session: Session, vault: Vault, *, name: str, company_name: str, external_shop_id: str,
    app_key: str, app_secret: str, market_codes: list[str],
) -> Shop:
    """A new shop waiting for the seller's authorisation, with a market for each code it serves."""
    shop = Shop(name=name, company_name=company_name, platform="tiktok_shop",
                external_shop_id=external_shop_id)
    for code in market_codes:
        spec = MARKETS_BY_CODE[code]
        shop.markets.append(Market(code=spec.code, name=spec.name, currency=spec.currency,
                                   timezone=spec.timezone, language=spec.language))
    session.add(shop)
    session.add(ShopConnection(shop=shop, app_key=app_key, app_secret=vault.seal(app_secret),
                               status="pending",
                               refresh_state="idle", refresh_attempts=0))
    session.flush()
    return shop


def replace_secret(connection: ShopConnection, vault: Vault, new_secret: str, now: datetime) -> None:
    """A new app secret; the old one still verifies webhooks for a grace period (no notification lost)."""
    connection.previous_secret = connection.app_secret
    connection.previous_secret_until = now + PREVIOUS_SECRET_GRACE
    connection.app_secret = vault.seal(new_secret)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def begin_authorisation(connection: ShopConnection, user_id: int, now: datetime) -> str:
    """A fresh `state` for the authorisation link; only its hash is stored, and it works once."""
    state = secrets.token_urlsafe(32)
    connection.auth_state_hash = _hash(state)
    connection.auth_state_expires_at = now + STATE_LIFETIME
    connection.auth_user_id = user_id
    return state


def take_state(session: Session, state: str, user_id: int, now: datetime) -> ShopConnection:
    """The connection this `state` was issued for, consumed so it cannot be used again."""
    connection = session.scalar(
        select(ShopConnection).where(ShopConnection.auth_state_hash == _hash(state[:200]))
    ) if state else None
    if connection is None:
        raise AuthorisationRefused("unknown_state")
    expired = connection.auth_state_expires_at is None or connection.auth_state_expires_at < now
    started_by = connection.auth_user_id
    connection.auth_state_hash = None
    connection.auth_state_expires_at = None
    connection.auth_user_id = None
    if expired:
        raise AuthorisationRefused("expired_state")
    if started_by != user_id:
        raise AuthorisationRefused("other_admin")
    return connection


def complete_authorisation(
    session: Session, vault: Vault, config: Mapping[str, Any], connection: ShopConnection, code: str,
    now: datetime,
) -> ShopConnection:
    """Exchange the code for tokens, check they are for this shop, and store them (encrypted)."""
    if not code or len(code) > 512:
        raise AuthorisationRefused("no_code")
    service = auth_service(config)
    secret = vault.open(connection.app_secret)
    try:
        grant = service.exchange_code(connection.app_key, secret, code)
        client = MarketplaceClient(api_url(config), connection.app_key, secret, grant.access_token,
                                   max_retries=1, backoff_seconds=0.2)
        shops = authorized_shops(client)
    except MarketplaceError as error:
        raise AuthorisationRefused("code_refused", error=str(error)[:300]) from None
    finally:
        service.http.close()
    wanted = connection.shop.external_shop_id
    found = next((s for s in shops if str(s.get("id")) == wanted), None)
    if found is None:
        granted = ", ".join(str(s.get("id"))[:64] for s in shops[:5]) or "—"
        raise AuthorisationRefused("wrong_shop", granted=granted, wanted=wanted)
    store_grant(connection, vault, grant, now)
    connection.shop_cipher = str(found.get("cipher") or "")[:128] or None
    connection.region = str(found.get("region") or "")[:8] or None
    connection.connected_at = now
    set_status(connection, "connected", None, now)
    connection.expires_warning_at = None
    connection.authorisation_expires_at = None
    return connection


def grant_values(vault: Vault, grant: Grant, now: datetime) -> dict[str, Any]:
    """The columns a new grant sets: encrypted tokens, expiries, and the next refresh scheduled."""
    return {
        "access_token": vault.seal(grant.access_token),
        "refresh_token": vault.seal(grant.refresh_token),
        "access_expires_at": grant.access_expires_at,
        "refresh_expires_at": grant.refresh_expires_at,
        "refresh_state": "scheduled",
        "refresh_due_at": refresh_time(grant.access_expires_at, now),
        "refresh_attempts": 0,
        "refresh_error": None,
        **({"open_id": grant.open_id} if grant.open_id else {}),
        **({"seller_name": grant.seller_name} if grant.seller_name else {}),
    }


def store_grant(connection: ShopConnection, vault: Vault, grant: Grant, now: datetime) -> None:
    for name, value in grant_values(vault, grant, now).items():
        setattr(connection, name, value)


def refresh_time(expires_at: datetime, now: datetime) -> datetime:
    """When to refresh a token that expires at `expires_at`: well before, whatever its lifetime."""
    left = max(expires_at - now, timedelta(0))
    return expires_at - min(REFRESH_AHEAD, left / 2)


def set_status(connection: ShopConnection, status: str, reason: str | None, now: datetime) -> None:
    connection.status = status
    connection.status_reason = reason[:2000] if reason else None
    connection.status_changed_at = now
    if status == "deauthorised":
        connection.refresh_state = "idle"  # nothing left to refresh


def token_refused(connection: ShopConnection, reason: str, now: datetime) -> None:
    """The marketplace refused the shop's access token: stop syncing it, and try a refresh at once."""
    set_status(connection, "failed", f"the marketplace refused the access token: {reason}", now)
    if connection.refresh_token and connection.refresh_state != "refreshing":
        connection.refresh_state = "scheduled"
        connection.refresh_due_at = now
        connection.refresh_attempts = 0


def connection_for(session: Session, external_shop_id: str) -> ShopConnection | None:
    return session.scalar(
        select(ShopConnection).join(Shop).where(Shop.external_shop_id == external_shop_id)
    )


def mark_deauthorised(session: Session, external_shop_id: str, reason: str, now: datetime) -> bool:
    """The seller took the authorisation back: stop syncing the shop and say why; False if unknown."""
    connection = connection_for(session, external_shop_id)
    if connection is None:
        return False
    set_status(connection, "deauthorised", reason, now)
    connection.access_token = None
    connection.refresh_token = None
    return True


def mark_expiring(
    session: Session, external_shop_id: str, expires_at: datetime | None, now: datetime
) -> bool:
    """The marketplace warns that the authorisation ends soon: the admin must authorise again."""
    connection = connection_for(session, external_shop_id)
    if connection is None:
        return False
    connection.expires_warning_at = now
    connection.authorisation_expires_at = expires_at
    return True


def client_for(connection: ShopConnection, vault: Vault, config: Mapping[str, Any]) -> MarketplaceClient:
    if not connection.access_token:
        raise SecretUnreadable("the shop has no access token")
    return MarketplaceClient(
        base_url=api_url(config),
        app_key=connection.app_key,
        app_secret=vault.open(connection.app_secret),
        access_token=vault.open(connection.access_token),
        shop_cipher=connection.shop_cipher or "",
    )


STATUS_REASONS = {
    "pending": "not authorised yet",
}


def load_clients(session: Session, vault: Vault, config: Mapping[str, Any]) -> ShopClients:
    """A client for every connected shop; every other shop with a connection is blocked, with its reason."""
    clients = ShopClients(fallback=client_from_config(config))
    rows = session.execute(select(Shop.external_shop_id, ShopConnection).join(ShopConnection.shop)).all()
    for external_id, connection in rows:
        if connection.status != "connected":
            reason = connection.status_reason or STATUS_REASONS.get(connection.status, connection.status)
            clients.blocked[external_id] = f"shop {external_id} is {connection.status}: {reason}"
            continue
        try:
            clients.connected[external_id] = client_for(connection, vault, config)
        except SecretUnreadable as error:
            clients.blocked[external_id] = f"shop {external_id}: {error}"
    return clients


def webhook_credentials(
    session: Session, config: Mapping[str, Any], vault: Vault, external_shop_id: str, now: datetime
) -> list[tuple[str, list[str]]]:
    """The app keys and secrets a notification about this shop may be signed with.

    A shop connected in the portal: its own app only. Any other shop (unknown, or set up through the
    environment): every app the portal knows, so its notifications are kept and reported, not refused.
    """
    # One query for both cases: a seller has a handful of shops, and this runs for every notification.
    rows = session.execute(select(Shop.external_shop_id, ShopConnection).join(ShopConnection.shop)).all()
    own = next((c for shop_id, c in rows if external_shop_id and shop_id == external_shop_id), None)
    connections = [own] if own is not None else [c for _shop_id, c in rows]
    found: list[tuple[str, list[str]]] = []
    for connection in connections:
        keys = [_open(vault, connection.app_secret)]
        if connection.previous_secret and (connection.previous_secret_until or now) > now:
            keys.append(_open(vault, connection.previous_secret))
        found.append((connection.app_key, [k for k in keys if k]))
    if own is None and config.get("TIKTOK_SHOP_APP_KEY"):
        env = [config.get("TIKTOK_SHOP_APP_SECRET", ""), config.get("TIKTOK_SHOP_APP_SECRET_PREVIOUS", "")]
        found.append((str(config["TIKTOK_SHOP_APP_KEY"]), [str(s) for s in env if s]))
    return found


def _open(vault: Vault, value: str) -> str:
    try:
        return vault.open(value)
    except SecretUnreadable:
        return ""


def needs_attention(session: Session, now: datetime | None = None) -> list[ShopConnection]:
    """Connections an admin must act on: de-authorised, failed, or expiring soon (the marketplace said
    so, or the refresh token itself ends within REAUTHORISE_AHEAD: no refresh can extend it)."""
    soon = (now or utcnow()) + REAUTHORISE_AHEAD
    return list(session.scalars(
        select(ShopConnection)
        .where(ShopConnection.status.in_(("deauthorised", "failed"))
               | ShopConnection.expires_warning_at.is_not(None)
               | ((ShopConnection.status == "connected") & (ShopConnection.refresh_expires_at < soon)))
        .order_by(ShopConnection.id)
    ))


def check_connection(
    connection: ShopConnection, vault: Vault, config: Mapping[str, Any], now: datetime | None = None
) -> str | None:
    """Ask the marketplace which shops the token may act for; None when this shop is among them, else why."""
    now = now or utcnow()
    connection.last_tested_at = now
    error: str | None = None
    if connection.status != "connected":
        error = "the shop is not connected"
    else:
        try:
            client = client_for(connection, vault, config)
            client.max_retries = 1
            client.shop_cipher = ""
            shops = authorized_shops(client)
            if not any(str(s.get("id")) == connection.shop.external_shop_id for s in shops):
                error = "the token does not cover this shop any more"
        except (MarketplaceError, SecretUnreadable) as failure:
            error = str(failure)
    connection.last_test_error = error[:2000] if error else None
    return error
