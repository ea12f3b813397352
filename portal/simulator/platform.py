"""The simulator's platform side: apps, several sellers' shops, authorisation codes and expiring tokens.

Each shop is authorised separately: the seller approves an app on the authorisation page, the app
exchanges the code for an access token and a refresh token with the shop's own lifetimes, and may later
be de-authorised (its tokens stop working and the app is notified, type 6) or warned of expiry (type 7).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal.simulator.state import MarketplaceState, SimulatorError

# The platform's error codes for tokens and codes (the portal stops a shop on the token ones).
ACCESS_TOKEN_EXPIRED = 105001
ACCESS_TOKEN_INVALID = 105002
CODE_INVALID = 36004004
CODE_EXPIRED = 36004005
REFRESH_TOKEN_INVALID = 36004006


@dataclass
class SimulatedApp:
    key: str
    secret: str
    # Where the authorisation page sends the seller back (the app's registered redirect address).
    redirect_url: str = ""
    name: str = "Aftersales Desk"


@dataclass
class SellerShop:
    state: MarketplaceState
    app_key: str
    name: str
    region: str
    cipher: str
    open_id: str
    seller_name: str
    access_lifetime: float = 7 * 86400
    refresh_lifetime: float = 365 * 86400
    code_lifetime: float = 600
    refreshes: int = 0


@dataclass
class _Token:
    shop_id: str
    expires_at: float


@dataclass
class Platform:
    clock: Callable[[], float] = time.time
    apps: dict[str, SimulatedApp] = field(default_factory=dict)
    shops: dict[str, SellerShop] = field(default_factory=dict)
    access: dict[str, _Token] = field(default_factory=dict)
    refresh: dict[str, _Token] = field(default_factory=dict)
    codes: dict[str, _Token] = field(default_factory=dict)
    # With a single shop and no tokens issued through the flow, any access token is accepted (old tests).
    open_access: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def single(
        cls, state: MarketplaceState, app_key: str, app_secret: str, access_token: str = ""
    ) -> Platform:
        platform = cls(clock=state.clock, open_access=not access_token)
        platform.add_app(app_key, app_secret)
        platform.add_shop(state, app_key, name="Simulated shop", region="US")
        if access_token:
            platform.fixed_token(state.shop_id, access_token)
        return platform

    def fixed_token(self, shop_id: str, token: str) -> None:
        """An access token that never expires (a shop set up by hand, outside the authorisation flow)."""
        self.access[token] = _Token(shop_id, float("inf"))

    def add_app(self, key: str, secret: str, redirect_url: str = "") -> SimulatedApp:
        app = SimulatedApp(key, secret, redirect_url)
        self.apps[key] = app
        return app

    def add_shop(self, state: MarketplaceState, app_key: str, *, name: str, region: str,
                 access_lifetime: float = 7 * 86400, refresh_lifetime: float = 365 * 86400,
                 code_lifetime: float = 600) -> SellerShop:
        shop = SellerShop(state, app_key, name, region, cipher=f"ROW_{secrets.token_urlsafe(12)}",
                          open_id=f"open-{state.shop_id[-6:]}", seller_name=f"{name} seller",
                          access_lifetime=access_lifetime, refresh_lifetime=refresh_lifetime,
                          code_lifetime=code_lifetime)
        self.shops[state.shop_id] = shop
        return shop

    def shops_of(self, app_key: str) -> list[SellerShop]:
        return [s for s in self.shops.values() if s.app_key == app_key]

    # ---- authorisation ---------------------------------------------------------------------------------

    def issue_code(self, app_key: str, shop_id: str) -> str:
        with self.lock:
            shop = self.shops[shop_id]
            if shop.app_key != app_key:
                raise SimulatorError(CODE_INVALID, "the shop has not installed this app")
            code = secrets.token_urlsafe(24)
            self.codes[code] = _Token(shop_id, self.clock() + shop.code_lifetime)
            return code

    def _app(self, app_key: str, app_secret: str) -> SimulatedApp:
        app = self.apps.get(app_key)
        if app is None or not secrets.compare_digest(app.secret, app_secret):
            raise SimulatorError(106002, "app_key or app_secret is invalid", 401)
        return app

    def _grant(self, shop_id: str) -> dict[str, Any]:
        shop = self.shops[shop_id]
        now = self.clock()
        access, refresh = f"TTP_{secrets.token_urlsafe(24)}", f"TTP_{secrets.token_urlsafe(24)}"
        self.access[access] = _Token(shop_id, now + shop.access_lifetime)
        self.refresh[refresh] = _Token(shop_id, now + shop.refresh_lifetime)
        return {
            "access_token": access,
            "access_token_expire_in": int(now + shop.access_lifetime),
            "refresh_token": refresh,
            "refresh_token_expire_in": int(now + shop.refresh_lifetime),
            "open_id": shop.open_id,
            "seller_name": shop.seller_name,
            "seller_base_region": shop.region,
            "user_type": 0,
            "granted_scopes": ["seller.authorization.info", "seller.return_refund.basic"],
        }

    def exchange(self, app_key: str, app_secret: str, code: str) -> dict[str, Any]:
        with self.lock:
            self._app(app_key, app_secret)
            found = self.codes.pop(code, None)  # a code works once
            if found is None or self.shops[found.shop_id].app_key != app_key:
                raise SimulatorError(CODE_INVALID, "auth_code is invalid or was already used")
            if found.expires_at < self.clock():
                raise SimulatorError(CODE_EXPIRED, "auth_code has expired")
            return self._grant(found.shop_id)

    def refresh_grant(self, app_key: str, app_secret: str, refresh_token: str) -> dict[str, Any]:
        with self.lock:
            self._app(app_key, app_secret)
            found = self.refresh.pop(refresh_token, None)
            if found is None or found.expires_at < self.clock():
                raise SimulatorError(REFRESH_TOKEN_INVALID, "refresh_token is invalid or expired")
            # The old access token stops working once a new one is issued.
            self.access = {k: v for k, v in self.access.items() if v.shop_id != found.shop_id}
            self.shops[found.shop_id].refreshes += 1
            return self._grant(found.shop_id)

    def shop_for_token(self, token: str) -> SellerShop:
        with self.lock:
            found = self.access.get(token)
            if found is None and self.open_access and len(self.shops) == 1:
                return next(iter(self.shops.values()))
            if found is None:
                raise SimulatorError(ACCESS_TOKEN_INVALID, "access token is invalid", 401)
            if found.expires_at < self.clock():
                raise SimulatorError(ACCESS_TOKEN_EXPIRED, "access token has expired", 401)
            return self.shops[found.shop_id]

    def deauthorise(self, shop_id: str) -> dict[str, Any]:
        """The seller takes the authorisation back: tokens die and the app is notified (type 6)."""
        with self.lock:
            self.access = {k: v for k, v in self.access.items() if v.shop_id != shop_id}
            self.refresh = {k: v for k, v in self.refresh.items() if v.shop_id != shop_id}
            state = self.shops[shop_id].state
            at = state._tick()
            return state._emit(6, {"message": "The seller deauthorized the app.", "update_time": at}, at)

    def warn_expiry(self, shop_id: str, expires_at: int) -> dict[str, Any]:
        """The platform's notice that the authorisation expires soon (type 7)."""
        with self.lock:
            state = self.shops[shop_id].state
            at = state._tick()
            return state._emit(7, {"message": "The authorization will expire soon.",
                                   "expiration_time": expires_at}, at)
