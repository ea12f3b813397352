"""Every page each role reaches: no serious or critical axe-core violation, no sideways scrolling on a phone.

The pages are listed per role in PAGES; a new page goes into the lists of the roles that reach it. Each
page is visited once per role and check, in one signed-in browser context per role, over the demo shop.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import make_test_app
from support.browser import LiveServer, sign_in

from portal.demo.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo
from portal.domain.enums import CaseStatus, Role
from portal.domain.models import Case, Macro, Market, PolicyVersion, ReturnShipment, User

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
PHONE = {"width": 390, "height": 844}

_EVERYONE = [
    "/cases",
    "/cases?status=all",
    "/cases/{case}",
    "/cases/{return_case}",
    "/policies",
    "/policies/{policy}",
    "/policies/{policy}/versions/{version}",
    "/messages/templates",
    "/messages/templates/{template}",
    "/messages/macros",
    "/settings",
]
_READERS = [
    "/audit",
    "/audit?action=case.status_changed",
    "/audit/cases",
    "/audit/cases/{case}",
    "/audit/exports",
    "/audit/check-pack",
    "/analytics",
]
_MANAGERS = [
    "/settings/deadlines",
    "/settings/business-hours/{market}",
    "/admin/scheduler",
    "/imports",
    "/messages/macros/new",
    "/messages/macros/{macro}/edit",
    "/settings/two-factor",
    "/cases/assignment",
]
# The staff's own saved queue views.
_STAFF = ["/cases/views"]
# The pages each role reaches; `{name}` stands for an object of the demo shop (see `_placeholders`).
PAGES: dict[Role, list[str]] = {
    Role.CS_AGENT: [*_EVERYONE, *_STAFF],
    Role.OPS_MANAGER: [*_EVERYONE, *_STAFF, *_READERS, *_MANAGERS,
                       "/policies/{policy}/edit", "/policies/{policy}/diff"],
    Role.AUDITOR: [*_EVERYONE, *_READERS],
    Role.ADMIN: [*_EVERYONE, *_STAFF, *_READERS, *_MANAGERS, "/admin/users", "/admin/users/{user}",
                 "/admin/tokens",
                 "/admin/failed-work", "/admin/marketplace", "/admin/shops", "/admin/shops/new",
                 "/admin/shops/{shop}"],
}


@dataclass
class DemoSite:
    server: LiveServer
    placeholders: dict[str, Any]

    def url(self, page: str) -> str:
        return self.server.url + page.format(**self.placeholders)


def _placeholders(session: Session) -> dict[str, Any]:
    """Objects of the demo shop the page list refers to: a case an agent can act on, one with a return, ..."""
    in_review = select(Case).where(Case.status == CaseStatus.IN_REVIEW).order_by(Case.id)
    open_case = session.scalars(in_review).first()
    returned = session.scalars(select(ReturnShipment).order_by(ReturnShipment.id)).first()
    version = session.scalars(select(PolicyVersion).order_by(PolicyVersion.id)).first()
    market = session.scalars(select(Market).order_by(Market.id)).first()
    macro = session.scalars(select(Macro).order_by(Macro.id)).first()
    user = session.scalars(select(User).where(User.role == Role.CS_AGENT).order_by(User.id)).first()
    assert open_case and returned and version and market and macro and user, "the demo shop lacks an object"
    return {
        "case": open_case.number,
        "return_case": session.get(Case, returned.case_id).number,  # type: ignore[union-attr]
        "policy": version.policy_id,
        "version": version.number,
        "market": market.id,
        "shop": market.shop_id,
        "macro": macro.id,
        "template": "return_approved/en",
        "user": user.id,
    }


@pytest.fixture(scope="module")
def demo_site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    """The demo shop on a live server, shared by this module's tests: they only read.

    SQLite only: these checks are about the markup and styles the pages send, which the database
    behind them does not change, and seeding the demo shop is most of their cost.
    """
    folder = tmp_path_factory.mktemp("accessibility")
    shutil.copy(sqlite_template, folder / "portal.db")
    application: Flask = make_test_app(f"sqlite:///{folder / 'portal.db'}", folder)
    session: Session = application.extensions["database"].session()
    seed_demo(session, application.extensions["attachments"], scale=0.03)
    session.commit()
    placeholders = _placeholders(session)
    session.close()
    with LiveServer(application) as server:
        yield DemoSite(server, placeholders)
    application.extensions["database"].engine.dispose()


def _signed_in(browser: Browser, site: DemoSite, role: Role, viewport: dict[str, int]) -> BrowserContext:
    # The portal's Content-Security-Policy rightly refuses injected scripts; axe-core is the test's own.
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="Europe/London",
                                  bypass_csp=True)
    tab = context.new_page()
    email = next(email for email, _name, user_role in DEMO_USERS if user_role == role)
    sign_in(tab, site.server.url, email, DEMO_PASSWORD)
    assert "/login" not in tab.url, f"{email} could not sign in"
    tab.close()
    return context


def _open(tab: Page, url: str) -> None:
    response = tab.goto(url)
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"
    tab.wait_for_load_state("networkidle")


def axe_violations(tab: Page) -> list[str]:
    """Serious and critical axe-core findings on the page shown: one line per rule, naming its elements."""
    tab.add_script_tag(path=str(AXE))
    results = tab.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    lines = []
    for rule in results:
        if rule["impact"] not in FAILING_IMPACTS:
            continue
        nodes = rule["nodes"]
        where = "; ".join(f"{' '.join(node['target'])} ({node['failureSummary'].splitlines()[-1].strip()})"
                          for node in nodes[:3])
        more = f"; and {len(nodes) - 3} more" if len(nodes) > 3 else ""
        lines.append(f"{rule['impact']} {rule['id']}: {rule['help']}, at {where}{more}")
    return lines


def sideways_overflow(tab: Page) -> list[str]:
    """What sticks out past the right edge of the window, if the page scrolls sideways."""
    return tab.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          const wide = [];
          for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (box.right > width + 1 && box.width > 0 && !el.closest('.skip')) {
              const parent = el.parentElement.getBoundingClientRect();
              if (parent.right <= width + 1 || el.parentElement === document.body) {
                const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/) : [];
              wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                        classes.filter(Boolean).map(c => '.' + c).join('') +
                        ' ends at ' + Math.round(box.right) + 'px');
              }
            }
          }
          return [`the page is ${document.documentElement.scrollWidth}px wide`, ...wide.slice(0, 8)];
        }"""
    )


