"""An admin finds failed work of two kinds on one page, retries a selection after confirming, and sees
it queued again."""

from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import make_case, shop_with_market

from portal.domain.enums import DeadlineKind, DeadlineState, Role
from portal.domain.models import Deadline, Job, User
from portal.domain.types import utcnow

pytestmark = pytest.mark.browser


@pytest.fixture
def failures(live_app: Flask, password_hash: str) -> dict[str, int]:
    session: Session = live_app.extensions["database"].session()
    session.add(User(email=ROLE_EMAILS[Role.ADMIN], name="Admin", role=Role.ADMIN,
                     password_hash=password_hash))
    _shop, market = shop_with_market(session)
    case = make_case(session, market, number="AS-FAIL01")
    deadline = Deadline(case_id=case.id, name="respond_to_request", kind=DeadlineKind.PLATFORM,
                        due_at=utcnow(), state=DeadlineState.FAILED, attempts=5,
                        last_error="RuntimeError: the refund service refused")
    job = Job(kind="evidence_export", params={}, status="failed", attempts=3,
              error="gave up: its worker stopped during each of 3 attempts")
    session.add_all([deadline, job])
    session.commit()
    ids = {"deadline": deadline.id, "job": job.id}
    session.close()
    return ids


def test_admin_retries_failed_work_from_one_page(
    page: Page, live_server: LiveServer, failures: dict[str, int], live_app: Flask
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.ADMIN])
    page.get_by_role("link", name="Failed work").click()
    expect(page.get_by_role("heading", name="Failed work", exact=True)).to_be_visible()
    expect(page.locator("#failed-deadlines")).to_contain_text("the refund service refused")
    expect(page.locator("#failed-jobs")).to_contain_text("its worker stopped")
    screenshot(page, "failed-work")

    page.get_by_label("Deadline “respond_to_request”").check()
    page.locator(f"#item-jobs-{failures['job']}").check()
    page.get_by_role("button", name="Retry the chosen items").click()
    expect(page.locator("#retry-confirm")).to_contain_text("Retry these 2 items?")
    page.get_by_role("button", name="Retry", exact=True).click()
    expect(page.locator("main")).to_contain_text("2 items are queued again")
    expect(page.locator("#failed-deadlines")).to_contain_text("Nothing has failed.")

    session: Session = live_app.extensions["database"].session()
    assert session.get(Deadline, failures["deadline"]).state == DeadlineState.PENDING
    session.close()
