"""Ops managers in a real browser: the finding for the line being typed shows next to it however long the
policy is, and two managers publish a policy that needs a second manager's approval."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import shop_with_market

from portal.domain.enums import PolicyStatus, PublishRequestStatus, Role
from portal.domain.models import AuditEntry, Policy, PolicyVersion, PublishRequest, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser

# A long policy: 120 lines of comments and rules, so the last line sits far below the editor's top.
FILLER = "".join(f"# note {n}: keep the cheap-item rule in step with the ads team\n" for n in range(110))
LONG = f'policy "US returns"\n\n{FILLER}if value < 10 then refund_without_return\nelse approve_return\n'
SECOND_MANAGER = "ops2@example.test"


@pytest.fixture
def us_policy(live_app: Flask, password_hash: str) -> int:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(User(email=email, name=role.value.replace("_", " ").title(), role=role,
                         password_hash=password_hash))
    session.add(User(email=SECOND_MANAGER, name="Second Manager", role=Role.OPS_MANAGER,
                     password_hash=password_hash))
    _shop, market = shop_with_market(session, "US")
    policy = Policy(name="US returns", market_id=market.id)
    session.add(policy)
    session.flush()
    session.add(PolicyVersion(policy_id=policy.id, number=1, status=PolicyStatus.PUBLISHED, text=LONG,
                              comment="Initial policy", published_at=utcnow()))
    session.commit()
    policy_id = policy.id
    session.close()
    return policy_id


def _in_viewport(page: Page, locator: Locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= size["height"] and box["x"] + box["width"] <= size[
        "width"]


def test_the_finding_of_the_line_being_typed_is_in_view_beside_it(
    page: Page, live_server: LiveServer, us_policy: int
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.goto(f"{live_server.url}/policies/{us_policy}/edit")
    source = page.locator("#policy-source")
    lines = LONG.split("\n")
    typed_line = lines.index("if value < 10 then refund_without_return") + 1
    assert typed_line > 100
    # Put the caret after the condition of that line, far down the page, and type a typo there.
    offset = sum(len(line) + 1 for line in lines[:typed_line - 1]) + len("if value < 10")
    source.focus()
    source.evaluate("(el, at) => el.setSelectionRange(at, at)", offset)
    page.keyboard.type(" and valeu > 3")
    caret_line = page.locator(f"#policy-gutter li:nth-child({typed_line})")
    caret_line.evaluate("line => line.scrollIntoView({block: 'center'})")  # where the typist looks
    finding = page.locator(f"#policy-findings .finding[data-line='{typed_line}']")
    expect(finding).to_contain_text("unknown field `valeu`; did you mean `value`?")
    expect(finding).to_have_class("finding finding-error current")
    # Beside the line itself, and in the panel next to the editor: both in view with the caret's line.
    note = page.locator(f"#policy-line-notes li[data-line='{typed_line}']")
    expect(note).to_contain_text("valeu")
    page.keyboard.press("End")  # moving the caret along the line keeps everything where it is
    assert _in_viewport(page, caret_line)
    assert _in_viewport(page, finding)
    assert _in_viewport(page, note)
    note_box, line_box = note.bounding_box(), caret_line.bounding_box()
    assert note_box is not None and line_box is not None and abs(note_box["y"] - line_box["y"]) < 2
    expect(page.locator(f"#policy-gutter li:nth-child({typed_line})")).to_have_class("mark-error")
    screenshot(page, "policy-editor-finding-in-view")


def _publish_page(page: Page, base_url: str, policy_id: int, email: str) -> None:
    sign_in(page, base_url, email)
    page.goto(f"{base_url}/policies/{policy_id}/publish")


def test_two_managers_publish_with_approval(
    page: Page, browser: Browser, live_server: LiveServer, live_app: Flask, us_policy: int
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.goto(f"{live_server.url}/policies/{us_policy}")
    page.get_by_role("button", name="Require a second ops manager's approval to publish").click()
    expect(page.locator(".flash-success")).to_contain_text("now needs a second ops manager's approval")
    expect(page.get_by_role("button", name="Stop requiring approval")).to_have_count(0)

    page.get_by_role("link", name="Edit policy").click()
    page.locator("#policy-source").fill(LONG.replace("value < 10", "value < 15"))
    page.get_by_role("button", name="Save and review for publishing").click()
    page.get_by_label("Why this change?").fill("Refund without return up to $15")
    page.get_by_role("button", name="Request approval to publish v2").click()
    expect(page.locator(".flash-success")).to_contain_text("Publication of v2 requested")
    expect(page.locator("#publish-approval")).to_contain_text("Waiting for another ops manager")
    expect(page.locator("#approve-form")).to_have_count(0)  # never one's own request

    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US",
                                  timezone_id="Europe/London")
    reviewer = context.new_page()
    errors: list[str] = []
    reviewer.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(reviewer, live_server.url, SECOND_MANAGER)
    reviewer.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    reviewer.get_by_role("link", name="waiting for approval").click()
    expect(reviewer.locator("#pending-request")).to_contain_text("Refund without return up to $15")
    expect(reviewer.locator("#policy-diff .diff-added")).to_contain_text("value < 15")
    # Rejecting needs a reason; the requester sees it.
    reviewer.locator("#reject-form").get_by_role("button", name="Reject").click()
    expect(reviewer.locator("#reject-form")).to_contain_text("Say why you reject the request.")
    reviewer.locator("#reject-form").get_by_label("Why reject?").fill("Wait until the sale ends")
    reviewer.locator("#reject-form").get_by_role("button", name="Reject").click()
    expect(reviewer.locator(".flash-success")).to_contain_text("Request rejected")

    page.reload()
    expect(page.locator("#last-rejection")).to_contain_text("Wait until the sale ends")
    page.get_by_label("Why this change?").fill("Refund without return up to $15, after the sale")
    page.get_by_role("button", name="Request approval to publish v2").click()
    expect(page.locator(".flash-success")).to_contain_text("Publication of v2 requested")

    reviewer.reload()
    reviewer.locator("#approve-form").get_by_label("Comment").fill("Sale is over")
    screenshot(reviewer, "policy-approval", full_page=True)
    reviewer.get_by_role("button", name="Approve and publish v2").click()
    expect(reviewer.locator(".flash-success")).to_contain_text("Approved and published v2")
    expect(reviewer.locator("#policy-text")).to_contain_text("value < 15")
    context.close()
    assert errors == []

    session: Session = live_app.extensions["database"].session()
    requests = session.scalars(select(PublishRequest).order_by(PublishRequest.id)).all()
    assert [r.status for r in requests] == [PublishRequestStatus.REJECTED, PublishRequestStatus.APPROVED]
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"policy.approval_setting", "policy.publication_requested", "policy.publication_rejected",
            "policy.publication_approved", "policy.published"} <= actions
    session.close()
