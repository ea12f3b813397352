"""An agent's partial refund in the browser: a bad amount is refused by the field, a percentage shows what
it comes to, the address after acting is the case page (reloading sends nothing), and the breadcrumb
leads back to the filtered queue."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain.enums import CaseReason, CaseStatus, CaseType, Role
from portal.domain.models import Refund, User

pytestmark = pytest.mark.browser


@pytest.fixture
def refund_case(live_app: Flask, password_hash: str) -> str:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        name = role.value.replace("_", " ").title()
        session.add(User(email=email, name=name, role=role, password_hash=password_hash))
    _shop, market = shop_with_market(session)
    publish_policy(session, market=market)
    make_case(session, market, number="AS-400001", type=CaseType.REFUND_ONLY, reason=CaseReason.QUALITY,
              status=CaseStatus.IN_REVIEW, value="44.99")
    make_case(session, market, number="AS-400002", status=CaseStatus.IN_REVIEW, value="12.00")
    session.commit()
    session.close()
    return "AS-400001"


def _refunds(app: Flask) -> list[str]:
    session: Session = app.extensions["database"].session()
    try:
        return [str(r.amount) for r in session.scalars(select(Refund))]
    finally:
        session.close()


def test_partial_refund_bad_value_then_percent(
    page: Page, live_server: LiveServer, live_app: Flask, refund_case: str
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{live_server.url}/cases")
    page.locator("form.filters").get_by_label("Type").select_option("refund_only")
    expect(page).to_have_url(re.compile(r"type=refund_only"))
    expect(page.locator("#case-rows")).not_to_contain_text("AS-400002")
    page.get_by_role("link", name=refund_case).click()
    expect(page).to_have_url(f"{live_server.url}/cases/{refund_case}")

    actions = page.locator("#case-actions")
    actions.locator("summary", has_text="Partial refund").click()
    amount = actions.get_by_label(re.compile("Amount or percentage"))
    amount.fill("abc")
    actions.get_by_role("button", name="Partial refund").click()
    error = page.locator("#partial_refund-error")
    expect(error).to_have_text("“abc” is not an amount.")
    expect(page.locator(".confirm")).to_have_count(0)
    expect(amount).to_have_attribute("aria-invalid", "true")
    screenshot(page, "partial-refund-refused")

    amount.fill("999")
    actions.get_by_role("button", name="Partial refund").click()
    expect(error).to_contain_text("more than the 44.99 USD left to refund")
    expect(page.locator(".confirm")).to_have_count(0)

    amount.fill("20%")
    actions.get_by_role("button", name="Partial refund").click()
    confirm = page.locator(".confirm")
    expect(confirm).to_contain_text("Please confirm: Partial refund")
    expect(confirm).to_contain_text("20% of $44.99: $9.00 goes back to the buyer.")
    screenshot(page, "partial-refund-confirm")
    assert _refunds(live_app) == []
    confirm.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(f"{live_server.url}/cases/{refund_case}")
    expect(page.locator(".flash-success")).to_contain_text("Refund of $9.00 sent")
    expect(page.locator(".flash-success")).to_contain_text("Assigned to Cs Agent")
    expect(page.locator("#case-summary")).to_contain_text("Cs Agent")
    screenshot(page, "partial-refund-done", full_page=True)

    page.reload()
    expect(page.locator(".flash-success")).to_have_count(0)
    expect(page.locator("#case-money tbody tr")).to_have_count(1)
    assert _refunds(live_app) == ["9.00"]

    page.locator("nav.crumbs").get_by_role("link", name="Cases").click()
    expect(page).to_have_url(re.compile(r"/cases\?.*type=refund_only"))
    expect(page.locator("form.filters").get_by_label("Type")).to_have_value("refund_only")
    expect(page.locator("#case-rows")).not_to_contain_text("AS-400002")
