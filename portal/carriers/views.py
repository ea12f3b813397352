"""Carrier webhooks: signed by the tracking provider, so public and CSRF-exempt; bad signatures get 401."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from portal.access import public
from portal.db import db_session
from portal.domain.carrier_updates import apply_update
from portal.domain.json_input import UnreadableBody, load_json
from portal.domain.tracking import (
    PayloadError,
    TrackingUpdate,
    parse_aftership,
    parse_seventeentrack,
    verify_aftership,
    verify_seventeentrack,
)
from portal.webhook_input import BodyTooLarge, read_body

bp = Blueprint("carriers", __name__, url_prefix="/webhooks")
log = logging.getLogger("portal.carriers")


# A tracking update with a long trail is tens of kilobytes; anything far larger is not one.
MAX_BODY_BYTES = 1024 * 1024


def _handle(
    body: bytes, verified: bool, parse: Callable[[object], TrackingUpdate | None]
) -> ResponseReturnValue:
    if not verified:
        return jsonify(error="invalid signature"), 401
    try:
        update = parse(load_json(body))
    except (UnreadableBody, PayloadError) as error:
        # 400 tells the provider not to retry: this delivery will never read differently.
        return jsonify(error=f"unreadable payload: {error}"), 400
    if update is None:
        return jsonify(status="ignored")
    session = db_session()
    try:
        result = apply_update(session, update, body.decode("utf-8"), current_app.extensions["attachments"])
        session.commit()
    except Exception:
        session.rollback()
        log.exception("tracking update for %s failed", update.tracking_number)
        # 500 makes the provider retry later; nothing of this delivery was kept.
        return jsonify(error="could not apply the update"), 500
    return jsonify(
        status="applied" if result.matched else "unmatched",
        new_checkpoints=result.new_checkpoints,
        opened_cases=result.opened_cases,
    )


def _body() -> bytes | None:
    try:
        return read_body(MAX_BODY_BYTES)
    except BodyTooLarge:
        return None


def _too_large() -> ResponseReturnValue:
    return jsonify(error=f"the body is larger than {MAX_BODY_BYTES // 1024} KiB"), 413


@bp.post("/aftership")
@public
def aftership() -> ResponseReturnValue:
    body = _body()
    if body is None:
        return _too_large()
    secret = current_app.config["AFTERSHIP_WEBHOOK_SECRET"]
    return _handle(
        body, verify_aftership(body, request.headers.get("aftership-hmac-sha256"), secret), parse_aftership
    )


@bp.post("/17track")
@public
def seventeentrack() -> ResponseReturnValue:
    body = _body()
    if body is None:
        return _too_large()
    key = current_app.config["SEVENTEENTRACK_API_KEY"]
    return _handle(body, verify_seventeentrack(body, request.headers.get("sign"), key), parse_seventeentrack)
