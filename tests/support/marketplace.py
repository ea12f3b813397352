"""Helpers for the marketplace tests: a configured app, signed notifications, a simulator on loopback."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal.domain.marketplace.signing import webhook_signature
from support.app import make_test_app

APP_KEY = "test-app-key"
APP_SECRET = "test-app-secret"
OLD_SECRET = "old-app-secret"
ACCESS_TOKEN = "test-access-token"
_ids = itertools.count(1)


def marketplace_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    config = {
        "TIKTOK_SHOP_APP_KEY": APP_KEY,
        "TIKTOK_SHOP_APP_SECRET": APP_SECRET,
        "TIKTOK_SHOP_APP_SECRET_PREVIOUS": "",
        "TIKTOK_SHOP_API_URL": "",
        "TIKTOK_SHOP_ACCESS_TOKEN": ACCESS_TOKEN,
        **overrides,
    }
    return make_test_app(database_url, tmp_path, **config)


def envelope(kind: int, data: dict[str, Any], shop_id: str, notification_id: str | None = None) -> bytes:
    body = {
        "type": kind,
        "tts_notification_id": notification_id or f"73{int(time.time())}{next(_ids):06d}",
        "shop_id": shop_id,
        "timestamp": int(data.get("update_time") or time.time()),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def post_signed(client: FlaskClient, body: bytes, secret: str = APP_SECRET, app_key: str = APP_KEY) -> Any:
    return client.post(
        "/webhooks/tiktok-shop",
        data=body,
        headers={
            "Authorization": webhook_signature(app_key, secret, body),
            "Content-Type": "application/json",
        },
    )


def return_data(
    order_id: str,
    return_id: str,
    status: str,
    update_time: int,
    return_type: str = "RETURN_AND_REFUND",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "return_role": "BUYER",
        "return_type": return_type,
        "return_status": status,
        "return_id": return_id,
        "create_time": update_time,
        "update_time": update_time,
        **extra,
    }
