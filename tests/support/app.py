"""Shared test helpers: the test app, its users' password, and reading CSRF tokens like a browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.domain.enums import Role

PASSWORD = "correct-horse-42"
ROLE_EMAILS = {
    Role.OPS_MANAGER: "ops@example.test",
    Role.CS_AGENT: "agent@example.test",
    Role.AUDITOR: "auditor@example.test",
    Role.ADMIN: "admin@example.test",
}
CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def make_test_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_URL": database_url,
            "ATTACHMENTS_DIR": str(tmp_path / "attachments"),
            "SCHEDULER_INTERVAL_SECONDS": 0.2,
            "QUEUE_COUNTS_SECONDS": 0,
            **overrides,
        }
    )


def csrf_token(client: FlaskClient, url: str = "/login") -> str:
    """The CSRF token a page hands its forms, read the way a browser would."""
    html = client.get(url).get_data(as_text=True)
    match = CSRF_INPUT.search(html)
    assert match, f"no CSRF token on {url}: {html[:3000]}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)}
    )
