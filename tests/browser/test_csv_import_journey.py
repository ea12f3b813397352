"""An ops manager imports a seller-center CSV: preview, mapping, progress, result; and a file with errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import ROLE_EMAILS
from support.browser import LiveServer, screenshot, sign_in
from support.factories import shop_with_market

from portal.domain.enums import Role
from portal.domain.models import Order, User

pytestmark = pytest.mark.browser
DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def importer(live_app: Flask, password_hash: str) -> None:
    session: Session = live_app.extensions["database"].session()
    session.add(
        User(
            email=ROLE_EMAILS[Role.OPS_MANAGER],
            name="Olivia Ops",
            role=Role.OPS_MANAGER,
            password_hash=password_hash,
        )
    )
    shop_with_market(session)
    session.commit()
    session.close()


def _big_orders(tmp_path: Path, rows: int) -> Path:
    lines = ["Order ID,Created Time,Buyer Username,Seller SKU,Product Name,Quantity,SKU Unit Original Price"]
    lines += [
        f"BIG-{n:05d},2026-03-01 10:{n % 60:02d}:00,buyer{n % 300},SKU-{n % 40},Item {n % 40},1,"
        f"{n % 90 + 1}.99"
        for n in range(rows)
    ]
    path = tmp_path / "seller-center-orders.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ops_manager_imports_orders_with_progress(
    page: Page, live_server: LiveServer, live_app: Flask, importer: None, tmp_path: Path
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.get_by_role("link", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Import CSV")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(_big_orders(tmp_path, 3000)))
    page.get_by_role("button", name="Upload and preview").click()

    # The preview: the first rows and the guessed mapping, which the user can change.
    expect(page.locator(".import-preview")).to_contain_text("BIG-00000")
    expect(page.get_by_label("Unit price")).to_have_value("SKU Unit Original Price")
    expect(page.get_by_label("Channel")).to_have_value("")
    screenshot(page, "csv-import-preview", full_page=True)
    page.get_by_role("button", name="Import 3000 rows").click()

    expect(page.locator("#import-progress progress")).to_be_visible()
    screenshot(page, "csv-import-progress")
    expect(page.locator("#import-result")).to_contain_text("3000 orders created", timeout=60_000)
    screenshot(page, "csv-import-result", full_page=True)
    session = live_app.extensions["database"].session()
    assert session.scalar(select(func.count()).select_from(Order)) == 3000
    session.close()


def test_file_with_errors_shows_lines_and_error_file(
    page: Page, live_server: LiveServer, live_app: Flask, importer: None
) -> None:
    sign_in(page, live_server.url, ROLE_EMAILS[Role.OPS_MANAGER])
    page.goto(f"{live_server.url}/imports")
    page.get_by_label("CSV file").set_input_files(str(DATA / "orders_errors.csv"))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_role("button", name="Import 5 rows").click()

    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("Nothing was imported: the file has 5 problems", timeout=30_000)
    expect(errors).to_contain_text("Line 5: Unit price “abc” is not an amount of money")
    screenshot(page, "csv-import-errors", full_page=True)
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the error list (CSV)").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "Line 3: Created time “yesterday” is not a time like 2026-03-01 14:30:00" in text
    session = live_app.extensions["database"].session()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    session.close()
