"""Browser fixtures: the portal on a live loopback server, driven by Debian's Chromium via Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from support.app import make_test_app
from support.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer


@pytest.fixture
def live_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = make_test_app(database_url, tmp_path)
    yield application
    application.extensions["database"].engine.dispose()


@pytest.fixture
def live_server(live_app: Flask) -> Iterator[LiveServer]:
    with LiveServer(live_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser tab that fails the test on any script error or CSP violation."""
    if "live_server" in request.fixturenames:
        # The server first, so that it stops after the tab closes: a page's polling request (presence,
        # queue refresh) to a server already gone was reported as the test's browser error.
        request.getfixturevalue("live_server")
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US",
                                  timezone_id="Europe/London")
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A form sent back with its errors answers 422 (or 409 for a stale edit) on purpose; Chromium
        # logs that page load as an error. Any other failed load is a real problem.
        deliberate = message.text.startswith("Failed to load resource") and any(
            f"status of {code} " in message.text for code in (409, 422)
        )
        # htmx cancels a live check that the next keystroke supersedes (hx-sync replace); the loopback
        # test server then sees the connection reset. That is the page working, not failing.
        deliberate = deliberate or message.text == "Failed to load resource: net::ERR_CONNECTION_RESET"
        if message.type == "error" and not deliberate:
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.set_default_timeout(10_000)
    yield tab
    context.close()
    assert problems == [], f"browser errors: {problems}"


