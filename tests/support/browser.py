"""Browser helpers: a live loopback server, Chromium's launch options, signing in and screenshots."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Page
from werkzeug.serving import make_server

from portal.jobs import work_loop
from support.app import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class LiveServer:
    """The portal on a loopback port, with a background-job worker beside it (in production the
    worker is its own process; here a thread of the test process stands in for it)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stop_worker = threading.Event()
        self._worker = threading.Thread(target=work_loop, args=(app, self._stop_worker, 0.1), daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._stop_worker.set()
        self._worker.join(timeout=30)


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def screenshot(page: Page, name: str, **kwargs: Any) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path
