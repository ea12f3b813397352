"""Throttles on sign-in (per account and per address), the JSON API (per token) and webhooks (per source).

An address that keeps presenting missing or unknown API tokens is refused too (THROTTLE_API_FAILURES).
Limits come from the configuration (THROTTLE_*); counts are kept in the database by
portal.domain.accounts.throttle, so all workers and hosts share them. Refused requests get 429 with
Retry-After: the sign-in page says how long to wait, the API answers its usual JSON error, webhooks JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext

from portal.access import allowed_roles
from portal.api.errors import ApiError
from portal.auth import bookkeeping
from portal.domain.accounts import throttle

SIGNIN_ACCOUNT = "signin_account"
SIGNIN_ADDRESS = "signin_address"
API_TOKEN = "api_token"
API_FAILURES = "api_failures"
WEBHOOK_SOURCE = "webhook_source"
SETTINGS = {
    SIGNIN_ACCOUNT: "THROTTLE_SIGNIN_ACCOUNT",
    SIGNIN_ADDRESS: "THROTTLE_SIGNIN_ADDRESS",
    API_TOKEN: "THROTTLE_API_TOKEN",
    API_FAILURES: "THROTTLE_API_FAILURES",
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
    """A sign-in attempt let through; the caller says how it went.

    The account's count is reserved before the password is checked, so concurrent guesses cannot
    slip past its limit, and taken back on success. The address's count only grows on failure: an
    office behind one address where everyone signs in at nine is never refused for it.
    """

    account: str
    address: str
    account_bucket: datetime | None

    def succeeded(self) -> None:
        if self.account_bucket is not None:
            throttle.release(bookkeeping.engine(), SIGNIN_ACCOUNT, self.account, self.account_bucket)

    def failed(self) -> None:
        chosen = limit(SIGNIN_ADDRESS)
        if chosen is not None:
            throttle.add(bookkeeping.engine(), SIGNIN_ADDRESS, self.address, chosen)


def signin_attempt(email: str) -> Attempt:
    """Let a password or code attempt through (counted against the account), or raise Throttled."""
    account = email.strip().lower()
    address = request.remote_addr or ""
    by_address = limit(SIGNIN_ADDRESS)
    if by_address is not None:
        verdict = throttle.peek(bookkeeping.engine(), SIGNIN_ADDRESS, address, by_address)
        if not verdict.allowed:
            raise Throttled(verdict.retry_after)
    return Attempt(account, address, _hit(SIGNIN_ACCOUNT, account))


def _refuse_token_guessing(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """An address that keeps sending missing or unknown tokens is refused before its next one is looked up.

    Runs as an app-wide URL value preprocessor: those run before the API's own, which checks the token.
    """
    chosen = limit(API_FAILURES)
    if chosen is None or endpoint is None or request.blueprint != "api" or allowed_roles(endpoint) is None:
        return
    verdict = throttle.peek(bookkeeping.engine(), API_FAILURES, request.remote_addr or "", chosen)
    if not verdict.allowed:
        raise ApiError(
            429,
            gettext("Too many requests without a valid token from this address. "
                    "Try again in %(seconds)s seconds.", seconds=str(verdict.retry_after)),
            code="rate_limited",
            details={"retry_after": verdict.retry_after},
            headers={"Retry-After": str(verdict.retry_after)},
        )


def _count_token_failures(response: Response) -> Response:
    chosen = limit(API_FAILURES)
    if chosen is not None and request.blueprint == "api" and response.status_code == 401:
        throttle.add(bookkeeping.engine(), API_FAILURES, request.remote_addr or "", chosen)
    return response


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
    app.url_value_preprocessor(_refuse_token_guessing)
    app.after_request(_count_token_failures)
