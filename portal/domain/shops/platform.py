"""The marketplace's authorisation service: the seller's authorisation link, tokens for a code or a refresh.

TikTok Shop's flow: the seller opens `{auth}/oauth/authorize?app_key=…&state=…`, approves, and is sent to
the app's redirect address with `code` and the same `state`. `GET {auth}/api/v2/token/get` (app key,
app secret, `auth_code`, `grant_type=authorized_code`) answers `access_token`, `access_token_expire_in`,
`refresh_token`, `refresh_token_expire_in` (both Unix times), `open_id` and `seller_name`;
`/api/v2/token/refresh` (`grant_type=refresh_token`) answers the same. The shops a token may act for, with
each shop's `cipher`, come from the signed API call `GET /authorization/202309/shops`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from portal.domain.marketplace.client import MarketplaceClient, MarketplaceError

AUTHORIZE_PATH = "/oauth/authorize"
TOKEN_GET = "/api/v2/token/get"
TOKEN_REFRESH = "/api/v2/token/refresh"
AUTHORIZED_SHOPS = "/authorization/202309/shops"


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    open_id: str
    seller_name: str


def authorize_url(auth_url: str, app_key: str, state: str) -> str:
    return f"{auth_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode({'app_key': app_key, 'state': state})}"


def _at(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise MarketplaceError("the token answer has no valid expiry time") from None


@dataclass
class AuthService:
    auth_url: str
    timeout: float = 10.0
    http: requests.Session = field(default_factory=requests.Session)

    def _token(self, path: str, params: dict[str, str]) -> Grant:
        try:
            response = self.http.get(self.auth_url.rstrip("/") + path, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise MarketplaceError(f"authorisation service unreachable: {error}", retryable=True) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise MarketplaceError(
                f"authorisation service error HTTP {response.status_code}",
                status=response.status_code, retryable=True,
            )
        try:
            payload = response.json()
        except ValueError:
            raise MarketplaceError(f"unreadable answer (HTTP {response.status_code})") from None
        if payload.get("code") not in (0, None) or response.status_code >= 400:
            raise MarketplaceError(
                str(payload.get("message") or "refused"), code=payload.get("code"),
                status=response.status_code,
            )
        data = payload.get("data") or {}
        if not data.get("access_token") or not data.get("refresh_token"):
            raise MarketplaceError("the answer carries no tokens")
        return Grant(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            access_expires_at=_at(data.get("access_token_expire_in")),
            refresh_expires_at=_at(data.get("refresh_token_expire_in")),
            open_id=str(data.get("open_id") or "")[:64],
            seller_name=str(data.get("seller_name") or "")[:120],
        )

    def exchange_code(self, app_key: str, app_secret: str, code: str) -> Grant:
        return self._token(TOKEN_GET, {
            "app_key": app_key, "app_secret": app_secret, "auth_code": code, "grant_type": "authorized_code",
        })

    def refresh(self, app_key: str, app_secret: str, refresh_token: str) -> Grant:
        return self._token(TOKEN_REFRESH, {
            "app_key": app_key, "app_secret": app_secret, "refresh_token": refresh_token,
            "grant_type": "refresh_token",
        })


def authorized_shops(client: MarketplaceClient) -> list[dict[str, Any]]:
    """The shops the client's token may act for: id, name, region, cipher."""
    shops = client.request("GET", AUTHORIZED_SHOPS).get("shops") or []
    return [s for s in shops if isinstance(s, dict)]
