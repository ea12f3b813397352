"""The marketplace's periodic work in the scheduler process: process the inbox, send decisions, reconcile."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.marketplace.client import client_from_config
from portal.domain.marketplace.commands import send_pending
from portal.domain.marketplace.processing import process_pending
from portal.domain.marketplace.reconcile import RESOURCES, reconcile
from portal.domain.models import MarketplaceSyncCursor, Shop
from portal.domain.types import utcnow
from portal.scheduler import periodic


@periodic("marketplace inbox")
def process_inbox(app: Flask, factory: sessionmaker[Session]) -> int:
    return process_pending(factory, client_from_config(app.config), store=app.extensions["attachments"]).total


@periodic("marketplace outbox")
def send_decisions(app: Flask, factory: sessionmaker[Session]) -> int:
    client = client_from_config(app.config)
    if client is None:
        return 0  # decisions wait until the marketplace API is configured
    result = send_pending(factory, client)
    return result.sent + result.failed


@periodic("marketplace reconciliation", seconds=30)
def reconcile_shops(app: Flask, factory: sessionmaker[Session]) -> int:
    """Every MARKETPLACE_SYNC_SECONDS, for each TikTok Shop shop; checked every 30 s."""
    client = client_from_config(app.config)
    if client is None:
        return 0
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
    for shop_id in shops:
        last = last_runs.get(shop_id)
        if last is None or last <= due_before:
            repaired += reconcile(factory, client, shop_id).repaired
    return repaired
