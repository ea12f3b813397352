"""An ops manager raises the refund-without-return threshold in a real browser; an agent only reads it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import PolicyStatus, Role
from portal.domain.models import AuditEntry, Market, Policy, PolicyVersion, User
from portal.domain.policy_engine import decide, record_decision
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser

PUBLISHED = 'policy "US returns"\n\nif value < 10 then refund_without_return\nelse approve_return\n'
VALUES = [Decimal(5) + Decimal(i) * Decimal("0.45") for i in range(34)]  # 5.00 … 19.85


@pytest.fixture
def us_policy(live_app: Flask, password_hash: str) -> int:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(
            User(
                email=email, name=role.value.replace("_", " ").title(), role=role, password_hash=password_hash
            )
        )
    _shop, market = shop_with_market(session, "US")
    for i, value in enumerate(VALUES):
        make_case(
            session,
            market,
            number=f"AS-3{i:05d}",
            value=f"{value:.2f}",
            opened_at=utcnow() - timedelta(days=i % 28 + 1, hours=i),
        )
    policy = Policy(name="US returns", market_id=market.id)
    session.add(policy)
    session.flush()
    session.add(
        PolicyVersion(
            policy_id=policy.id,
            number=1,
            status=PolicyStatus.PUBLISHED,
            text=PUBLISHED,
            comment="Initial policy",
            published_at=utcnow() - timedelta(days=60),
        )
    )
    session.commit()
    policy_id = policy.id
    session.close()
    return policy_id


def test_ops_manager_raises_the_threshold_and_publishes(
    page: Page, live_server: LiveServer, live_app: Flask, us_policy: int
) -> None:
    changed = [v for v in VALUES if Decimal(10) <= v < Decimal(15)]
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="US returns").click()
    page.get_by_role("link", name="Edit policy").click()
    page.wait_for_load_state()  # htmx (a deferred script) listening before typing
    source = page.locator("#policy-source")
    expect(source).to_have_value(re.compile("value < 10"))

    # A typo: the finding and its suggestion appear beside the line while typing, without saving.
    source.fill(PUBLISHED.replace("value < 10", "valeu < 15"))
    findings = page.locator("#policy-findings")
    expect(findings).to_contain_text("unknown field `valeu`; did you mean `value`?")
    expect(findings).to_contain_text("Line 3, column 4")
    expect(page.locator("#policy-gutter li.mark-error")).to_have_text("3")
    screenshot(page, "policy-editor-typo", full_page=True)

    # The palette inserts at the cursor; fixing the typo clears the findings.
    source.fill(PUBLISHED.replace("value < 10", "value < 15"))
    expect(findings).to_contain_text("No problems found.")
    expect(page.locator("#policy-palette button.insert").first).to_be_visible()

    page.get_by_label("Simulate the last").select_option("30")
    page.get_by_role("button", name="Save and simulate").click()
    summary = page.locator("#simulation-summary")
    expect(summary).to_contain_text(f"{len(changed)} decisions change", timeout=20_000)
    expect(summary).to_contain_text(f"out of {len(VALUES)} decisions on {len(VALUES)} cases")
    expect(page.locator("#simulation-money")).to_contain_text(f"${sum(changed):,.2f} more would go out")
    expect(page.locator("#simulation-transitions")).to_contain_text("refund_without_return")
    expect(page.locator("#simulation-cases tbody tr")).to_have_count(len(changed))
    screenshot(page, "policy-simulation", full_page=True)

    page.get_by_role("link", name="Review and publish").click()
    expect(page.locator("#policy-diff .diff-added")).to_contain_text("value < 15")
    expect(page.locator("#policy-diff .diff-removed")).to_contain_text("value < 10")
    page.get_by_label("Why this change?").fill("Refund without return up to $15: return shipping costs more")
    screenshot(page, "policy-publish", full_page=True)
    page.get_by_role("button", name="Publish v2").click()
    expect(page.locator(".flash-success")).to_contain_text("Published v2")
    expect(page.locator("#policy-text")).to_contain_text("value < 15")
    expect(page.locator("#policy-history")).to_contain_text("Refund without return up to $15")

    session: Session = live_app.extensions["database"].session()
    market = session.scalar(select(Market).where(Market.code == "US"))
    case = make_case(session, market, number="AS-NEW01", value="12.00")
    decision, version = decide(session, case, "case_opened")
    row = record_decision(session, case, "case_opened", decision, version)
    session.commit()
    assert version is not None and version.number == 2
    assert row.actions == [{"name": "refund_without_return", "args": []}]
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "policy.published"))
    session.close()


def test_agent_reads_the_policy_without_editing(page: Page, live_server: LiveServer, us_policy: int) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    page.goto(f"{live_server.url}/policies/{us_policy}")
    expect(page.locator("#policy-text")).to_contain_text("value < 10")
    expect(page.locator("#policy-history")).to_contain_text("Initial policy")
    expect(page.locator("textarea")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Edit|Publish|Roll back", re.I))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Edit|Publish|Save", re.I))).to_have_count(0)
    screenshot(page, "policy-agent-read-only")
