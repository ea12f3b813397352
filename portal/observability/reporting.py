"""Optional error reporting to Sentry: only when SENTRY_DSN is set, and only if sentry-sdk is installed."""

from __future__ import annotations

import logging

log = logging.getLogger("portal.reporting")

_initialised: str | None = None


def init(dsn: str, environment: str = "") -> bool:
    """Start the Sentry client once per process; True when reports will be sent."""
    global _initialised
    if not dsn:
        return False
    if _initialised == dsn:
        return True
    try:
        import sentry_sdk
    except ImportError:
        log.warning("SENTRY_DSN is set but sentry-sdk is not installed (the package's `sentry` extra)")
        return False
    sentry_sdk.init(dsn=dsn, environment=environment or None, send_default_pii=False,
                    traces_sample_rate=0.0)
    _initialised = dsn
    return True
