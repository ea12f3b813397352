"""An admin makes an API token in the browser, copies it, a program uses it, and the admin revokes it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import Role
from portal.domain.models import User

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_and_case(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    session.add(
        User(email=ROLE_EMAILS[Role.ADMIN], name="Admin", role=Role.ADMIN, password_hash=password_hash)
    )
    _shop, market = shop_with_market(session)
    make_case(session, market, number="AS-300001")
    session.commit()
    session.close()


def _get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback test server)
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_admin_creates_copies_and_revokes_a_token(
    page: Page, live_server: LiveServer, admin_and_case: None
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.locator("main")).to_contain_text("No API tokens yet")

    page.get_by_label("Name").fill("ERP sync")
    page.get_by_label("Role").select_option("cs_agent")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-token")).to_contain_text("Copy it now: it is shown only this once.")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    token = page.evaluate("navigator.clipboard.readText()")
    assert token.startswith("asd_") and token == page.locator("#new-token-value").input_value()
    screenshot(page, "api-token-created")

    status, body = _get(f"{live_server.url}/api/v1/cases?q=AS-300001", token)
    assert status == 200 and [c["number"] for c in body["items"]] == ["AS-300001"]

    # The secret is not shown again, only its start.
    page.goto(f"{live_server.url}/admin/tokens")
    expect(page.locator("#token-list")).to_contain_text(token[:12])
    assert token not in page.content()

    page.get_by_role("button", name="Revoke token ERP sync").click()
    expect(page.locator("#revoke-confirm")).to_contain_text("Revoke token “ERP sync”")
    screenshot(page, "api-token-revoke")
    page.locator("#revoke-confirm").get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash-success")).to_contain_text("revoked")
    expect(page.locator("#token-list")).to_contain_text("Revoked")

    status, body = _get(f"{live_server.url}/api/v1/cases", token)
    assert status == 401 and body["error"]["code"] == "invalid_token"
