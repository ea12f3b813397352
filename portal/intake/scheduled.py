"""The marketplace's periodic work in the scheduler process: process the inbox, send decisions, reconcile,
and refresh shops' tokens. Each shop is reached with its own credentials; a stopped shop is skipped."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.marketplace.clients import ShopClients, ShopUnavailable
from portal.domain.marketplace.commands import send_pending
from portal.domain.marketplace.processing import process_pending
from portal.domain.marketplace.reconcile import RESOURCES, reconcile
from portal.domain.models import MarketplaceSyncCursor, Shop
from portal.domain.shops.connections import connection_for, load_clients, token_refused
from portal.domain.shops.refresh import refresh_due
from portal.domain.shops.secrets import Vault
from portal.domain.types import utcnow
from portal.scheduler import periodic


def shop_clients(app: Flask, factory: sessionmaker[Session]) -> ShopClients:
    with factory() as session:
        return load_clients(session, Vault.from_config(app.config), app.config)


def _token_refused(factory: sessionmaker[Session], refused: dict[str, str]) -> None:
    """Stop syncing shops whose token the marketplace refused, with the reason, and refresh at once."""
    if not refused:
        return
    with factory() as session:
        for shop_id, reason in refused.items():
            connection = connection_for(session, shop_id)
            if connection is not None and connection.status == "connected":
                token_refused(connection, reason, utcnow())
        session.commit()


@periodic("marketplace inbox")
def process_inbox(app: Flask, factory: sessionmaker[Session]) -> int:
    clients = shop_clients(app, factory)
    try:
        result = process_pending(factory, clients, store=app.extensions["attachments"])
    finally:
        clients.close()
    _token_refused(factory, result.token_refused)
    return result.total


@periodic("marketplace outbox")
def send_decisions(app: Flask, factory: sessionmaker[Session]) -> int:
    clients = shop_clients(app, factory)
    if clients.fallback is None and not clients.connected and not clients.blocked:
        return 0  # decisions wait until a shop is connected or the marketplace API is configured
    try:
        result = send_pending(factory, clients)
    finally:
        clients.close()
    _token_refused(factory, result.token_refused)
    return result.sent + result.failed


@periodic("marketplace reconciliation", seconds=30)
def reconcile_shops(app: Flask, factory: sessionmaker[Session]) -> int:
    """Every MARKETPLACE_SYNC_SECONDS, for each TikTok Shop shop that may be synced; checked every 30 s."""
    clients = shop_clients(app, factory)
    due_before = utcnow() - timedelta(seconds=app.config["MARKETPLACE_SYNC_SECONDS"])
    repaired = 0
    with factory() as session:
        shops = list(session.scalars(select(Shop.external_shop_id).where(Shop.platform == "tiktok_shop")))
        last_runs = dict(
            session.execute(
                select(MarketplaceSyncCursor.shop_id, func.min(MarketplaceSyncCursor.last_run_at))
                .group_by(MarketplaceSyncCursor.shop_id)
                .having(func.count() == len(RESOURCES))
            ).all()
        )
    refused: dict[str, str] = {}
    try:
        for shop_id in shops:
            try:
                client = clients.for_shop(shop_id)
            except ShopUnavailable:
                continue  # stopped, with its reason on the Shops page; its cursors stay where they were
            if client is None:
                continue
            last = last_runs.get(shop_id)
            if last is None or last <= due_before:
                result = reconcile(factory, client, shop_id)
                repaired += result.repaired
                if result.token_refused:
                    refused[shop_id] = result.token_refused
    finally:
        clients.close()
    _token_refused(factory, refused)
    return repaired


@periodic("shop token refresh", seconds=30)
def refresh_tokens(app: Flask, factory: sessionmaker[Session]) -> int:
    """Refresh access tokens before they expire (each shop's refresh is due well ahead of its expiry)."""
    result = refresh_due(factory, Vault.from_config(app.config), app.config)
    return result.refreshed + result.failed
