"""CSV imports over HTTP as a browser does them: upload, preview and mapping, import, errors, idempotency."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import shop_with_market

from portal.domain.enums import CaseType, Role
from portal.domain.models import Case, CaseEvent, ImportBatch, Order, Shipment, TrackingEvent

DATA = Path(__file__).parent / "data"


@pytest.fixture
def market_id(app: Flask, db: Session) -> int:
    app.config["JOBS_RUN_INLINE"] = True
    _shop, market = shop_with_market(db)
    db.commit()
    return market.id


@pytest.fixture
def ops(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.OPS_MANAGER)


def upload(
    client: FlaskClient,
    market_id: int,
    name: str,
    kind: str = "orders",
    encoding: str = "auto",
    data: bytes | None = None,
) -> object:
    token = csrf_token(client, "/imports")
    content = data if data is not None else (DATA / name).read_bytes()
    return client.post(
        "/imports",
        data={
            "csrf_token": token,
            "kind": kind,
            "market": str(market_id),
            "encoding": encoding,
            "file": (__import__("io").BytesIO(content), name),
        },
        content_type="multipart/form-data",
    )


def start(client: FlaskClient, location: str, db: Session, **mapping: str) -> object:
    batch = db.get(ImportBatch, int(location.rsplit("/", 1)[1]))
    db.expire_all()
    assert batch is not None
    values = {f"map-{k}": v for k, v in {**batch.mapping, **mapping}.items()}
    return client.post(f"{location}/start", data={"csrf_token": csrf_token(client, location), **values})


def test_orders_file_previews_then_imports_once(ops: FlaskClient, db: Session, market_id: int) -> None:
    response = upload(ops, market_id, "orders_ok.csv")
    assert response.status_code == 303
    location = response.location
    page = ops.get(location).get_data(as_text=True)
    # The preview shows the first rows and the guessed mapping.
    assert "Linen shirt M" in page and "CSV-1003" in page
    assert '<option value="SKU Unit Original Price" selected>' in page
    assert "Import 4 rows" in page

    assert start(ops, location, db).status_code == 303
    result = ops.get(location).get_data(as_text=True)
    assert 'id="import-result"' in result
    assert "3 orders created, 0 already in the portal" in result

    order = db.scalar(select(Order).where(Order.external_order_id == "CSV-1001"))
    assert order is not None
    assert order.total_amount == Decimal("49.90")
    assert [(i.sku, i.quantity, i.unit_price) for i in order.items] == [
        ("SHIRT-M", 1, Decimal("24.90")),
        ("BELT-BRN", 2, Decimal("12.50")),
    ]
    # 14:30 in New York (the market's zone) in March is 19:30 UTC.
    assert order.placed_at.isoformat() == "2026-03-01T19:30:00+00:00"
    assert order.channel.value == "live"
    assert order.shipments[0].tracking_number == "1ZCSV0000000001"
    big = db.scalar(select(Order).where(Order.external_order_id == "CSV-1003"))
    assert big is not None and big.total_amount == Decimal("3703.50")
    # Own-site exports carry the buyer's e-mail address: buyer messages can go by e-mail.
    assert order.buyer.email == "lena@example.test"
    assert db.scalar(select(Order).where(Order.external_order_id == "CSV-1002")).buyer.email is None

    # The same file again: the same batch, nothing changes.
    again = upload(ops, market_id, "orders_ok.csv")
    assert again.location == location
    assert start(ops, location, db).status_code == 303
    assert db.scalar(select(func.count()).select_from(Order)) == 3
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_rows_already_imported_by_another_file_are_left_alone(
    ops: FlaskClient, db: Session, market_id: int
) -> None:
    start(ops, upload(ops, market_id, "orders_ok.csv").location, db)
    extra = (
        DATA / "orders_ok.csv"
    ).read_text() + "CSV-1004,2026-03-03 10:00:00,new.buyer,CAP-1,Cap,1,5.00,USD,,,\n"
    location = upload(ops, market_id, "more.csv", data=extra.encode()).location
    start(ops, location, db)
    assert "1 orders created, 3 already in the portal" in ops.get(location).get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Order)) == 4


def test_file_with_errors_imports_nothing_and_lists_lines(
    ops: FlaskClient, db: Session, market_id: int
) -> None:
    location = upload(ops, market_id, "orders_errors.csv").location
    start(ops, location, db)
    page = ops.get(location).get_data(as_text=True)
    assert "Nothing was imported: the file has 5 problems" in page
    assert "Line 3: Created time “yesterday” is not a time like 2026-03-01 14:30:00" in page
    assert "Line 4: Quantity “two” is not a whole number of at least 1" in page
    assert "Line 5: Unit price “abc” is not an amount of money" in page
    assert "Line 6: Buyer is empty" in page
    assert "Line 6: Channel “Telepathy” is not one of organic, live, video, ad, affiliate" in page
    # All or nothing: the good first row was not imported either.
    assert db.scalar(select(func.count()).select_from(Order)) == 0

    download = ops.get(f"{location}/errors.csv")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    text = download.get_data(as_text=True)
    assert "5,SKU Unit Original Price,abc,Line 5: Unit price “abc” is not an amount of money" in text


def test_semicolons_bom_and_decimal_commas(ops: FlaskClient, db: Session, market_id: int) -> None:
    location = upload(ops, market_id, "orders_semicolon.csv").location
    assert "separated by “;”" in ops.get(location).get_data(as_text=True)
    start(ops, location, db)
    order = db.scalar(select(Order).where(Order.external_order_id == "CSV-3001"))
    assert order is not None and order.total_amount == Decimal("15.00")


def test_gb18030_file_is_detected_shown_in_the_preview_and_imported(
    ops: FlaskClient, db: Session, market_id: int
) -> None:
    # Excel on Chinese Windows saves GB18030; "automatic" finds it among the encodings the form offers.
    response = upload(ops, market_id, "orders_gb18030.csv")
    assert response.status_code == 303
    location = response.location
    page = ops.get(location).get_data(as_text=True)
    assert re.search(r'id="import-encoding">GB18030 <span class="meta">\(detected\)</span>', page)
    assert "王小明" in page
    batch = db.scalar(select(ImportBatch))
    assert batch is not None and (batch.encoding, batch.encoding_detected) == ("gb18030", True)
    start(ops, location, db)
    assert db.scalar(select(Order).where(Order.external_order_id == "CSV-4001")) is not None


@pytest.mark.parametrize(
    ("text", "codec", "shown"),
    [
        ("Order ID,Buyer\nX,Müller café\n", "cp1252", "Windows-1252"),
        ("订单号,买家\nX,李雷\n", "utf-8", "UTF-8"),
    ],
)
def test_other_offered_encodings_are_detected(
    ops: FlaskClient, db: Session, market_id: int, text: str, codec: str, shown: str
) -> None:
    location = upload(ops, market_id, "x.csv", data=text.encode(codec)).location
    page = ops.get(location).get_data(as_text=True)
    assert f'id="import-encoding">{shown} <span class="meta">(detected)</span>' in page
    assert text.splitlines()[1].split(",")[1] in page


def test_chosen_encoding_is_not_called_detected(ops: FlaskClient, db: Session, market_id: int) -> None:
    location = upload(ops, market_id, "orders_gb18030.csv", encoding="gb18030").location
    page = ops.get(location).get_data(as_text=True)
    assert 'id="import-encoding">GB18030 ·' in page and "(detected)" not in page


def test_undecodable_file_is_refused_and_nothing_is_kept(
    ops: FlaskClient, db: Session, market_id: int
) -> None:
    # 0x81 is no Windows-1252 character and starts no GB18030 sequence before a space; nor is it UTF-8.
    data = b"Order ID,Buyer,SKU\nA-1,\x81 \xff,SKU-1\n"
    response = upload(ops, market_id, "broken.csv", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="import-problem"' in html
    assert "The file is not text in any encoding the portal reads (UTF-8, GB18030, Windows-1252)" in html
    assert db.scalar(select(func.count()).select_from(ImportBatch)) == 0
    assert db.scalar(select(func.count()).select_from(Order)) == 0
    # A wrong explicit choice still says where reading failed.
    chosen = upload(ops, market_id, "orders_gb18030.csv", encoding="utf-8")
    assert chosen.status_code == 422
    assert "The file cannot be read as utf-8 (unreadable byte at position" in chosen.get_data(as_text=True)


def test_required_field_without_a_column_is_refused(ops: FlaskClient, db: Session, market_id: int) -> None:
    location = upload(ops, market_id, "orders_ok.csv").location
    response = start(ops, location, db, unit_price="")
    assert response.status_code == 422
    assert "Choose a column for: Unit price." in response.get_data(as_text=True)
    assert db.scalar(select(ImportBatch.status)) == "uploaded"


def test_too_large_upload_gets_413_with_the_limit(app: Flask, ops: FlaskClient, market_id: int) -> None:
    token = csrf_token(ops, "/imports")
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    response = ops.post(
        "/imports",
        data={
            "csrf_token": token,
            "kind": "orders",
            "market": str(market_id),
            "file": (__import__("io").BytesIO(b"x" * (2 * 1024 * 1024)), "big.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "larger than 1 MB" in response.get_data(as_text=True)


def test_returns_open_cases_once_and_skip_finished(ops: FlaskClient, db: Session, market_id: int) -> None:
    start(ops, upload(ops, market_id, "orders_ok.csv").location, db)
    location = upload(ops, market_id, "returns_ok.csv", kind="returns").location
    start(ops, location, db)
    page = ops.get(location).get_data(as_text=True)
    assert "2 cases opened, 0 returns already in the portal and left unchanged, 1 finished" in page
    case = db.scalar(select(Case).where(Case.external_id == "RET-5001"))
    assert case is not None
    assert case.type == CaseType.RETURN_AND_REFUND and case.reason.value == "size"
    assert [i.order_item.sku for i in case.items] == ["SHIRT-M"]
    assert case.requested_amount == Decimal("24.90")
    assert case.buyer_note == "Too tight across the shoulders"
    # Opened through the lifecycle: the timeline and the policy saw it.
    kinds = {e.kind for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))}
    assert {"case_opened", "decided"} <= kinds
    whole = db.scalar(select(Case).where(Case.external_id == "RET-5002"))
    assert whole is not None and whole.value == Decimal("89.00")
    assert db.scalar(select(Case).where(Case.external_id == "RET-5003")) is None


def test_returns_with_errors_name_the_lines(ops: FlaskClient, db: Session, market_id: int) -> None:
    start(ops, upload(ops, market_id, "orders_ok.csv").location, db)
    location = upload(ops, market_id, "returns_errors.csv", kind="returns").location
    start(ops, location, db)
    page = ops.get(location).get_data(as_text=True)
    assert "Line 3: There is no order NO-SUCH-ORDER; import the orders file first" in page
    assert "Line 4: Return type “Teleport” is not one of" in page
    assert "Line 5: Order CSV-1001 has no SKU HAT-9" in page
    assert db.scalar(select(func.count()).select_from(Case)) == 0


def test_carrier_updates_that_came_first_apply_when_the_order_arrives(
    app: Flask, ops: FlaskClient, db: Session, market_id: int
) -> None:
    import hashlib
    import json

    app.config["SEVENTEENTRACK_API_KEY"] = "k17"
    body = json.dumps(
        {
            "event": "TRACKING_UPDATED",
            "data": {
                "number": "7700CSV00003",
                "carrier": 100003,
                "track_info": {
                    "latest_status": {"status": "InTransit"},
                    "tracking": {
                        "providers": [
                            {
                                "provider": {"name": "FedEx"},
                                "events": [
                                    {
                                        "time_utc": "2026-03-03T10:00:00Z",
                                        "description": "Picked up",
                                        "location": "Memphis, TN",
                                        "stage": "InTransit",
                                    }
                                ],
                            }
                        ]
                    },
                },
            },
        }
    ).encode()
    sign = hashlib.sha256(body + b"/k17").hexdigest()
    response = app.test_client().post(
        "/webhooks/17track", data=body, headers={"sign": sign}, content_type="application/json"
    )
    assert response.get_json()["status"] == "unmatched"
    start(ops, upload(ops, market_id, "orders_ok.csv").location, db)
    shipment = db.scalar(select(Shipment).where(Shipment.tracking_number == "7700CSV00003"))
    assert shipment is not None
    events = list(db.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id == shipment.id)))
    assert [(e.description, e.source) for e in events] == [("Picked up", "17track")]


def test_cs_agents_and_auditors_cannot_import(login: Callable[[Role], FlaskClient]) -> None:
    for role in (Role.CS_AGENT, Role.AUDITOR):
        assert login(role).get("/imports").status_code == 403


def test_command_line_import(app: Flask, db: Session, market_id: int) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["import", "orders", str(DATA / "orders_errors.csv"), "--market", "US"])
    assert bad.exit_code != 0
    assert "line 5: Unit price “abc” is not an amount of money" in bad.output
    good = runner.invoke(args=["import", "orders", str(DATA / "orders_ok.csv"), "--market", "US"])
    assert good.exit_code == 0, good.output
    assert "Imported: 3 created, 0 already present." in good.output
    again = runner.invoke(args=["import", "orders", str(DATA / "orders_ok.csv"), "--market", "US"])
    assert "was imported already" in again.output
    assert db.scalar(select(func.count()).select_from(Order)) == 3


def test_progress_of_a_finished_import_refreshes_the_htmx_page(
    ops: FlaskClient, db: Session, market_id: int
) -> None:
    location = upload(ops, market_id, "orders_ok.csv").location
    assert start(ops, location, db).status_code == 303
    polled = ops.get(f"{location}/progress", headers={"HX-Request": "true"})
    assert polled.status_code == 204 and polled.headers["HX-Refresh"] == "true"
    plain = ops.get(f"{location}/progress")
    assert plain.status_code == 302 and plain.location.endswith(location)
