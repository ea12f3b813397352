"""An ops manager fixes a German refund message in a real browser, and writes, orders and deletes macros."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import RefundKind, RefundMethod, RefundStatus, Role
from portal.domain.models import AuditEntry, Macro, MessageTemplateVersion, Refund, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser

TYPO = "Hallo {buyer}, wir haben {refund_amout} für Ihre Bestellung erstattet."
FIXED = "Hallo {buyer}, wir haben {refund_amount} für Ihre Bestellung erstattet. Bestellung:"


@pytest.fixture
def shop(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(
            User(
                email=email, name=role.value.replace("_", " ").title(), role=role, password_hash=password_hash
            )
        )
    _shop, market = shop_with_market(session, "DE", "EUR")
    case = make_case(session, market, number="AS-DE-1", buyer_name="Jonas")
    case.buyer.language = "de"
    session.add(
        Refund(
            case=case,
            kind=RefundKind.FULL,
            method=RefundMethod.ORIGINAL_PAYMENT,
            status=RefundStatus.COMPLETED,
            amount=Decimal("39.98"),
            currency="EUR",
        )
    )
    session.add(
        Macro(
            name="Request photos",
            actions='request_evidence "photo", notify "evidence_requested"',
            position=1,
            created_at=utcnow(),
        )
    )
    session.commit()
    session.close()


def test_ops_manager_fixes_the_german_refund_message(
    page: Page, live_server: LiveServer, live_app: Flask, shop: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Messages").click()
    expect(page.locator("#template-table")).to_be_visible()
    screenshot(page, "message-templates", full_page=True)
    page.get_by_role("link", name="Refund initiated in German").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund initiated")
    # htmx is a deferred script: the heading can show before it listens for typing, and a person is
    # never that fast. Typing earlier fired no live check at all on a busy machine.
    page.wait_for_load_state()

    body = page.get_by_label("Message", exact=True)
    body.fill(TYPO)
    problems = page.locator("#body-problems")
    expect(problems).to_contain_text("Unknown placeholder {refund_amout}; did you mean {refund_amount}?")
    expect(page.locator("#template-check")).to_contain_text("1 problem")
    screenshot(page, "message-template-live-error", full_page=True)

    body.fill(FIXED)
    expect(problems).to_be_empty()
    expect(page.locator("#template-check")).to_contain_text("No problems found.")
    # The placeholder buttons insert where the cursor is, from the keyboard too.
    body.press("End")
    page.get_by_role("button", name="Insert {order}").focus()
    page.keyboard.press("Enter")
    expect(body).to_have_value(FIXED + "{order}")

    page.get_by_label("Case number").fill("AS-DE-1")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-text")).to_contain_text(re.compile(r"Hallo Jonas, wir haben 39,98\s€"))
    screenshot(page, "message-template-preview", full_page=True)

    page.get_by_label("What changed?").fill("Betrag aus der Erstattung")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("Saved version 1.")
    history = page.locator("#version-1")
    expect(history).to_contain_text("Version 1")
    expect(history).to_contain_text("Betrag aus der Erstattung")
    expect(history.locator("ins").first).to_be_visible()
    expect(page.locator("#template-state")).to_have_text("Version 1")
    screenshot(page, "message-template-saved", full_page=True)

    page.get_by_role("link", name="Back to the default…").click()
    expect(page.locator("#reset-confirm")).to_be_visible()
    screenshot(page, "message-template-reset", full_page=True)

    session: Session = live_app.extensions["database"].session()
    try:
        [version] = session.scalars(select(MessageTemplateVersion)).all()
        assert (version.purpose, version.language, version.number) == ("refund_initiated", "de", 1)
        assert version.body == FIXED + "{order}"
        assert (
            session.scalar(select(AuditEntry).where(AuditEntry.action == "message_template.saved"))
            is not None
        )
    finally:
        session.close()


def test_ops_manager_writes_orders_and_deletes_macros(
    page: Page, live_server: LiveServer, live_app: Flask, shop: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Messages").click()
    page.get_by_role("navigation", name="Messages to buyers").get_by_role("link", name="Macros").click()
    page.get_by_role("link", name="New macro").click()
    page.wait_for_load_state()  # htmx listening before typing (see above)
    page.get_by_label("Name", exact=True).fill("Approve and instruct")
    actions = page.get_by_label("Actions", exact=True)
    actions.fill('aprove_return, notify "return_approved"')
    expect(page.locator("#macro-check")).to_contain_text("did you mean `approve_return`?")
    expect(page.locator("#macro-check")).to_contain_text("Column 1")
    screenshot(page, "macro-live-error", full_page=True)
    actions.fill("approve_return")
    actions.press("End")
    page.get_by_text("Messages for notify").click()
    page.get_by_role("button", name='Insert notify "return_approved"').click()
    expect(actions).to_have_value('approve_return, notify "return_approved"')
    expect(page.locator("#macro-check")).to_contain_text("No problems found.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("Macro “Approve and instruct” saved.")

    page.get_by_role("button", name="Move Approve and instruct up").click()
    names = page.locator("#macro-list .macro-name")
    expect(names).to_have_text(["Approve and instruct", "Request photos"])
    page.get_by_role("button", name="Deactivate Request photos").click()
    expect(page.locator(".flash-success")).to_contain_text("is inactive")
    screenshot(page, "macros", full_page=True)

    page.get_by_role("link", name="Delete Request photos").click()
    screenshot(page, "macro-delete", full_page=True)
    page.get_by_role("button", name="Yes, delete it").click()
    expect(names).to_have_text(["Approve and instruct"])
