"""An admin opens Marketplace sync from the menu, sees a failed notification and retries it."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in

from portal.domain.enums import Role
from portal.domain.models import MarketplaceEvent, MarketplaceSyncCursor, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_and_backlog(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    session.add(
        User(email=ROLE_EMAILS[Role.ADMIN], name="Admin", role=Role.ADMIN, password_hash=password_hash)
    )
    session.add_all(
        [
            MarketplaceEvent(
                notification_id="7327112393057371910",
                type=12,
                shop_id="749",
                body="{}",
                state="failed",
                attempts=6,
                last_error="shop 749 is not set up in the portal",
            ),
            MarketplaceEvent(
                notification_id="7327112393057371911", type=1, shop_id="749", body="{}", state="done"
            ),
            MarketplaceSyncCursor(
                shop_id="749",
                resource="returns",
                synced_until=1_795_000_000,
                last_success_at=utcnow(),
                repaired_total=2,
            ),
        ]
    )
    session.commit()
    session.close()


def test_admin_retries_a_failed_notification(
    page: Page, live_server: LiveServer, admin_and_backlog: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_role("link", name="Marketplace sync").click()
    expect(page.get_by_role("heading", name="Marketplace sync", level=1)).to_be_visible()
    failed = page.locator("#failed-events")
    expect(failed).to_contain_text("7327112393057371910")
    expect(failed).to_contain_text("shop 749 is not set up")
    expect(page.locator("#marketplace-cursors")).to_contain_text("Returns and refunds")
    screenshot(page, "marketplace-sync", full_page=True)
    failed.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash-success")).to_contain_text("queued again")
    expect(page.locator("#failed-events")).to_contain_text("No failed notifications.")
    expect(page.locator("#marketplace-inbox")).to_contain_text("Waiting")
