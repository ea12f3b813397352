"""An ops manager shortens a market's deadline and sets its business hours in the browser; a new case
then carries the shorter deadline, and the scheduler page shows that no scheduler is running yet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain import events
from portal.domain.enums import CaseType, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import BusinessCalendarSetting, Deadline, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def setup(live_app: Flask, password_hash: str) -> int:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(User(email=email, name=role.value.replace("_", " ").title(), role=role,
                         password_hash=password_hash))
    _shop, market = shop_with_market(session, code="MY")
    session.commit()
    market_id = market.id
    session.close()
    return market_id


def test_ops_manager_sets_a_deadline_and_business_hours(
    page: Page, live_server: LiveServer, live_app: Flask, setup: int
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.get_by_role("link", name="Deadlines", exact=True).click()
    expect(page.get_by_role("heading", name="Deadlines and business hours")).to_be_visible()
    expect(page.locator("#deadline-table")).to_contain_text("Seller response")

    form = page.locator("#setting-form")
    form.get_by_label("Deadline").select_option("seller_response")
    form.get_by_label("Market").select_option(str(setup))
    form.get_by_label("Hours").fill("0")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#setting-form")).to_contain_text("Number must be between")  # refused, kept
    page.locator("#setting-form").get_by_label("Hours").fill("24")
    page.locator("#setting-form").get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved.")
    expect(page.locator("#setting-list")).to_contain_text("24 h")

    page.locator("#calendar-list").get_by_role("link", name="Edit").click()
    expect(page).to_have_url(re.compile(rf"/settings/business-hours/{setup}$"))
    page.get_by_label("Opens").fill("08:00")
    page.get_by_label("Saturday").check()
    page.get_by_label("Other closed days").fill("2026-12-25 Christmas\nsoon")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".has-error")).to_contain_text("Not a date")
    page.get_by_label("Other closed days").fill("2026-12-25 Christmas")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Business hours for MY saved.")
    screenshot(page, "deadline-settings")

    session: Session = live_app.extensions["database"].session()
    calendar = session.get(BusinessCalendarSetting, setup)
    assert calendar.opens == "08:00" and 5 in calendar.weekdays and calendar.closed_days == ["2026-12-25"]
    from portal.domain.models import Market

    case = make_case(session, session.get(Market, setup), type=CaseType.RETURN_AND_REFUND)
    now = utcnow()
    events.open_case(session, case, Actor.system("marketplace"), now=now)
    session.commit()
    due = session.scalar(select(Deadline.due_at).where(Deadline.case_id == case.id,
                                                       Deadline.name == "seller_response"))
    assert due == now + timedelta(hours=24)
    session.close()

    page.get_by_role("link", name="Deadlines", exact=True).click()
    page.get_by_role("link", name="Scheduler health").click()
    expect(page.locator("#scheduler-health")).to_contain_text("No scheduler is running")
    screenshot(page, "scheduler-health")