@pytest.mark.parametrize("role", list(PAGES), ids=lambda role: role.value)
def test_no_serious_accessibility_violations(browser: Browser, demo_site: DemoSite, role: Role) -> None:
    assert AXE.exists(), "axe-core is missing: `make install-test` runs `npm ci`"
    context = _signed_in(browser, demo_site, role, {"width": 1400, "height": 900})
    tab = context.new_page()
    failures = {}
    for page in PAGES[role]:
        _open(tab, demo_site.url(page))
        found = axe_violations(tab)
        if found:
            failures[page] = found
    context.close()
    report = "\n".join(f"{page}:\n  " + "\n  ".join(lines) for page, lines in failures.items())
    assert not failures, f"axe-core found serious or critical violations for the {role.value}:\n{report}"


@pytest.mark.parametrize("role", list(PAGES), ids=lambda role: role.value)
def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, demo_site: DemoSite, role: Role) -> None:
    context = _signed_in(browser, demo_site, role, PHONE)
    tab = context.new_page()
    failures = {}
    for page in PAGES[role]:
        _open(tab, demo_site.url(page))
        found = sideways_overflow(tab)
        if found:
            failures[page] = found
    context.close()
    report = "\n".join(f"{page}: " + "; ".join(lines) for page, lines in failures.items())
    assert not failures, f"at {PHONE['width']} px these pages scroll sideways for the {role.value}:\n{report}"


def _agent_email() -> str:
    return next(email for email, _name, user_role in DEMO_USERS if user_role == Role.CS_AGENT)


def test_a_confirmation_takes_focus_and_gives_focus_back(page: Page, demo_site: DemoSite) -> None:
    sign_in(page, demo_site.server.url, _agent_email(), DEMO_PASSWORD)
    case_url = demo_site.url("/cases/{case}")
    page.goto(case_url)
    actions = page.locator("#case-actions")
    refund = actions.get_by_role("button", name="Refund in full", exact=True)
    dialog = page.get_by_role("alertdialog", name="Please confirm: Refund in full")

    refund.click()
    expect(dialog).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Confirm")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(refund).to_be_focused()
    expect(page).to_have_url(case_url)  # a reload shows the case, not the confirmation again

    refund.click()
    expect(dialog).to_be_focused()
    dialog.get_by_role("link", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(refund).to_be_focused()
    expect(page.locator("#case-money")).to_contain_text("No refunds.")


def test_hidden_loading_texts_are_not_read_out(page: Page, demo_site: DemoSite) -> None:
    sign_in(page, demo_site.server.url, _agent_email(), DEMO_PASSWORD)
    page.goto(demo_site.url("/cases"))
    # Screen readers skip what is visibility: hidden; a merely transparent text would still be read.
    expect(page.locator("#queue-loading")).to_have_css("visibility", "hidden")
    expect(page.get_by_text("Loading…")).to_be_hidden()
