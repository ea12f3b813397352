"""Two shops on one simulated marketplace: shop A set up through environment variables, shop B with its
own app, connected in the portal through the authorisation flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from portal.simulator.platform import Platform, SellerShop
from portal.simulator.server import Notifier, SimulatorServer
from portal.simulator.state import MarketplaceState
from support.app import csrf_token

SHOP_A = "7495000000000000001"
SHOP_B = "7495000000000000002"
APP_A = ("app-key-us", "app-secret-us")
APP_B = ("app-key-row", "app-secret-row")
ITEM = {"seller_sku": "TEE-BLK-M", "product_name": "Cotton tee", "sale_price": "19.90", "quantity": 1}


@dataclass
class Marketplace:
    platform: Platform
    server: SimulatorServer
    a: SellerShop
    b: SellerShop

    @property
    def url(self) -> str:
        return self.server.url

    def portal_config(self) -> dict[str, Any]:
        """Shop A through the environment (as before shops were data); the API and auth at the simulator."""
        return {
            "TIKTOK_SHOP_APP_KEY": APP_A[0],
            "TIKTOK_SHOP_APP_SECRET": APP_A[1],
            "TIKTOK_SHOP_APP_SECRET_PREVIOUS": "",
            "TIKTOK_SHOP_API_URL": self.url,
            "TIKTOK_SHOP_AUTH_URL": self.url,
            "TIKTOK_SHOP_ACCESS_TOKEN": "token-a",
        }

    def notifier(self, shop: SellerShop, deliver: Any) -> Notifier:
        app = self.platform.apps[shop.app_key]
        return Notifier(shop.state, app.key, app.secret, deliver)

    def stop(self) -> None:
        self.server.stop()


def start_marketplace(redirect_url: str = "", b_access_lifetime: float = 3600) -> Marketplace:
    platform = Platform()
    platform.add_app(*APP_A)
    platform.add_app(*APP_B, redirect_url=redirect_url)
    a = platform.add_shop(MarketplaceState(shop_id=SHOP_A), APP_A[0], name="Lumen US", region="US")
    b = platform.add_shop(MarketplaceState(shop_id=SHOP_B), APP_B[0], name="Lumen UK", region="GB",
                          access_lifetime=b_access_lifetime)
    platform.fixed_token(SHOP_A, "token-a")
    server = SimulatorServer(a.state, APP_A[0], APP_A[1], platform=platform).start()
    return Marketplace(platform, server, a, b)


def webhook_deliverer(app: Flask) -> Any:
    web = app.test_client()

    def deliver(body: bytes, signature: str) -> int:
        return web.post("/webhooks/tiktok-shop", data=body, headers={"Authorization": signature}).status_code

    return deliver


def add_shop_form(admin: FlaskClient, **overrides: Any) -> Any:
    data = {
        "name": "Lumen UK",
        "company_name": "Lumen Ltd",
        "external_shop_id": SHOP_B,
        "app_key": APP_B[0],
        "app_secret": APP_B[1],
        "markets": ["UK"],
        **overrides,
    }
    data["csrf_token"] = csrf_token(admin, "/admin/shops/new")
    return admin.post("/admin/shops/new", data=data)


def start_authorisation(admin: FlaskClient, shop_id: int) -> str:
    """Press "Authorise": returns the `state` the portal put in the marketplace's authorisation link."""
    response = admin.post(f"/admin/shops/{shop_id}/authorise",
                          data={"csrf_token": csrf_token(admin, f"/admin/shops/{shop_id}")})
    assert response.status_code == 303, response.status_code
    query = parse_qs(urlsplit(response.location).query)
    return query["state"][0]
