"""Configuration from environment variables, with defaults that are safe for a local install."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from portal.domain.audit_signing import generated_key_text

LANGUAGES = {"en": "English", "zh": "简体中文"}


def _secret_key(instance_path: Path) -> str:
    """Read the instance's secret key, creating it on the first run; it is never committed."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_config(instance_path: Path) -> dict[str, Any]:
    instance_path.mkdir(parents=True, exist_ok=True)
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret_key(instance_path),
        # Signs the audit log's checkpoints (Ed25519): a PEM private key or its 32-byte seed in base64/hex.
        "AUDIT_SIGNING_KEY": os.environ.get("AUDIT_SIGNING_KEY") or generated_key_text(instance_path),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'aftersales.db'}",
        "ATTACHMENTS_DIR": os.environ.get("ATTACHMENTS_DIR") or str(instance_path / "attachments"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _flag("SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # CSRF tokens live as long as the session: queue pages stay open all day.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_HEADERS": ["X-CSRFToken"],
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": LANGUAGES,
        "SCHEDULER_INTERVAL_SECONDS": float(os.environ.get("SCHEDULER_INTERVAL_SECONDS", "5")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_UPLOAD_MB", "32")) * 1024 * 1024,
        "PAGE_SIZE": 50,
        # Queue counts may be this many seconds old; a count over a million cases is not free.
        "QUEUE_COUNTS_SECONDS": float(os.environ.get("QUEUE_COUNTS_SECONDS", "15")),
        # Bounds on one PDF rendering, so a huge case cannot take the portal down.
        "PDF_RENDER_SECONDS": float(os.environ.get("PDF_RENDER_SECONDS", "60")),
        "PDF_RENDER_MEMORY_MB": int(os.environ.get("PDF_RENDER_MEMORY_MB", "1536")),
        # How buyer messages leave the portal; "case_record" keeps them on the case.
        "MESSAGE_CHANNEL": os.environ.get("MESSAGE_CHANNEL", "case_record"),
        # The TikTok Shop app: webhooks are verified with the secret (and the previous one during a
        # rotation); with no secret every notification is refused. No API URL: nothing is polled or sent.
        "TIKTOK_SHOP_APP_KEY": os.environ.get("TIKTOK_SHOP_APP_KEY", ""),
        "TIKTOK_SHOP_APP_SECRET": os.environ.get("TIKTOK_SHOP_APP_SECRET", ""),
        "TIKTOK_SHOP_APP_SECRET_PREVIOUS": os.environ.get("TIKTOK_SHOP_APP_SECRET_PREVIOUS", ""),
        "TIKTOK_SHOP_API_URL": os.environ.get("TIKTOK_SHOP_API_URL", ""),
        "TIKTOK_SHOP_ACCESS_TOKEN": os.environ.get("TIKTOK_SHOP_ACCESS_TOKEN", ""),
        "MARKETPLACE_SYNC_SECONDS": float(os.environ.get("MARKETPLACE_SYNC_SECONDS", "300")),
        # Carrier tracking webhooks: AfterShip signs with its webhook secret, 17TRACK with the API key.
        # With no secret configured, that provider's webhook refuses everything.
        "AFTERSHIP_WEBHOOK_SECRET": os.environ.get("AFTERSHIP_WEBHOOK_SECRET", ""),
        "SEVENTEENTRACK_API_KEY": os.environ.get("SEVENTEENTRACK_API_KEY", ""),
        # A parcel of an open case with no tracking event for this many days raises `tracking_stale`.
        "TRACKING_STALE_DAYS": float(os.environ.get("TRACKING_STALE_DAYS", "5")),
    }
