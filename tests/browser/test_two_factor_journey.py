"""An admin turns on two-step sign-in in the browser, signs in with a code, and signs another admin out
everywhere from the users page."""

from __future__ import annotations

import time

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in

from portal.domain.enums import Role
from portal.domain.models import User

pytestmark = pytest.mark.browser


@pytest.fixture
def people(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    session.add_all([
        User(email=ROLE_EMAILS[Role.ADMIN], name="Admin", role=Role.ADMIN, password_hash=password_hash),
        User(email=ROLE_EMAILS[Role.CS_AGENT], name="Agent", role=Role.CS_AGENT, password_hash=password_hash),
    ])
    session.commit()
    session.close()


def test_admin_enrols_a_second_factor_and_signs_in_with_it(
    page: Page, live_server: LiveServer, people: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_title("Your settings").click()
    expect(page.locator("#second-factor")).to_contain_text("Off: signing in asks for your password only.")
    page.get_by_role("link", name="Manage two-step sign-in").click()
    page.get_by_role("button", name="Set up two-step sign-in").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)

    page.get_by_label("Code", exact=True).fill("000000")
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator(".errors")).to_contain_text("That code is not right.")
    page.get_by_label("Code", exact=True).fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("#recovery-codes")).to_contain_text("Keep these recovery codes somewhere safe")
    expect(page.locator("#recovery-codes code")).to_have_count(10)
    screenshot(page, "two-factor-recovery-codes")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Aftersales Desk")).to_be_visible()
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    expect(page.get_by_role("heading", name="Enter the code from your app")).to_be_visible()
    # The enrolment used this 30-second step's code; the app's next code is accepted as well.
    page.get_by_label("Code", exact=True).fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/admin/users")
    row = page.locator("#user-list tr", has_text=ROLE_EMAILS[Role.ADMIN])
    expect(row).to_contain_text("on")


def test_admin_signs_an_agent_out_everywhere(
    page: Page, browser: Browser, live_server: LiveServer, people: None
) -> None:
    agent_context = browser.new_context()
    agent = agent_context.new_page()
    sign_in(agent, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    expect(agent.get_by_role("button", name="Sign out")).to_be_visible()

    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.goto(f"{live_server.url}/admin/users")
    page.get_by_role("button", name=f"Sign out everywhere: {ROLE_EMAILS[Role.CS_AGENT]}").click()
    confirm = page.locator("#user-action-confirm")
    expect(confirm).to_contain_text(f"Sign {ROLE_EMAILS[Role.CS_AGENT]} out everywhere?")
    confirm.get_by_role("button", name="Confirm").click()
    expect(page.locator(".flash")).to_contain_text("is signed out everywhere (1 sessions ended)")

    agent.reload()
    expect(agent.get_by_role("heading", name="Sign in to Aftersales Desk")).to_be_visible()
    agent_context.close()
