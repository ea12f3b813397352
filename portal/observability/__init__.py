"""Operating the portal: JSON logs with request ids, Prometheus metrics, crash dumps, error reporting."""

from __future__ import annotations

import faulthandler

from flask import Flask

from portal.observability import logs, metrics, reporting, requests


def init_app(app: Flask) -> None:
    # A SIGSEGV or SIGABRT in native code (Pango, Pillow, a driver) prints every thread's Python stack.
    if not faulthandler.is_enabled():
        faulthandler.enable(all_threads=True)
    logs.stamp_records()
    reporting.init(app.config.get("SENTRY_DSN", ""), app.config.get("SENTRY_ENVIRONMENT", ""))
    requests.init_app(app)
    metrics.init_app(app)
