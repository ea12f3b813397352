"""An auditor narrows the audit trail down to one case's status changes, opens the raw entry and downloads
the CSV; an admin creates a user, sends them through a password link and deactivates them."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session
from support.app import PASSWORD, ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain import audit
from portal.domain.enums import Role
from portal.domain.models import User

pytestmark = pytest.mark.browser

NEW_PASSWORD = "fresh-password-2026"


@pytest.fixture
def people(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    names = {Role.AUDITOR: "Ada Auditor", Role.ADMIN: "Alex Admin", Role.CS_AGENT: "Sam Li"}
    staff = {role: User(email=ROLE_EMAILS[role], name=name, role=role, password_hash=password_hash)
             for role, name in names.items()}
    session.add_all(staff.values())
    _shop, market = shop_with_market(session)
    case = make_case(session, market, number="AS-510001")
    other = make_case(session, market, number="AS-510002")
    agent = staff[Role.CS_AGENT]
    session.flush()
    audit.record(session, "case.status_changed", "case", case.number,
                 {"kind": "status_changed", "from": "new", "to": "in_review"}, actor=agent)
    audit.record(session, "case.status_changed", "case", other.number,
                 {"kind": "status_changed", "from": "new", "to": "rejected"}, actor=agent)
    audit.record(session, "user.created", "user", agent.id, {"email": agent.email, "role": "cs_agent"},
                 actor=staff[Role.ADMIN])
    session.commit()
    session.close()


def test_auditor_filters_the_trail_and_downloads_the_csv(
    page: Page, live_server: LiveServer, people: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.AUDITOR])
    page.get_by_role("link", name="Audit trail").first.click()
    page.wait_for_load_state()  # htmx (a deferred script) listening before the filters change
    rows = page.locator("#audit-rows")
    expect(rows).to_contain_text("Created the user agent@example.test (CS agent)")
    expect(rows).to_contain_text("Status changed from New to Rejected")

    page.get_by_label("Action").select_option("case.status_changed")
    expect(rows).not_to_contain_text("Created the user")
    page.get_by_role("searchbox", name="Case").fill("AS-510001")
    page.get_by_role("searchbox", name="Case").press("Enter")
    expect(rows).not_to_contain_text("Status changed from New to Rejected")
    entry = rows.locator("tbody tr").filter(has_text="Status changed from New to In review")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Sam Li")
    expect(entry.get_by_role("link", name="AS-510001")).to_be_visible()
    expect(entry.locator("ul.changes")).to_have_text("Status: New → In review")
    entry.get_by_text("Raw entry").click()
    expect(entry.locator("pre")).to_contain_text('"to": "in_review"')
    assert "action=case.status_changed" in page.url and "case=AS-510001" in page.url
    screenshot(page, "audit-trail-filtered")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download these entries (CSV)").click()
    download = info.value
    assert re.fullmatch(r"audit-trail-\d{8}-\d{4}\.csv", download.suggested_filename)
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows_csv = list(csv.reader(io.StringIO(text)))
    assert rows_csv[0][:3] == ["When (Europe/London)", "Who", "What"]  # the zone the browser reported
    assert [(r[1], r[2], r[3]) for r in rows_csv[1:]] == [("Sam Li", "Status changed from New to In review",
                                                            "AS-510001")]



def test_admin_creates_a_user_resets_their_password_and_deactivates_them(
    browser: Browser, page: Page, live_server: LiveServer, people: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Name").fill("Mei Chen")
    page.get_by_label("E-mail").fill("mei@example.test")
    page.get_by_label("Role").select_option("cs_agent")
    page.get_by_label("Language").select_option("zh")
    page.get_by_label("Time zone").select_option("Asia/Shanghai")
    page.get_by_label("Initial password").fill(PASSWORD)
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash-success")).to_contain_text("User mei@example.test created.")
    mei_row = page.locator("#user-list tr").filter(has_text="mei@example.test")
    expect(mei_row).to_contain_text("简体中文")
    expect(mei_row).to_contain_text("Asia/Shanghai")

    # Mei signs in in her own browser and reads the portal in Chinese.
    mei_context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    mei = mei_context.new_page()
    sign_in(mei, live_server.url, "mei@example.test")
    expect(mei.locator("html")).to_have_attribute("lang", "zh")

    # The admin makes her a password link, confirming first, and passes it on.
    mei_row.get_by_role("button", name="Password link: mei@example.test").click()
    expect(page.locator("#user-action-confirm")).to_contain_text(
        "Make mei@example.test a link to set a new password?")
    page.get_by_role("button", name="Confirm").click()
    link = page.locator("#reset-link-value").input_value()
    assert "/password/reset/" in link
    screenshot(page, "admin-password-link")

    mei.goto(link)
    expect(mei.locator("#reset-password")).to_contain_text("mei@example.test")
    screenshot(mei, "password-link-page")
    mei.locator("input[name=new]").fill(NEW_PASSWORD)
    mei.locator("input[name=repeat]").fill(NEW_PASSWORD)
    mei.locator("#reset-password button[type=submit]").click()
    expect(mei).to_have_url(f"{live_server.url}/login")
    sign_in(mei, live_server.url, "mei@example.test", NEW_PASSWORD)
    expect(mei.locator("html")).to_have_attribute("lang", "zh")
    mei.goto(link)
    expect(mei.locator("#reset-refused")).to_be_visible()  # the link worked once
    mei.goto(f"{live_server.url}/settings")

    # The admin deactivates her, after confirming; her open browser is signed out.
    page.goto(f"{live_server.url}/admin/users")
    page.locator("#user-list tr").filter(has_text="mei@example.test").get_by_role(
        "button", name="Deactivate: mei@example.test").click()
    confirm = page.locator("#user-action-confirm")
    expect(confirm).to_contain_text("Deactivate mei@example.test?")
    expect(confirm).to_contain_text("Their open cases go back to the queue, unassigned.")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".flash-success")).to_contain_text("mei@example.test is deactivated")
    screenshot(page, "admin-user-deactivated")

    mei.reload()
    expect(mei).to_have_url(re.compile(r"/login\?next=/settings"))
    mei_context.close()
