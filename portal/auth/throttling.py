"""Throttles on sign-in (per account and per address), the JSON API (per token) and webhooks (per source).

Limits come from the configuration (THROTTLE_*); counts are kept in the database by
portal.domain.accounts.throttle, so all workers and hosts share them. Refused requests get 429 with
Retry-After: the sign-in page says how long to wait, the API answers its usual JSON error, webhooks JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from portal.api.errors import ApiError
from portal.auth import bookkeeping
from portal.domain.accounts import throttle

SIGNIN_ACCOUNT = "signin_account"
SIGNIN_ADDRESS = "signin_address"
API_TOKEN = "api_token"
WEBHOOK_SOURCE = "webhook_source"
SETTINGS = {
    SIGNIN_ACCOUNT: "THROTTLE_SIGNIN_ACCOUNT",
    SIGNIN_ADDRESS: "THROTTLE_SIGNIN_ADDRESS",
    API_TOKEN: "THROTTLE_API_TOKEN",
    WEBHOOK_SOURCE: "THROTTLE_WEBHOOK_SOURCE",
}
# Signed notifications from marketplaces and carriers, counted per endpoint and sending address.
WEBHOOK_ENDPOINTS = frozenset({"intake.tiktok_shop", "carriers.aftership", "carriers.seventeentrack"})


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def limit(scope: str) -> throttle.Limit | None:
    limits: dict[str, throttle.Limit | None] = current_app.extensions["throttle_limits"]
    return limits[scope]


def _hit(scope: str, subject: str) -> datetime | None:
    """Count one request; the bucket it went into (None when the scope is unlimited), or Throttled."""
    chosen = limit(scope)
    if chosen is None:
        return None
    verdict = throttle.hit(bookkeeping.engine(), scope, subject, chosen)
    if not verdict.allowed:
        raise Throttled(verdict.retry_after)
    return verdict.bucket_start


@dataclass(frozen=True)
class Attempt:
    """One counted sign-in attempt; a successful one is taken back so it never locks anyone out."""

    account: str
    address: str
    buckets: dict[str, datetime | None]

    def succeeded(self) -> None:
        engine = bookkeeping.engine()
        for scope, subject in ((SIGNIN_ACCOUNT, self.account), (SIGNIN_ADDRESS, self.address)):
            bucket = self.buckets.get(scope)
            if bucket is not None:
                throttle.release(engine, scope, subject, bucket)


def signin_attempt(email: str) -> Attempt:
    """Count a password or code attempt against the account and the address, or raise Throttled."""
    account = email.strip().lower()
    address = request.remote_addr or ""
    buckets: dict[str, datetime | None] = {SIGNIN_ACCOUNT: _hit(SIGNIN_ACCOUNT, account)}
    try:
        buckets[SIGNIN_ADDRESS] = _hit(SIGNIN_ADDRESS, address)
    except Throttled:
        Attempt(account, address, buckets).succeeded()  # the account's count stays as it was
        raise
    return Attempt(account, address, buckets)


def _throttle_request() -> ResponseReturnValue | None:
    endpoint = request.endpoint
    try:
        if endpoint in WEBHOOK_ENDPOINTS:
            _hit(WEBHOOK_SOURCE, f"{endpoint}|{request.remote_addr or ''}")
        elif request.blueprint == "api" and "api_token" in g:
            _hit(API_TOKEN, str(g.api_token.id))
    except Throttled as refused:
        seconds = str(refused.retry_after)
        if request.blueprint == "api":
            raise ApiError(
                429,
                gettext("Too many requests with this token. Try again in %(seconds)s seconds.",
                        seconds=seconds),
                code="rate_limited",
                details={"retry_after": refused.retry_after},
                headers={"Retry-After": seconds},
            ) from None
        response = jsonify(code=429, message=f"too many requests; retry after {seconds} seconds")
        response.status_code = 429
        response.headers["Retry-After"] = seconds
        return response
    return None


def init_app(app: Flask) -> None:
    """Parse the limits once (a mistyped one stops the start) and count API and webhook requests."""
    app.extensions["throttle_limits"] = {
        scope: throttle.parse_limit(str(app.config[setting])) for scope, setting in SETTINGS.items()
    }
    app.before_request(_throttle_request)
