"""The TikTok Shop webhook (authenticated by its signature) and the admin's Marketplace sync page."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import csrf
from portal.access import allow, public
from portal.db import db_session
from portal.domain.enums import Role
from portal.domain.json_input import UnreadableBody, load_json
from portal.domain.marketplace import commands, processing
from portal.domain.marketplace.inbox import InvalidNotification, backlog, receive
from portal.domain.marketplace.signing import verify_webhook
from portal.domain.models import MarketplaceCommand, MarketplaceEvent, MarketplaceSyncCursor, ShopConnection
from portal.domain.shops.connections import webhook_credentials
from portal.domain.shops.secrets import Vault
from portal.domain.types import utcnow
from portal.pagination import newest_first
from portal.rendering import next_page_url, render
from portal.webhook_input import BodyTooLarge, read_body

bp = Blueprint("intake", __name__)

LIST_LABELS = {
    "returns": _l("Returns and refunds"),
    "cancellations": _l("Cancellations"),
    "orders": _l("Orders"),
    "buyer_messages": _l("Buyer messages"),
}
COMMAND_LABELS = {
    "approve_return": _l("Approve the return"),
    "reject_return": _l("Reject the request"),
    "refund": _l("Refund"),
}

# Notifications are a few kilobytes; anything far larger is not one.
MAX_NOTIFICATION_BYTES = 256 * 1024


@bp.post("/webhooks/tiktok-shop")
@public
@csrf.exempt
def tiktok_shop() -> ResponseReturnValue:
    """Store a signed notification and answer at once; the scheduler processes it afterwards."""
    try:
        body = read_body(MAX_NOTIFICATION_BYTES)
    except BodyTooLarge:
        return jsonify(code=413, message="notification too large"), 413
    session = db_session()
    # Verified with the credentials of the shop it names: that shop's own app when it is connected in
    # the portal; any app the portal knows otherwise, so a notice about an unknown shop is kept.
    credentials = webhook_credentials(
        session, current_app.config, Vault.from_config(current_app.config), _shop_named(body), utcnow()
    )
    header = request.headers.get("Authorization")
    if not any(verify_webhook(key, secrets, body, header) for key, secrets in credentials):
        return jsonify(code=401, message="invalid signature"), 401
    try:
        stored = receive(session, body)
        session.commit()
    except InvalidNotification as error:
        session.rollback()
        return jsonify(code=400, message=str(error)), 400
    return jsonify(code=0, message="success", data={"duplicate": not stored})


def _shop_named(body: bytes) -> str:
    """The shop id a body names, read before its signature is checked (only to choose the key)."""
    try:
        doc = load_json(body)
    except UnreadableBody:
        return ""  # the signature check and `receive` refuse it with their own answers
    return str(doc.get("shop_id") or "")[:64] if isinstance(doc, dict) else ""


@bp.get("/admin/marketplace")
@allow(Role.ADMIN)
def sync_status() -> ResponseReturnValue:
    session = db_session()
    config = current_app.config
    counts = backlog(session)
    oldest_pending = session.scalar(
        select(func.min(MarketplaceEvent.received_at)).where(MarketplaceEvent.state == "pending")
    )
    failed_events = newest_first(
        session,
        select(MarketplaceEvent).where(MarketplaceEvent.state == "failed"),
        MarketplaceEvent.received_at,
        MarketplaceEvent.id,
        request.args.get("after"),
        config["PAGE_SIZE"],
    )
    command_counts = dict(
        session.execute(
            select(MarketplaceCommand.state, func.count()).group_by(MarketplaceCommand.state)
        ).all()
    )
    failed_commands = session.scalars(
        select(MarketplaceCommand)
        .where(MarketplaceCommand.state == "failed")
        .order_by(MarketplaceCommand.created_at.desc())
        .limit(config["PAGE_SIZE"])
    ).all()
    shops = dict(
        session.execute(select(ShopConnection.status, func.count()).group_by(ShopConnection.status)).all()
    )
    cursors = session.scalars(
        select(MarketplaceSyncCursor).order_by(MarketplaceSyncCursor.shop_id, MarketplaceSyncCursor.resource)
    ).all()
    return render(
        "intake/sync.html",
        connection={
            "webhook": bool(shops or (config["TIKTOK_SHOP_APP_KEY"] and config["TIKTOK_SHOP_APP_SECRET"])),
            "rotation": bool(config["TIKTOK_SHOP_APP_SECRET_PREVIOUS"]),
            "api": bool(config["TIKTOK_SHOP_API_URL"]) or bool(shops.get("connected")),
            "shops": shops,
        },
        counts=counts,
        oldest_pending=oldest_pending,
        failed_events=failed_events.items,
        next_url=next_page_url(failed_events.next_cursor),
        command_counts=command_counts,
        failed_commands=failed_commands,
        cursors=[
            {
                "shop_id": c.shop_id,
                "list": LIST_LABELS.get(c.resource, c.resource),
                "synced_until": datetime.fromtimestamp(c.synced_until, UTC) if c.synced_until else None,
                "last_success_at": c.last_success_at,
                "repaired_total": c.repaired_total,
                "last_error": c.last_error,
            }
            for c in cursors
        ],
        command_labels=COMMAND_LABELS,
    )


@bp.post("/admin/marketplace/events/<int:event_id>/retry")
@allow(Role.ADMIN)
def retry_event(event_id: int) -> ResponseReturnValue:
    session = db_session()
    if processing.retry_event(session, event_id):
        session.commit()
        flash(_("The event is queued again; the scheduler will process it shortly."), "success")
    else:
        flash(_("That event is not failed any more; nothing was changed."), "error")
    return redirect(url_for("intake.sync_status"))


@bp.post("/admin/marketplace/commands/<int:command_id>/retry")
@allow(Role.ADMIN)
def retry_command(command_id: int) -> ResponseReturnValue:
    session = db_session()
    if commands.retry_command(session, command_id):
        session.commit()
        flash(_("The command is queued again; it will be sent with its original idempotency key."), "success")
    else:
        flash(_("That command is not failed any more; nothing was changed."), "error")
    return redirect(url_for("intake.sync_status"))
