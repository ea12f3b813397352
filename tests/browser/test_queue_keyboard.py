"""An agent works the queue from the keyboard, acts on a selection, goes case to case with "n", and a
colleague in another browser sees who has the case open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import CaseType, Role
from portal.domain.models import Case, CaseTag, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser

# Newest first, as the agent sorts the queue.
NUMBERS = ["AS-K1", "AS-K2", "AS-K3", "AS-K4"]


@pytest.fixture
def queue(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(User(email=email, name=role.value.replace("_", " ").title(), role=role,
                         password_hash=password_hash))
    _shop, market = shop_with_market(session)
    for hours, number in enumerate(NUMBERS, start=1):
        opened_at = utcnow() - timedelta(hours=hours)
        make_case(session, market, number=number, type=CaseType.REFUND_ONLY, opened_at=opened_at)
    session.commit()
    session.close()


def _current(page: Page) -> str | None:
    return page.locator("#case-rows tr.is-current").get_attribute("data-case")


def test_the_queue_from_the_keyboard(
    page: Page, browser: Browser, live_server: LiveServer, live_app: Flask, queue: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{live_server.url}/cases?sort=newest")
    rows = page.locator("#case-rows tr.case-row")
    expect(rows).to_have_count(4)

    # j and k move through the rows; the current row's link has the focus.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert _current(page) == "AS-K2"
    expect(page.locator('#case-rows tr[data-case="AS-K2"] a[data-case-link]')).to_be_focused()
    # x selects the current row, and again unselects it.
    page.keyboard.press("x")
    expect(page.get_by_label("Select AS-K2")).to_be_checked()
    page.keyboard.press("x")
    expect(page.get_by_label("Select AS-K2")).not_to_be_checked()

    # / goes to the search; keys typed there are text, not shortcuts.
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    page.keyboard.type("xk")
    expect(search).to_have_value("xk")
    assert _current(page) == "AS-K2"
    expect(page.get_by_label("Select AS-K2")).not_to_be_checked()
    # Clearing the search reloads the list (htmx); wait for it before selecting in it.
    with page.expect_response(lambda response: "q=&" in response.url or response.url.endswith("q=")):
        search.fill("")
    page.wait_for_load_state("networkidle")
    page.locator("h1").click()
    expect(rows).to_have_count(4)

    # ? shows the shortcuts; Escape closes them.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Next case in the queue")
    screenshot(page, "queue-shortcuts")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    # Select every row shown, then tag them all in one bulk action.
    page.get_by_label("Select every case shown").check()
    for number in NUMBERS:
        expect(page.get_by_label(f"Select {number}")).to_be_checked()
    page.get_by_label("With the selected cases").select_option("add_tag")
    page.get_by_role("textbox", name="Tag").fill("keyboard")
    page.get_by_role("button", name="Review and apply").click()
    expect(page.locator("#bulk-confirm h1")).to_have_text("Apply to 4 cases?")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash-success")).to_contain_text("Tagged 4 cases")
    session: Session = live_app.extensions["database"].session()
    tagged = set(session.scalars(select(Case.number).join(CaseTag).where(CaseTag.tag == "keyboard")))
    session.close()
    assert tagged == set(NUMBERS)

    # Filters changed in place (htmx) are the ones saved as a personal view.
    page.goto(f"{live_server.url}/cases?sort=newest")
    with page.expect_response(lambda response: "type=refund_only" in response.url):
        page.get_by_label("Type").select_option("refund_only")
    page.get_by_label("Save these filters as").fill("My refunds")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".flash-success")).to_contain_text("View “My refunds” saved.")
    expect(page.locator("#saved-views a", has_text="My refunds")).to_have_attribute(
        "href", "/cases?type=refund_only&sort=newest"
    )

    # Back in the queue: open the first case with Enter, then n goes to the next one in the same order.
    page.goto(f"{live_server.url}/cases?sort=newest")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/cases/AS-K1")
    page.wait_for_load_state()  # the page's scripts run before its keys do
    page.keyboard.press("n")
    expect(page).to_have_url(f"{live_server.url}/cases/AS-K2")
    # Writing to the buyer, "n" is a letter.
    reply = page.get_by_placeholder("Write to the buyer, or start from a message above")
    reply.click()
    page.keyboard.type("no")
    expect(reply).to_have_value("no")
    expect(page).to_have_url(f"{live_server.url}/cases/AS-K2")

    # A colleague opening the same case sees that the agent has it open, in the queue and on the case.
    other_context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="Europe/London")
    try:
        other = other_context.new_page()
        sign_in(other, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
        other.goto(f"{live_server.url}/cases?sort=newest")
        badge = '#case-rows tr[data-case="{}"] .presence-badge'
        expect(other.locator(badge.format("AS-K2"))).to_have_text("Cs Agent is viewing")
        # The case the agent left no longer shows them: the page said so as it went.
        expect(other.locator(badge.format("AS-K1"))).to_have_count(0)
        other.goto(f"{live_server.url}/cases/AS-K2")
        expect(other.locator("#case-presence")).to_contain_text("Cs Agent is viewing this case")
        screenshot(other, "case-presence")
        # The agent's page learns of the colleague at its next heartbeat.
        expect(page.locator("#case-presence")).to_contain_text(
            "Ops Manager is viewing this case", timeout=25_000
        )
    finally:
        other_context.close()
