"""Carrier webhooks: signed by the tracking provider, so public and CSRF-exempt; bad signatures get 401."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from portal.access import public
from portal.db import db_session
from portal.domain.carrier_updates import apply_update
from portal.domain.tracking import (
    PayloadError,
    TrackingUpdate,
    parse_aftership,
    parse_seventeentrack,
    verify_aftership,
    verify_seventeentrack,
)

bp = Blueprint("carriers", __name__, url_prefix="/webhooks")
log = logging.getLogger("portal.carriers")


def _handle(verified: bool, parse: Callable[[object], TrackingUpdate | None]) -> ResponseReturnValue:
    if not verified:
        return jsonify(error="invalid signature"), 401
    body = request.get_data(cache=True)
    try:
        update = parse(json.loads(body))
    except (ValueError, PayloadError) as error:
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


@bp.post("/aftership")
@public
def aftership() -> ResponseReturnValue:
    body = request.get_data(cache=True)
    secret = current_app.config["AFTERSHIP_WEBHOOK_SECRET"]
    return _handle(
        verify_aftership(body, request.headers.get("aftership-hmac-sha256"), secret), parse_aftership
    )


@bp.post("/17track")
@public
def seventeentrack() -> ResponseReturnValue:
    body = request.get_data(cache=True)
    key = current_app.config["SEVENTEENTRACK_API_KEY"]
    return _handle(verify_seventeentrack(body, request.headers.get("sign"), key), parse_seventeentrack)
