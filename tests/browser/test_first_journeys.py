"""The first journeys in a real browser: an agent works the queue; an auditor only reads policy."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import CaseStatus, CaseType, MessageDirection, MessageStatus, PolicyStatus, Role
from portal.domain.models import Message, Policy, PolicyVersion, User

pytestmark = pytest.mark.browser


@pytest.fixture
def shop_data(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(User(email=email, name=f"{role.value.replace('_', ' ').title()}", role=role,
                         password_hash=password_hash))
    _shop, market = shop_with_market(session)
    case = make_case(session, market, number="AS-200001", type=CaseType.RETURN_AND_REFUND, value="64.00",
                     buyer_name="Jordan M.")
    session.add(Message(case=case, direction=MessageDirection.INBOUND, status=MessageStatus.RECEIVED,
                        language="en", body="The shirt runs small, can I send it back?"))
    for i in range(8):
        make_case(session, market, number=f"AS-2001{i:02d}", status=CaseStatus.IN_REVIEW)
    policy = Policy(name="Default after-sales policy")
    session.add_all([policy, PolicyVersion(policy=policy, number=1, status=PolicyStatus.PUBLISHED,
                                           text="if value < 10 then refund_without_return",
                                           comment="Initial policy")])
    session.commit()
    session.close()
    assert Decimal("64.00")


def test_agent_sees_the_queue_searches_and_opens_a_case(
        page: Page, live_server: LiveServer, shop_data: None) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    expect(page).to_have_url(re.compile(r"/cases$"))
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    expect(page.locator("#case-rows")).to_contain_text("9 cases")
    page.wait_for_load_state()  # htmx (a deferred script) listening before typing
    screenshot(page, "queue")

    # Typing filters the rows in place (htmx), and the address bar keeps the filter for sharing.
    page.get_by_label("Search", exact=True).fill("AS-200001")
    expect(page.locator("#case-rows")).to_contain_text("1 case")
    expect(page).to_have_url(re.compile(r"q=AS-200001"))

    page.get_by_role("link", name="AS-200001").click()
    expect(page.get_by_role("heading", name=re.compile("AS-200001"))).to_be_visible()
    expect(page.locator("#case-timeline")).to_contain_text("The shirt runs small")
    expect(page.locator("#case-summary")).to_contain_text("$64.00")
    screenshot(page, "case", full_page=True)


def test_auditor_reads_policy_but_is_not_offered_editing(
        page: Page, live_server: LiveServer, shop_data: None) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.AUDITOR])
    expect(page).to_have_url(re.compile(r"/audit$"))
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    nav.get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="Default after-sales policy").click()
    expect(page.locator("#policy-text")).to_contain_text("refund_without_return")
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Edit|Publish|Save", re.I))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Edit", re.I))).to_have_count(0)
    screenshot(page, "auditor-policy")


def test_language_switch_in_the_browser(page: Page, live_server: LiveServer, shop_data: None) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name="案件")).to_be_visible()
    screenshot(page, "queue-zh")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
