"""The buyer conversation in the browser: a reply comes back to the agent, who answers with macros."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS, make_test_app
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, publish_policy, shop_with_market
from support.marketplace import ACCESS_TOKEN, APP_KEY, APP_SECRET
from support.smtp import Inbox, smtp_server

from portal.domain import operations as ops
from portal.domain.conversations import outbox
from portal.domain.conversations.channels import Router
from portal.domain.enums import CaseStatus, MessageStatus, Role
from portal.domain.lifecycle import Actor
from portal.domain.marketplace.processing import process_pending
from portal.domain.models import Deadline, Macro, Message, User
from portal.domain.types import utcnow
from portal.simulator.server import Notifier, SimulatorServer, http_deliverer
from portal.simulator.state import MarketplaceState

pytestmark = pytest.mark.browser
SHOP = "7495000000000000042"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The portal with both real channels: the marketplace simulator and an SMTP server on loopback."""
    simulator = SimulatorServer(MarketplaceState(shop_id=SHOP), APP_KEY, APP_SECRET, ACCESS_TOKEN).start()
    with smtp_server() as (inbox, port):
        app = make_test_app(
            database_url,
            tmp_path,
            MESSAGE_CHANNEL="auto",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=port,
            MAIL_FROM="returns@shop.test",
            TIKTOK_SHOP_APP_KEY=APP_KEY,
            TIKTOK_SHOP_APP_SECRET=APP_SECRET,
            TIKTOK_SHOP_APP_SECRET_PREVIOUS="",
            TIKTOK_SHOP_API_URL=simulator.url,
            TIKTOK_SHOP_ACCESS_TOKEN=ACCESS_TOKEN,
        )
        with LiveServer(app) as server:
            yield {"app": app, "server": server, "simulator": simulator, "inbox": inbox}
        app.extensions["database"].engine.dispose()
    simulator.stop()


def _seed(app: Flask, password_hash: str) -> tuple[str, str]:
    session: Session = app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(User(email=email, name=role.value.replace("_", " ").title(), role=role,
                         password_hash=password_hash))
    shop, market = shop_with_market(session)
    shop.external_shop_id = SHOP
    publish_policy(session, "if false then manual_review\n", market=market)
    session.add_all([
        Macro(name="Approve return", actions="approve_return", position=1, active=True, created_at=utcnow()),
        Macro(name="Coupon 5", actions="coupon 5", position=2, active=True, created_at=utcnow()),
    ])
    # A marketplace buyer asked for photos yesterday; the review target is paused while we wait.
    waiting = make_case(session, market, number="AS-500001", status=CaseStatus.IN_REVIEW, value="64.00",
                        buyer_name="Ana P.")
    waiting.buyer.marketplace_user_id = "u-88"
    session.add(Deadline(case=waiting, name="review_target", kind="agent_sla", due_at=utcnow(),
                         pauses_while_waiting=True))
    session.flush()
    ops.request_evidence(session, waiting, Actor.system("agent@example.test"), "photo")
    # An own-site buyer with an e-mail address, in review.
    by_mail = make_case(session, market, number="AS-500002", status=CaseStatus.IN_REVIEW, value="30.00",
                        buyer_name="Ben K.")
    by_mail.buyer.email = "ben@example.test"
    session.commit()
    # What was sent before today is not part of this journey.
    session.execute(update(Message).values(status=MessageStatus.SENT, channel="case_record"))
    session.commit()
    session.close()
    return "AS-500001", "AS-500002"


def test_a_buyer_reply_comes_back_and_is_answered_once_on_each_channel(
    page: Page, world: dict[str, Any], password_hash: str
) -> None:
    app, server, simulator = world["app"], world["server"], world["simulator"]
    inbox: Inbox = world["inbox"]
    waiting, by_mail = _seed(app, password_hash)
    factory = app.extensions["database"].sessionmaker
    store = app.extensions["attachments"]

    # The buyer answers on the marketplace; the platform sends signed notifications to our webhook.
    simulator.state.buyer_writes("u-88", "Here is the torn seam")
    deliver = http_deliverer(f"{server.url}/webhooks/tiktok-shop")
    notifier = Notifier(simulator.state, APP_KEY, APP_SECRET, deliver)
    assert notifier.flush() == 2 and not notifier.dropped  # the new conversation, then the message
    client = Router(app.config).channels["marketplace"].client  # type: ignore[attr-defined]
    assert process_pending(factory, client, store=store).failed == 0

    sign_in(page, server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{server.url}/cases?view=replied")
    row = page.locator("tr.case-row.unread")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(waiting)
    expect(row).to_contain_text("1 new message")
    row.get_by_role("link", name=waiting).click()

    thread = page.locator("#case-conversation")
    expect(thread).to_contain_text("Here is the torn seam")
    expect(thread.locator(".msg-unread")).to_have_count(1)
    expect(page.locator("#case-head")).to_contain_text("In review")
    deadlines = page.locator("#case-deadlines")
    expect(deadlines).not_to_contain_text("stopped while waiting for the buyer")
    screenshot(page, "conversation-buyer-replied", full_page=True)

    page.locator("#macros").get_by_role("button", name="Approve return").click()
    expect(page.locator(".flash-success")).to_contain_text("Macro “Approve return” applied")
    expect(page.locator(".flash-success")).to_contain_text("Return approved")
    expect(page.locator("#case-head")).to_contain_text("Return approved")

    page.goto(f"{server.url}/cases/{by_mail}")
    # Only messages that are true for this case are offered: no refund or coupon message yet.
    options = page.locator("#reply-template option")
    expect(options).not_to_contain_text(["Refund initiated"])
    page.locator("#macros").get_by_role("button", name="Coupon 5").click()
    expect(page.locator(".flash-success")).to_contain_text("Coupon of $5.00")

    # The scheduler's outbox sends both: one to the marketplace chat, one by e-mail.
    assert outbox.dispatch(factory, Router(app.config), store) == 2
    assert outbox.dispatch(factory, Router(app.config), store) == 0

    chat = simulator.state.shop_messages()
    # One message: its text, and the return instructions PDF that goes with it.
    assert [m["type"] for m in chat] == ["TEXT", "FILE"]
    assert json.loads(chat[1]["content"])["name"].endswith(".pdf")
    text = json.loads(chat[0]["content"])["content"]
    with factory() as session:
        from portal.domain.lookups import load_case

        case = load_case(session, number=waiting)
        assert case is not None
        rma = case.returns[-1].rma_number
    assert rma in text and "{" not in text and "()" not in text and "Ana P." in text

    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert mail["To"].addresses[0].addr_spec == "ben@example.test"
    assert "$5.00" in body and "{" not in body and "30.00" not in body

    page.reload()
    expect(page.locator("#case-conversation .msg-outbound").last).to_contain_text("Sent")
    expect(page.locator("#case-conversation .msg-outbound").last).to_contain_text("E-mail")
    screenshot(page, "conversation-sent-by-mail", full_page=True)
