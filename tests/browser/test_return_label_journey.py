"""An agent attaches a carrier's prepaid label to an approved return; the buyer's message carries it."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, publish_policy, shop_with_market
from weasyprint import HTML

from portal.domain import events
from portal.domain.enums import CaseStatus, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import User

pytestmark = pytest.mark.browser


@pytest.fixture
def approved_case(live_app: Flask, password_hash: str) -> str:
    """An insured return request the published policy approved on arrival."""
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(
            User(
                email=email, name=role.value.replace("_", " ").title(), role=role, password_hash=password_hash
            )
        )
    _shop, market = shop_with_market(session)
    publish_policy(session, market=market)
    case = make_case(session, market, number="AS-300777", status=CaseStatus.NEW, value="64.00")
    case.order.return_insurance = True
    case.order.return_insurer = "Ping An"
    events.open_case(session, case, Actor.system("marketplace"))
    session.commit()
    session.close()
    return "AS-300777"


def test_agent_sends_a_prepaid_label_with_the_instructions(
    page: Page, live_server: LiveServer, approved_case: str, tmp_path: object
) -> None:
    label = bytes(HTML(string="<h1>UPS PREPAID RETURN 1Z-LABEL-777</h1>").write_pdf())
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{live_server.url}/cases/{approved_case}")
    returns = page.locator("#case-returns")
    # The order is insured: the case shows it, and approval left the claim to make.
    expect(page.locator("#return-insurance")).to_have_text("yes · Ping An")
    expect(returns.locator(".insurance-claim")).to_contain_text("claim the return postage from Ping An")

    form = page.locator("#return-label-form")
    form.get_by_label("Prepaid label from the carrier or platform").set_input_files(
        files=[{"name": "ups-label.pdf", "mimeType": "application/pdf", "buffer": label}]
    )
    # Sending renders the instructions PDF with the label appended: give a busy machine time for it.
    with page.expect_navigation(timeout=90_000):
        form.get_by_role("button", name="Send the label to the buyer").click(no_wait_after=True)
    expect(page.locator(".flash-success")).to_contain_text("Buyer will get one message: Prepaid return label")
    expect(page.locator("#case-head")).to_contain_text("Return approved")
    expect(returns.locator("#return-label-link")).to_contain_text("ups-label.pdf")
    expect(page.locator("#case-timeline")).to_contain_text("Prepaid label added to return")

    conversation = page.locator("#case-conversation")
    expect(conversation).to_contain_text("here is the prepaid label for your return")
    link = conversation.locator(".msg-attachment a").last
    expect(link).to_contain_text("return-instructions-RMA-")
    screenshot(page, "return-label-sent", full_page=True)

    response = page.request.get(f"{live_server.url}{link.get_attribute('href')}")
    assert response.ok
    pdf = PdfReader(io.BytesIO(response.body()))
    text = "\n".join(p.extract_text() for p in pdf.pages)
    # The instructions tell the buyer how to use the label, and its last page is the label itself.
    assert "Prepaid return label" in text and "use the prepaid label" in text
    assert "1Z-LABEL-777" in pdf.pages[-1].extract_text()
