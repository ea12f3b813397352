"""TikTok Shop's two signatures: on webhook notifications (to us) and on API requests (from us)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

# Query parameters that are not part of an API request's signature.
UNSIGNED_PARAMS = frozenset({"sign", "access_token"})


def webhook_signature(app_key: str, app_secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256, keyed with the app secret, over the app key followed by the raw body."""
    return hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()


def verify_webhook(app_key: str, app_secrets: Iterable[str], body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body` with one of the secrets (two in a rotation), in constant time."""
    if not header or not app_key:
        return False
    given = header.strip().encode()
    ok = False
    for secret in app_secrets:
        if secret:
            # Every secret is checked, so the time taken does not say which one matched.
            ok |= hmac.compare_digest(webhook_signature(app_key, secret, body).encode(), given)
    return ok


def api_signature(app_secret: str, path: str, params: Mapping[str, object], body: bytes = b"") -> str:
    """The `sign` query parameter of an API request.

    The string signed is the secret, the path, each parameter as name then value in name order (without
    `sign` and `access_token`), the raw JSON body, and the secret again; HMAC-SHA256 keyed with the secret.
    """
    pairs = "".join(f"{key}{params[key]}" for key in sorted(params) if key not in UNSIGNED_PARAMS)
    message = app_secret.encode() + path.encode() + pairs.encode() + body + app_secret.encode()
    return hmac.new(app_secret.encode(), message, hashlib.sha256).hexdigest()
