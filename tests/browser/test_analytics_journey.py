"""The ops manager's analytics journey in a real browser, on the demo shop."""

from __future__ import annotations

import csv
import re
from datetime import timedelta

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from support.browser import LiveServer, screenshot, sign_in

from portal.demo.seed import DEMO_PASSWORD, seed_demo
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(live_app: Flask) -> None:
    session: Session = live_app.extensions["database"].session()
    seed_demo(session, live_app.extensions["attachments"], scale=0.05)
    session.commit()
    session.close()


def test_ops_manager_reads_the_dashboard_follows_a_number_and_downloads_csv(
    page: Page, live_server: LiveServer, demo: None
) -> None:
    sign_in(page, live_server.url, "admin@demo.test", DEMO_PASSWORD)
    page.get_by_role("link", name="Analytics").click()
    page.wait_for_load_state()  # htmx (a deferred script) listening before the filters change
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()
    expect(page.locator(".kpi").first).to_contain_text("Return rate")
    expect(page.locator("#chart-markets")).to_be_visible()
    screenshot(page, "analytics", full_page=True)

    # A shorter period in one market: the body swaps in place and the address keeps the selection.
    start = (utcnow() - timedelta(days=13)).date()
    page.locator("input[name=from]").fill(start.isoformat())
    page.locator("select[name=market]").select_option("US")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"from={start.isoformat()}.*market=US"))
    expect(page.locator("#analytics-body .meta").first).to_contain_text(f"{start.isoformat()} to")
    expect(page.locator("#analytics-body .meta").first).to_contain_text("US")

    # The CSV of a table, for the same selection.
    with page.expect_download() as info:
        page.locator("#table-reasons a.csv").click()
    download = info.value
    assert download.suggested_filename.startswith(f"analytics-reasons-{start.isoformat()}-")
    assert download.suggested_filename.endswith("-US.csv")
    with open(download.path(), encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Reason", "Cases", "Share of cases"]
    shown = {row[0]: row[1] for row in rows[1:]}
    assert shown and all(value.isdigit() for value in shown.values())

    # The number of cases of the top reason opens the queue filtered the same way, with as many cases.
    link = page.locator("#table-reasons tbody tr").first.locator("td a").first
    count = int(link.inner_text().replace(",", ""))
    assert count == int(rows[1][1])
    link.click()
    expect(page.get_by_role("heading", name="Cases")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/cases\?.*market=US.*reason="))
    expect(page.locator("#case-rows .count")).to_have_text(f"{count} case" + ("" if count == 1 else "s"))


def test_dashboard_in_chinese(page: Page, live_server: LiveServer, demo: None) -> None:
    sign_in(page, live_server.url, "ops@demo.test", DEMO_PASSWORD)
    page.locator("nav a[href='/analytics']").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    expect(page.locator("#chart-reasons")).to_be_visible()
    screenshot(page, "analytics-zh", full_page=True)


def test_manager_follows_a_summary_figure_and_an_agent_to_their_cases(
    page: Page, live_server: LiveServer, demo: None
) -> None:
    sign_in(page, live_server.url, "admin@demo.test", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/analytics?days=90")
    expect(page.get_by_role("heading", name="Analytics", exact=True)).to_be_visible()

    # The refunded cases behind the refund cost: the queue lists exactly as many.
    card = page.locator(".kpi", has=page.get_by_role("heading", name="Refund cost"))
    link = card.locator("a[data-cases]")
    count = int(link.get_attribute("data-cases") or "-1")
    assert count > 0
    link.click()
    expect(page).to_have_url(re.compile(r"/cases\?.*tz=market.*has=refund"))
    expect(page.locator("#case-rows .count")).to_have_text(f"{count} case" + ("" if count == 1 else "s"))
    expect(page.get_by_text("Only the cases behind the analytics figure you followed.")).to_be_visible()
    screenshot(page, "analytics-figure-cases")

    # Back on the dashboard, an agent's handled cases open the queue filtered to that agent.
    page.go_back()
    row = page.locator("#table-agents tbody tr").first
    agent = row.locator("th").inner_text()
    handled = row.locator("td a").first
    count = int(handled.inner_text().replace(",", ""))
    expect(page.locator("#table-agents")).to_contain_text("Targets met")
    handled.click()
    expect(page).to_have_url(re.compile(r"/cases\?.*assignee=\d+"))
    expect(page.locator("#case-rows .count")).to_have_text(f"{count} case" + ("" if count == 1 else "s"))
    assert agent
