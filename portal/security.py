"""Response headers that keep the browser strict (CSP without eval, no framing, no sniffing, HSTS on
HTTPS), and which proxy headers to believe about the client's address and scheme."""

from __future__ import annotations

from flask import Flask, Response, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    config = current_app.config
    # Secure cookies mean the portal is served over HTTPS: browsers should never try plain HTTP again.
    if config["SESSION_COOKIE_SECURE"] and config["HSTS_SECONDS"] > 0:
        response.headers.setdefault(
            "Strict-Transport-Security", f"max-age={config['HSTS_SECONDS']}; includeSubDomains"
        )
    return response


def init_app(app: Flask) -> None:
    app.after_request(_headers)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies > 0:
        # Behind N proxies, the client's address and scheme are the Nth from the right in X-Forwarded-*;
        # without this every request seems to come from the proxy (one throttle for everyone).
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
