"""An ops manager shortens a market's deadline, edits an agent target (which stays in business hours) and
sets business hours with a lunch break in the browser; a new case then carries the shorter deadline and
a review target that skips the lunch hour, and the scheduler page shows that no scheduler is running yet."""

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

from portal.domain import deadline_rules, events
from portal.domain.enums import CaseType, DeadlineClock, Role
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
    expect(page.locator("#deadline-table-return_and_refund")).to_contain_text("Seller response")

    expect(page.locator("#deadline-table-return_and_refund")).to_contain_text("8 h · business hours")
    expect(page.locator("#deadline-table-return_and_refund")).to_contain_text("2 d · calendar hours")
    page.locator("#summary-delivery_failed > summary").click()
    expect(page.locator("#deadline-table-delivery_failed")).to_contain_text("12 d · calendar hours")

    form = page.locator("#setting-form")
    form.get_by_label("Deadline").select_option("seller_response")
    form.get_by_label("Market").select_option(str(setup))
    form.get_by_label("Length").fill("0")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#setting-form")).to_contain_text("between a quarter of an hour")  # refused, kept
    page.locator("#setting-form").get_by_label("Length").fill("1 d")
    page.locator("#setting-form").get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Saved.")
    expect(page.locator("#setting-list")).to_contain_text("1 d · calendar hours")

    # An agent target: the clock left at its default is business hours, and editing it keeps them.
    form = page.locator("#setting-form")
    form.get_by_label("Deadline").select_option("review_target")
    form.get_by_label("Market").select_option(str(setup))
    form.get_by_label("Length").fill("12")
    form.get_by_role("button", name="Save").click()
    review_row = page.locator("#setting-list tr", has_text="Review target")
    expect(review_row).to_contain_text("12 h · business hours")
    review_row.get_by_role("link", name="Edit").click()
    expect(page.locator("#editing-note")).to_be_visible()
    form = page.locator("#setting-form")
    expect(form.get_by_label("Length")).to_have_value("12 h")
    expect(form.get_by_label("Clock")).to_have_value("business")
    form.get_by_label("Length").fill("10 h")
    form.get_by_role("button", name="Save").click()
    expect(review_row).to_contain_text("10 h · business hours")

    page.locator("#calendar-list").get_by_role("link", name="Edit").click()
    expect(page).to_have_url(re.compile(rf"/settings/business-hours/{setup}$"))
    weekdays = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    for day in weekdays:
        page.get_by_label(day, exact=True).uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#weekday-errors")).to_contain_text("Choose at least one working day.")
    for day in weekdays:
        page.get_by_label(day, exact=True).check()
        page.get_by_label(f"Opening hours on {day}").fill("09:00-12:00, 13:00-18:00")
    page.get_by_label("Saturday", exact=True).check()
    page.get_by_label("Opening hours on Saturday").fill("10:00-14:00")
    page.get_by_label("Closed on the country's public holidays").uncheck()
    closed = page.locator("#closed-days tr.closed-day")
    closed.nth(0).get_by_label("Date").fill("2026-12-25")
    closed.nth(0).get_by_label("Note").fill("Christmas")
    closed.nth(1).get_by_label("Date").fill("2026-12-25")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#closed-days .errors")).to_contain_text("This date is listed twice.")
    page.locator("#closed-days tr.closed-day").nth(1).get_by_label("Date").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Business hours for MY saved.")
    expect(page.locator("#calendar-list")).to_contain_text("Monday–Friday 09:00–12:00, 13:00–18:00")
    screenshot(page, "deadline-settings", full_page=True)
    # The closed day is edited in place: its note changes, nothing is deleted and added again.
    page.locator("#calendar-list").get_by_role("link", name="Edit").click()
    first = page.locator("#closed-days tr.closed-day").nth(0)
    expect(first.get_by_label("Note")).to_have_value("Christmas")
    first.get_by_label("Note").fill("Christmas Day")
    screenshot(page, "business-hours", full_page=True)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash-success")).to_contain_text("Business hours for MY saved.")

    session: Session = live_app.extensions["database"].session()
    calendar = session.get(BusinessCalendarSetting, setup)
    assert calendar.week[0] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert calendar.week[5] == [["10:00", "14:00"]] and calendar.week[6] == []
    assert calendar.closed_days == ["2026-12-25"]
    assert calendar.closed_day_notes == {"2026-12-25": "Christmas Day"}
    from portal.domain.models import Market

    case = make_case(session, session.get(Market, setup), type=CaseType.RETURN_AND_REFUND)
    now = utcnow()
    events.open_case(session, case, Actor.system("marketplace"), now=now)
    session.commit()
    due = session.scalar(select(Deadline.due_at).where(Deadline.case_id == case.id,
                                                       Deadline.name == "seller_response"))
    assert due == now + timedelta(hours=24)
    review = session.scalar(select(Deadline).where(Deadline.case_id == case.id,
                                                   Deadline.name == "review_target"))
    assert review.clock == DeadlineClock.BUSINESS
    # Ten business hours on the new calendar, the lunch hours left out.
    assert deadline_rules.calendar_for(session, case.market).between(now, review.due_at) == 10 * 3600
    session.close()

    page.get_by_role("link", name="Deadlines", exact=True).click()
    page.get_by_role("link", name="Scheduler health").click()
    expect(page.locator("#scheduler-health")).to_contain_text("No scheduler is running")
    screenshot(page, "scheduler-health")
