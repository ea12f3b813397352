"""A return worked from request to refund in the browser, and two agents meeting on the same case."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain import events
from portal.domain.enums import CaseStatus, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import User

pytestmark = pytest.mark.browser


@pytest.fixture
def opened_case(live_app: Flask, password_hash: str) -> str:
    """A return request that arrived from the marketplace; the published policy decides it on arrival."""
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(
            User(
                email=email, name=role.value.replace("_", " ").title(), role=role, password_hash=password_hash
            )
        )
    _shop, market = shop_with_market(session)
    publish_policy(session, market=market)
    case = make_case(session, market, number="AS-300001", status=CaseStatus.NEW, value="64.00")
    events.open_case(session, case, Actor.system("marketplace"))
    session.commit()
    session.close()
    return "AS-300001"


def test_a_return_from_request_to_refund(page: Page, live_server: LiveServer, opened_case: str) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{live_server.url}/cases/{opened_case}")
    # The policy approved the return on arrival and queued the instructions for the buyer.
    expect(page.locator("#case-head")).to_contain_text("Return approved")
    timeline = page.locator("#case-timeline")
    expect(page.locator("#case-conversation")).to_contain_text("Return approved, with instructions")
    expect(timeline).to_contain_text(re.compile(r"policy v1 line 3"))
    expect(page.locator("#case-returns")).to_contain_text("RMA-US-")

    page.get_by_role("button", name="Mark return received").click()
    expect(page.locator(".flash-success")).to_contain_text("Status: Return received")
    expect(page.locator("#case-head")).to_contain_text("Return received")

    page.get_by_text("Record inspection", exact=True).first.click()
    page.get_by_label("Result").select_option("pass")
    page.get_by_label("What happens to the item").select_option("restock")
    page.get_by_label("Notes").fill("Tags on, unworn")
    page.get_by_role("button", name="Record inspection").click()

    # The policy's inspection_done section refunded it.
    expect(page.locator("#case-head")).to_contain_text("Refund pending")
    expect(page.locator("#case-money")).to_contain_text("$64.00")
    for step in [
        "Case opened",
        "Return approved, RMA",
        "Return received at the warehouse",
        "Inspection done: Pass",
        "Refund issued: $64.00",
        "Policy decided Inspection done: Refund in full",
    ]:
        expect(timeline).to_contain_text(step)
    expect(timeline).to_contain_text(re.compile(r"policy v1 line 8 “passed”"))
    expect(timeline).to_contain_text("agent@example.test")
    page.locator("#case-decisions summary").last.click()
    expect(page.locator("#case-decisions")).to_contain_text("inspection.result")
    screenshot(page, "case-refunded", full_page=True)


def test_two_agents_on_the_same_case(
    browser: Browser, page: Page, live_server: LiveServer, opened_case: str
) -> None:
    other_context = browser.new_context(viewport={"width": 1400, "height": 900})
    other = other_context.new_page()
    try:
        sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
        sign_in(other, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
        page.goto(f"{live_server.url}/cases/{opened_case}")
        other.goto(f"{live_server.url}/cases/{opened_case}")

        page.get_by_label("Internal note").fill("Buyer called: will ship tomorrow")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator("#case-timeline")).to_contain_text("Buyer called: will ship tomorrow")

        other.get_by_label("Internal note").fill("Offer a 10% coupon if late")
        other.get_by_role("button", name="Add note").click()
        expect(other.locator("#conflict")).to_contain_text("Changed by agent@example.test just now.")
        expect(other.get_by_label("Internal note")).to_have_value("Offer a 10% coupon if late")
        expect(other.locator("#case-timeline")).to_contain_text("Buyer called: will ship tomorrow")
        screenshot(other, "case-conflict")
        # Sending again, now against the current version, goes through.
        other.get_by_role("button", name="Add note").click()
        expect(other.locator("#case-timeline")).to_contain_text("Offer a 10% coupon if late")
    finally:
        other_context.close()
