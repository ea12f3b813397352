"""An admin connects a second shop through the marketplace's authorisation page; a return from it is decided
with its own policy and address, its token is refreshed while work goes on, and de-authorising it warns the
admin and stops its sync while the first shop carries on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from support.app import ROLE_EMAILS, make_test_app
from support.browser import LiveServer, screenshot, sign_in
from support.factories import publish_policy, shop_with_market
from support.shops import APP_B, ITEM, SHOP_A, SHOP_B, Marketplace, start_marketplace

from portal.domain.enums import CaseStatus, Role
from portal.domain.marketplace.commands import send_pending
from portal.domain.marketplace.processing import process_pending
from portal.domain.models import Case, Market, MarketplaceSyncCursor, ShopConnection, User
from portal.domain.shops.connections import load_clients
from portal.domain.shops.refresh import refresh_due
from portal.domain.shops.secrets import Vault
from portal.intake.scheduled import reconcile_shops
from portal.simulator.server import http_deliverer

pytestmark = pytest.mark.browser

UK_POLICY = """policy "UK returns"
if value < 100 then approve_return
else manual_review
"""


@pytest.fixture
def world(database_url: str, tmp_path: Path, password_hash: str) -> Iterator[dict[str, Any]]:
    market = start_marketplace(b_access_lifetime=90)
    app = make_test_app(database_url, tmp_path, MARKETPLACE_SYNC_SECONDS=0, **market.portal_config())
    with app.extensions["database"].session() as session:
        shop, _us = shop_with_market(session, code="US")
        shop.external_shop_id = SHOP_A
        shop.name = "Lumen US"
        session.add(User(email=ROLE_EMAILS[Role.ADMIN], name="Admin", role=Role.ADMIN,
                         password_hash=password_hash))
        session.commit()
    with LiveServer(app) as server:
        market.platform.apps[APP_B[0]].redirect_url = f"{server.url}/admin/shops/callback"
        yield {"app": app, "server": server, "market": market}
    app.extensions["database"].engine.dispose()
    market.stop()


def _clients(app: Flask) -> Any:
    with app.extensions["database"].session() as session:
        return load_clients(session, Vault.from_config(app.config), app.config)


def test_admin_connects_a_second_shop_and_it_is_stopped_alone(page: Page, world: dict[str, Any]) -> None:
    app: Flask = world["app"]
    server: LiveServer = world["server"]
    market: Marketplace = world["market"]
    factory = app.extensions["database"].sessionmaker

    sign_in(page, server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_role("link", name="Shops").click()
    expect(page.locator("#shop-list")).to_contain_text("Lumen US")
    page.get_by_role("link", name="Add a shop").click()
    page.get_by_label("Shop name").fill("Lumen UK")
    page.get_by_label("Company").fill("Lumen Ltd")
    page.get_by_label("Shop id on the marketplace").fill(SHOP_B)
    page.get_by_label("App key").fill(APP_B[0])
    page.get_by_label("App secret").fill(APP_B[1])
    page.get_by_label("UK · United Kingdom").check()
    screenshot(page, "shop-new", full_page=True)
    page.get_by_role("button", name="Add the shop").click()
    expect(page.locator(".flash-success")).to_contain_text("Authorise it on the marketplace")
    expect(page.locator("#shop-connection")).to_contain_text("not authorised yet")

    form = page.locator("#address-form")
    form.get_by_label("Label").fill("Leeds warehouse")
    form.get_by_label("Recipient").fill("Lumen Returns UK")
    form.get_by_label("Street").fill("4 Mill Road")
    form.get_by_label("City").fill("Leeds")
    form.get_by_label("Postcode").fill("LS1 4AB")
    form.get_by_label("Country code").fill("GB")
    form.get_by_label("Phone").fill("+44 113 496 0000")
    form.get_by_label("Tracked carriers").fill("Royal Mail Tracked, DPD")
    form.get_by_label("Default address of the market").check()
    form.get_by_role("button", name="Add the address").click()
    expect(page.locator("#address-list")).to_contain_text("4 Mill Road")

    # The marketplace's authorisation page, then back to the portal with the code.
    page.get_by_role("button", name="Authorise on the marketplace").click()
    expect(page.get_by_role("heading", name="Authorise Aftersales Desk")).to_be_visible()
    page.get_by_role("button", name="Authorise Lumen UK").click()
    expect(page.locator(".flash-success")).to_contain_text("is connected")
    expect(page.locator("#shop-connection")).to_contain_text("Lumen UK seller")
    screenshot(page, "shop-connected", full_page=True)

    # The UK market of the new shop has its own published policy.
    with factory() as session:
        uk = session.scalar(select(Market).join(Market.shop).where(Market.code == "UK"))
        assert uk is not None
        publish_policy(session, UK_POLICY, market=uk)
        session.commit()

    # A return arrives from the new shop, signed with its own app, and is decided by its policy.
    state = market.b.state
    state.add_order(region="GB", currency="GBP", items=[ITEM], user_id="buyer-uk", order_id="O-UK-1")
    ret = state.request_return("O-UK-1")
    notifier_b = market.notifier(market.b, http_deliverer(f"{server.url}/webhooks/tiktok-shop"))
    assert notifier_b.flush() == 1
    assert process_pending(factory, _clients(app)).done == 1
    with factory() as session:
        case = session.scalar(select(Case))
        assert case is not None and case.status == CaseStatus.RETURN_APPROVED
        number = case.number
    page.goto(f"{server.url}/cases/{number}")
    expect(page.locator("address").first).to_contain_text("4 Mill Road")
    expect(page.locator("address").first).to_contain_text("Lumen Returns UK")

    # The token is refreshed ahead of its expiry; the decision then goes out with the new one.
    with factory() as session:
        connection = session.scalar(select(ShopConnection))
        assert connection is not None and connection.refresh_due_at is not None
        due = connection.refresh_due_at
    vault = Vault.from_config(app.config)
    assert refresh_due(factory, vault, app.config, now=due + timedelta(seconds=1)).refreshed == 1
    assert market.b.refreshes == 1
    assert send_pending(factory, _clients(app)).sent == 1
    assert [d[1] for d in state.decisions] == ["APPROVE_RETURN"] and market.a.state.decisions == []
    assert state.returns[ret["return_id"]]["return_status"] == "AWAITING_BUYER_SHIP"
    page.goto(f"{server.url}/admin/shops")
    page.get_by_role("link", name="Lumen UK").click()
    expect(page.locator("#last-refresh")).not_to_contain_text("never")
    page.get_by_role("button", name="Test the connection").click()
    expect(page.locator(".flash-success")).to_contain_text("accepts the shop's token")

    # The seller de-authorises the app: the admin is warned on every page and only this shop stops.
    market.platform.deauthorise(SHOP_B)
    assert notifier_b.flush() == 2  # the marketplace's note of the approval, then the de-authorisation
    process_pending(factory, _clients(app))
    page.goto(f"{server.url}/cases")
    warning = page.locator("#shop-warnings")
    expect(warning).to_contain_text("Lumen UK")
    expect(warning).to_contain_text("de-authorised")
    screenshot(page, "shop-deauthorised-warning")
    reconcile_shops(app, factory)
    with factory() as session:
        synced = set(session.scalars(select(MarketplaceSyncCursor.shop_id)))
    assert synced == {SHOP_A}
    warning.get_by_role("link", name="Open the shop").click()
    expect(page.locator("#shop-connection")).to_contain_text("de-authorised: not syncing")
    expect(page.locator("#shop-status-reason")).to_contain_text("de-authorised on the marketplace")
