"""An auditor finds a case, downloads its evidence pack and exports packs; a CS agent cannot export."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from test_audit_pack import edit_proof
from test_documents_data import build_case

from portal.domain.enums import Role
from portal.domain.models import AuditEntry, Job, User

pytestmark = pytest.mark.browser


@pytest.fixture
def pack_data(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    for role, email in ROLE_EMAILS.items():
        session.add(
            User(
                email=email, name=role.value.replace("_", " ").title(), role=role, password_hash=password_hash
            )
        )
    build_case(session, live_app.extensions["attachments"], number="AS-BROWSE1", photos=2)
    session.commit()
    session.close()


def test_auditor_downloads_a_pack_and_exports(
    page: Page, live_server: LiveServer, live_app: Flask, pack_data: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.AUDITOR])
    page.get_by_role("link", name="Cases and evidence").click()
    page.wait_for_load_state()  # htmx (a deferred script) listening before typing
    # Typing filters the rows in place; the address bar keeps the filter.
    page.get_by_label("Case or order number").fill("AS-BROWSE1")
    expect(page).to_have_url(re.compile(r"q=AS-BROWSE1"))
    page.get_by_role("link", name="AS-BROWSE1").click()
    expect(page.get_by_role("heading", name="Evidence of AS-BROWSE1")).to_be_visible()
    expect(page.locator("#audit-case-exhibits")).to_contain_text("Matches its hash")
    screenshot(page, "auditor-case-evidence", full_page=True)

    # A form POST (it writes to the audit log): the download arrives when the PDF is rendered, which may
    # take longer than a click waits for its navigation.
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Download evidence pack (PDF)").click(no_wait_after=True)
    download = info.value
    assert download.suggested_filename == "evidence-pack-AS-BROWSE1.pdf"
    data = open(download.path(), "rb").read()
    assert data.startswith(b"%PDF")
    session = live_app.extensions["database"].session()
    logged = session.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "evidence_pack.generated")
    ).all()
    assert [d["sha256"] for d in logged] == [hashlib.sha256(data).hexdigest()]
    session.close()

    page.get_by_role("link", name="Pack exports").click()
    page.get_by_label("Opened from").fill("2000-01-01")
    page.get_by_label("Opened until").fill("2100-12-31")
    page.get_by_role("button", name="Start export").click()
    expect(page).to_have_url(re.compile(r"/audit/exports/\d+$"))
    expect(page.get_by_role("link", name="Download ZIP")).to_be_visible(timeout=30_000)
    expect(page.locator("#export-progress")).to_contain_text("Ready: 1 cases")
    screenshot(page, "auditor-export-ready")


def test_cs_agent_cannot_start_an_export(
    page: Page, live_server: LiveServer, live_app: Flask, pack_data: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.CS_AGENT])
    expect(page.get_by_role("link", name="Pack exports")).to_have_count(0)
    expect(page.get_by_role("link", name="Audit trail")).to_have_count(0)
    # Even a hand-made request with a valid session and CSRF token is refused and starts nothing.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        f"{live_server.url}/audit/exports",
        form={"csrf_token": token or "", "date_from": "2000-01-01", "date_to": "2100-12-31"},
    )
    assert response.status == 403
    session = live_app.extensions["database"].session()
    assert session.scalar(select(Job)) is None
    session.close()


def test_auditor_checks_a_downloaded_pack_and_a_tampered_one(
    page: Page, live_server: LiveServer, live_app: Flask, pack_data: None, tmp_path: Path
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.AUDITOR])
    page.goto(f"{live_server.url}/audit/cases/AS-BROWSE1")
    with page.expect_download(timeout=60_000) as info:  # a form POST; the download comes when it is rendered
        page.get_by_role("button", name="Download evidence pack (PDF)").click(no_wait_after=True)
    genuine = tmp_path / "evidence-pack-AS-BROWSE1.pdf"
    info.value.save_as(genuine)

    page.get_by_role("link", name="Check a pack").first.click()
    expect(page.get_by_role("heading", name="Check an evidence pack")).to_be_visible()
    page.get_by_label("Evidence pack (PDF)").set_input_files(genuine)
    page.get_by_role("button", name="Check the pack").click()
    expect(page.locator("#pack-report")).to_contain_text("The pack checks out.")
    expect(page.locator("#pack-report")).to_contain_text("AS-BROWSE1")
    screenshot(page, "auditor-check-pack-ok", full_page=True)

    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(edit_proof(genuine.read_bytes(), lambda d: d["entries"][0].update(
        leaf=d["entries"][0]["leaf"].replace('"actor_label":"', '"actor_label":"x'))))
    page.get_by_label("Evidence pack (PDF)").set_input_files(tampered)
    page.get_by_role("button", name="Check the pack").click()
    expect(page.locator("#pack-report")).to_contain_text("The pack does not check out.")
    expect(page.locator("#pack-report")).to_contain_text("is not in the signed audit log")
    screenshot(page, "auditor-check-pack-tampered", full_page=True)

    page.get_by_label("Evidence pack (PDF)").set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n not a pdf"}
    )
    page.get_by_role("button", name="Check the pack").click()
    expect(page.locator("#check-pack-form")).to_contain_text("The file is not a PDF.")
