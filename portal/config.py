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
    secure = _flag("SESSION_COOKIE_SECURE", False)
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _secret_key(instance_path),
        # Earlier secret keys, comma-separated, during a rotation: shop tokens encrypted under them still
        # read (flask --app wsgi shops rotate-keys re-encrypts them), as do Flask's own signatures.
        "SECRET_KEY_FALLBACKS": [
            k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k.strip()
        ],
        # Signs the audit log's checkpoints (Ed25519): a PEM private key or its 32-byte seed in base64/hex.
        "AUDIT_SIGNING_KEY": os.environ.get("AUDIT_SIGNING_KEY") or generated_key_text(instance_path),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'aftersales.db'}",
        "ATTACHMENTS_DIR": os.environ.get("ATTACHMENTS_DIR") or str(instance_path / "attachments"),
        # Empty: files in local folders. s3://bucket/prefix: an S3-compatible store shared by every host
        # (see portal/domain/storage.py for the endpoint and credential variables).
        "STORAGE_URL": os.environ.get("STORAGE_URL", ""),
        "STORAGE_ENDPOINT_URL": os.environ.get("STORAGE_ENDPOINT_URL", ""),
        "STORAGE_CACHE_DIR": os.environ.get("STORAGE_CACHE_DIR", ""),
        "STORAGE_CACHE_MAX_MB": max(1, int(os.environ.get("STORAGE_CACHE_MAX_MB", "2048"))),
        # Exports download straight from the store through a link signed for this long; 0 streams them
        # through the portal (for a store that browsers cannot reach).
        "STORAGE_LINK_SECONDS": min(max(0, int(os.environ.get("STORAGE_LINK_SECONDS", "300"))), 7 * 86_400),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        # Sign-in state lives in the user_sessions table; the cookie only names a session there.
        "SESSION_IDLE_HOURS": float(os.environ.get("SESSION_IDLE_HOURS", "12")),
        "REMEMBER_DAYS": float(os.environ.get("REMEMBER_DAYS", "14")),
        # Throttles, "COUNT/PERIOD" (10/15min, 600/min, 1000/day) or "off"; counted in the database.
        "THROTTLE_SIGNIN_ACCOUNT": os.environ.get("THROTTLE_SIGNIN_ACCOUNT", "10/15min"),
        "THROTTLE_SIGNIN_ADDRESS": os.environ.get("THROTTLE_SIGNIN_ADDRESS", "50/15min"),
        "THROTTLE_API_TOKEN": os.environ.get("THROTTLE_API_TOKEN", "600/min"),
        "THROTTLE_API_FAILURES": os.environ.get("THROTTLE_API_FAILURES", "60/min"),
        "THROTTLE_WEBHOOK_SOURCE": os.environ.get("THROTTLE_WEBHOOK_SOURCE", "3000/min"),
        # Reverse proxies in front of the portal whose X-Forwarded-* headers are trusted (0: none).
        "TRUSTED_PROXIES": int(os.environ.get("TRUSTED_PROXIES", "0")),
        # Strict-Transport-Security max-age, sent when cookies are Secure (HTTPS); 0 sends none.
        "HSTS_SECONDS": int(os.environ.get("HSTS_SECONDS", "31536000")),
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
        # PDF renderer processes per portal process (each may use PDF_RENDER_MEMORY_MB); an export renders
        # this many packs at once, at most one per core.
        "PDF_RENDER_WORKERS": min(max(1, int(os.environ.get("PDF_RENDER_WORKERS", "2"))), 16),
        # Evidence-pack exports: cases in one export, and exports running at once.
        "EXPORT_MAX_CASES": int(os.environ.get("EXPORT_MAX_CASES", "500")),
        "EXPORTS_AT_ONCE": int(os.environ.get("EXPORTS_AT_ONCE", "2")),
        # Policy checks from the editor: seconds each request may spend, and how many run at once per user.
        "POLICY_CHECK_SECONDS": float(os.environ.get("POLICY_CHECK_SECONDS", "10")),
        "POLICY_CHECKS_PER_USER": int(os.environ.get("POLICY_CHECKS_PER_USER", "2")),
        # How buyer messages leave the portal: "case_record" keeps them on the case (the demo), "auto"
        # uses the marketplace chat for marketplace buyers and e-mail for buyers with an address,
        # "email" and "marketplace" prefer that channel (see domain.conversations.channels.Router).
        "MESSAGE_CHANNEL": os.environ.get("MESSAGE_CHANNEL", "case_record"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "25")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": os.environ.get("SMTP_STARTTLS", "") in ("1", "true", "yes"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "returns@localhost"),
        # The sender's name on e-mail to buyers.
        "SHOP_NAME": os.environ.get("SHOP_NAME", "Returns"),
        # The TikTok Shop app: webhooks are verified with the secret (and the previous one during a
        # rotation); with no secret every notification is refused. No API URL: nothing is polled or sent.
        "TIKTOK_SHOP_APP_KEY": os.environ.get("TIKTOK_SHOP_APP_KEY", ""),
        "TIKTOK_SHOP_APP_SECRET": os.environ.get("TIKTOK_SHOP_APP_SECRET", ""),
        "TIKTOK_SHOP_APP_SECRET_PREVIOUS": os.environ.get("TIKTOK_SHOP_APP_SECRET_PREVIOUS", ""),
        "TIKTOK_SHOP_API_URL": os.environ.get("TIKTOK_SHOP_API_URL", ""),
        "TIKTOK_SHOP_ACCESS_TOKEN": os.environ.get("TIKTOK_SHOP_ACCESS_TOKEN", ""),
        # The marketplace's authorisation service: the seller's authorisation page and the token endpoints.
        "TIKTOK_SHOP_AUTH_URL": os.environ.get("TIKTOK_SHOP_AUTH_URL", "https://auth.tiktok-shops.com"),
        "MARKETPLACE_SYNC_SECONDS": float(os.environ.get("MARKETPLACE_SYNC_SECONDS", "300")),
        # Carrier tracking webhooks: AfterShip signs with its webhook secret, 17TRACK with the API key.
        # With no secret configured, that provider's webhook refuses everything.
        "AFTERSHIP_WEBHOOK_SECRET": os.environ.get("AFTERSHIP_WEBHOOK_SECRET", ""),
        "SEVENTEENTRACK_API_KEY": os.environ.get("SEVENTEENTRACK_API_KEY", ""),
        # A parcel of an open case with no tracking event for this many days raises `tracking_stale`.
        "TRACKING_STALE_DAYS": float(os.environ.get("TRACKING_STALE_DAYS", "5")),
        # `/metrics` answers only a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; empty: 404.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Errors go to Sentry when a DSN is set (needs the `sentry` extra: pip install '.[sentry]').
        "SENTRY_DSN": os.environ.get("SENTRY_DSN", ""),
        "SENTRY_ENVIRONMENT": os.environ.get("SENTRY_ENVIRONMENT", ""),
    }
