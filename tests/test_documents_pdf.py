"""The PDFs read back: text, the barcode as drawn, the embedded manifest, hashes, fonts and the fetch guard.

Rendering does not depend on the database, so these tests share one SQLite app per module.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask
from flask_babel import force_locale
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from test_documents_data import HOSTILE, build_case, sqlite_app

from portal.documents.evidence import EvidencePack, render_evidence_pack
from portal.documents.instructions import (
    address_lines,
    attach_instructions_to_message,
    render_return_instructions,
)
from portal.documents.render import RenderLimitError, render_pdf
from portal.domain.attachments import store_attachment
from portal.domain.enums import MessageDirection, MessageStatus
from portal.domain.models import AuditEntry, Case, Message


@pytest.fixture(scope="module")
def doc_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = sqlite_app(tmp_path_factory.mktemp("documents"))
    yield app
    app.extensions["database"].engine.dispose()


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A local TCP listener that anything trying to fetch from the network would reach."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def _saw_connection(server: socket.socket) -> bool:
    try:
        connection, _addr = server.accept()
    except BlockingIOError:
        return False
    connection.close()
    return True


def _hostile_text(port: int) -> str:
    return (
        f'{HOSTILE} <img src="http://127.0.0.1:{port}/pixel.png"> '
        f'<link rel="stylesheet" href="http://127.0.0.1:{port}/style.css"> '
        f'<style>@import url("http://127.0.0.1:{port}/import.css");</style> '
        f'<iframe src="file:///etc/passwd"></iframe>'
    )


@pytest.fixture(scope="module")
def pack(doc_app: Flask, listener: socket.socket) -> EvidencePack:
    port = listener.getsockname()[1]
    store = doc_app.extensions["attachments"]
    with doc_app.app_context(), force_locale("en"):
        session = doc_app.extensions["database"].session()
        case = build_case(session, store, number="AS-PACK01", body=_hostile_text(port), photos=4)
        session.commit()
        result = render_evidence_pack(session, store, case, actor_label="auditor@example.test")
        session.commit()
        session.close()
    return result


@pytest.fixture(scope="module")
def instructions(doc_app: Flask) -> tuple[Case, bytes]:
    store = doc_app.extensions["attachments"]
    with doc_app.app_context():
        session = doc_app.extensions["database"].session()
        case = build_case(session, store, number="AS-INSTR1", language="de", cross_border=True, photos=0)
        session.commit()
        data = render_return_instructions(session, store, case, case.returns[0])
        session.expunge_all()
        session.close()
    return case, data


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _raster(pdf: bytes, page: int = 0, scale: float = 300 / 72):
    return pdfium.PdfDocument(pdf)[page].render(scale=scale).to_pil().convert("L")


# --- Codes, read back from the pixels by a real decoder (ZXing), as a carrier's scanner would ----------


def decoded(pdf: bytes) -> dict[str, list[str]]:
    """Every barcode ZXing finds on the first page, by symbology."""
    found: dict[str, list[str]] = {}
    for result in zxingcpp.read_barcodes(_raster(pdf)):
        if result.valid:
            found.setdefault(result.format.name, []).append(result.text)
    return found


# --- Return instructions ------------------------------------------------------------------------------


def test_instructions_are_one_page_in_the_buyers_language(instructions: tuple[Case, bytes]) -> None:
    case, pdf = instructions
    pages = _text(pdf)
    assert len(pages) == 1
    text = " ".join(pages[0].split())
    rma = case.returns[0].rma_number
    for expected in [
        "Anleitung zur Rücksendung",
        rma,
        "Testco Returns",
        "8 Pingshan Road",
        "518118",
        "CHINA",
        "Tel. +86 755 0000 1111",
        "DHL, EMS",
        "keine unversicherte Post",
        "Einlieferungsbeleg",
        "Returned Apparel",
        "64,00",
        "Absender (DDP)",
        "Die Kosten der Rücksendung tragen Sie",
        "Europe/Berlin",
        "Etiketten noch dran",
        "Originalverpackung",
    ]:
        assert expected in text, expected


def test_ship_by_is_shown_in_the_buyers_time_zone(instructions: tuple[Case, bytes]) -> None:
    from zoneinfo import ZoneInfo

    from babel.dates import format_date

    case, pdf = instructions
    local = case.returns[0].ship_by.astimezone(ZoneInfo("Europe/Berlin"))
    assert format_date(local, "full", locale="de") in " ".join(_text(pdf)[0].split())


def test_barcode_on_the_page_decodes_to_the_rma(instructions: tuple[Case, bytes]) -> None:
    case, pdf = instructions
    assert decoded(pdf)["Code128"] == [case.returns[0].rma_number]


def test_qr_code_on_the_page_decodes_to_the_rma(instructions: tuple[Case, bytes]) -> None:
    case, pdf = instructions
    assert decoded(pdf)["QRCode"] == [case.returns[0].rma_number]


def test_address_is_formatted_for_the_destination_country(doc_app: Flask) -> None:
    from portal.domain.models import ReturnAddress

    us = ReturnAddress(
        recipient="Testco Returns",
        street="1 Dock St",
        city="Newark",
        region="NJ",
        postcode="07101",
        country="US",
        phone="+1 555 0100",
    )
    assert address_lines(us, "RMA-1") == [
        "Testco Returns",
        "RMA RMA-1",
        "1 Dock St",
        "Newark, NJ 07101",
        "UNITED STATES",
        "Tel. +1 555 0100",
    ]
    de = ReturnAddress(
        recipient="Testco Returns",
        street="Lagerstr. 5",
        city="Leipzig",
        region="Sachsen",
        postcode="04109",
        country="DE",
        phone="+49 341 000",
    )
    assert address_lines(de)[2:4] == ["04109 Leipzig", "GERMANY"]
    uk = ReturnAddress(
        recipient="Testco Returns",
        street="Unit 4",
        city="Coventry",
        region=None,
        postcode="cv1 2aa",
        country="UK",
        phone="+44 24 000",
    )
    assert address_lines(uk)[2:5] == ["COVENTRY", "CV1 2AA", "UNITED KINGDOM"]


def test_instructions_are_attached_to_the_buyer_message(doc_app: Flask) -> None:
    store = doc_app.extensions["attachments"]
    with doc_app.app_context():
        session = doc_app.extensions["database"].session()
        case = build_case(session, store, number="AS-ATTACH", language="ms", photos=0)
        message = Message(
            case=case,
            direction=MessageDirection.OUTBOUND,
            status=MessageStatus.QUEUED,
            language="ms",
            body="Pemulangan diluluskan.",
        )
        session.add(message)
        attachment = attach_instructions_to_message(session, store, message, case, case.returns[0])
        session.commit()
        assert message.attachment_name == f"return-instructions-{case.returns[0].rma_number}.pdf"
        assert (
            message.attachment_sha256
            == attachment.sha256
            == hashlib.sha256(store.read(attachment.sha256)).hexdigest()
        )
        assert "Arahan pemulangan" in _text(store.read(attachment.sha256))[0]
        session.close()


# --- Evidence pack --------------------------------------------------------------------------------------


def test_pack_has_every_section_and_the_case_on_every_page(pack: EvidencePack) -> None:
    pages = _text(pack.pdf)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert "AS-PACK01" in page
        assert f"{number} / {len(pages)}" in page
        assert "Generated" in page
    whole = " ".join(" ".join(pages).split())
    for section in [
        "Contents",
        "Order and items",
        "Tracking trail",
        "Proof of delivery",
        "Messages with the buyer",
        "Packing photos and video",
        "Returns and inspection",
        "Inspection record",
        "Refunds and disputes",
        "Automated decisions",
        "Policy AS-PACK01 v3",
        "cheap returns",
        "value < 100",
        "Case history",
        "Audit trail",
        "case.status_changed",
        "Exhibit manifest",
        "Return scan 2",
        "Tags on, unworn.",
        "Refund proven",
    ]:
        assert section in whole, section


def test_buyer_markup_is_printed_as_text_and_fetches_nothing(
    pack: EvidencePack, listener: socket.socket
) -> None:
    whole = " ".join(_text(pack.pdf))
    assert "file:///etc/passwd" in whole and "169.254.169.254" in whole and "@import" in whole
    assert "root:x:0:0" not in whole
    assert not _saw_connection(listener)


def test_the_fetcher_refuses_raw_markup_too(doc_app: Flask, listener: socket.socket) -> None:
    """Even HTML that escaped escaping loads nothing: the fetcher is the second wall."""
    port = listener.getsockname()[1]
    html = (
        f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/a.css">'
        f'<style>@import url("http://127.0.0.1:{port}/b.css"); body {{ background: '
        f'url("http://127.0.0.1:{port}/c.png"); }}</style></head><body><p>raw</p>'
        f'<img src="http://127.0.0.1:{port}/d.png"><img src="file:///etc/passwd">'
        '<img src="static:../../etc/passwd">'
        f'<object data="file:///etc/hostname"></object></body></html>'
    )
    pdf = render_pdf(doc_app, html)
    assert "raw" in _text(pdf)[0]
    assert not _saw_connection(listener)


def test_manifest_is_embedded_and_matches_the_exhibits(pack: EvidencePack, doc_app: Flask) -> None:
    reader = PdfReader(io.BytesIO(pack.pdf))
    assert sorted(reader.attachments) == ["audit-proof.json", "manifest.json"]
    manifest = json.loads(reader.attachments["manifest.json"][0])
    assert manifest == pack.manifest
    store = doc_app.extensions["attachments"]
    assert len(manifest["exhibits"]) == 5  # four photos and the packing video
    whole = "".join("".join(_text(pack.pdf)).split())
    for exhibit in manifest["exhibits"]:
        assert hashlib.sha256(store.read(exhibit["sha256"])).hexdigest() == exhibit["sha256"]
        assert exhibit["intact"] is True
        assert exhibit["sha256"] in whole  # printed in the manifest table


def test_pack_is_pdf_a3_and_its_hash_is_in_the_audit_log(pack: EvidencePack, doc_app: Flask) -> None:
    assert pack.sha256 == hashlib.sha256(pack.pdf).hexdigest()
    metadata = PdfReader(io.BytesIO(pack.pdf)).xmp_metadata
    assert metadata is not None
    xmp = metadata.stream.get_data()
    assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="A"' in xmp
    with doc_app.app_context():
        session = doc_app.extensions["database"].session()
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "evidence_pack.generated",
                AuditEntry.details["number"].as_string() == "AS-PACK01",
            )
        )
        assert entry is not None and entry.details["sha256"] == pack.sha256
        assert entry.actor_label == "auditor@example.test"
        session.close()


@pytest.mark.parametrize("document", ["pack", "instructions"])
def test_pdfs_are_tagged_for_screen_readers(document: str, request: pytest.FixtureRequest) -> None:
    """PDF/UA-1: a structure tree in reading order, the language and title declared, and said so in XMP."""
    fixture = request.getfixturevalue(document)
    pdf, language = (fixture.pdf, "en") if document == "pack" else (fixture[1], "de")
    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    structure = catalog["/StructTreeRoot"].get_object()
    assert structure["/K"]  # the tagged content: headings, paragraphs, tables, figures
    assert catalog["/Lang"] == language
    assert reader.metadata is not None and reader.metadata.title
    assert reader.xmp_metadata is not None
    assert b'pdfuaid:part="1"' in reader.xmp_metadata.stream.get_data()


def test_a_changed_exhibit_is_flagged(doc_app: Flask) -> None:
    from portal.documents.evidence import collect_exhibits

    store = doc_app.extensions["attachments"]
    with doc_app.app_context():
        session = doc_app.extensions["database"].session()
        case = build_case(session, store, number="AS-TAMPER", photos=1)
        session.commit()
        sha = case.evidence[0].sha256
        store.path(sha).write_bytes(b"tampered")
        exhibits = collect_exhibits(session, store, case)
        assert [e.intact for e in exhibits if e.sha256 == sha] == [False]
        session.close()


# --- Fonts and limits ----------------------------------------------------------------------------------

SCRIPTS = {
    "latin": "Return Rücksendung",
    "cyrillic": "Возврат товара",
    "cjk": "退货说明 返品",
    "thai": "การคืนสินค้า",
}


def test_every_script_renders_with_a_real_font(doc_app: Flask) -> None:
    lines = "".join(f'<p id="{name}">{text}</p>' for name, text in SCRIPTS.items())
    html = (
        '<html lang="en"><head><link rel="stylesheet" href="static:pdf/common.css"><style>'
        "p { font-size: 28pt; break-after: page; }</style></head><body>"
        f'{lines}<p id="tofu">\uffff\uffff\uffff\uffff</p></body></html>'
    )
    pdf = render_pdf(doc_app, html)
    reader = PdfReader(io.BytesIO(pdf))
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("CJK" in name for name in fonts), fonts
    assert any("Thai" in name or "Loma" in name or "Garuda" in name for name in fonts), fonts
    document = pdfium.PdfDocument(pdf)
    for number, sample in enumerate(SCRIPTS.values()):
        assert document[number].get_textpage().get_text_range().strip() == sample
    # Each script is drawn with ink, and differently from the boxes a missing glyph (U+FFFF) gives.
    tofu = _raster(pdf, page=len(SCRIPTS), scale=1).tobytes()
    for number in range(len(SCRIPTS)):
        drawn = _raster(pdf, page=number, scale=1).tobytes()
        assert sum(1 for p in drawn if p < 128) > 150
        assert drawn != tofu


def test_rendering_over_time_is_stopped_with_a_clear_error(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path, PDF_RENDER_SECONDS=0.05)
    big = "<p>" + "Lorem ipsum dolor sit amet. " * 40 + "</p>"
    with pytest.raises(RenderLimitError, match="longer than 0.05 seconds"):
        render_pdf(app, "<html><body>" + big * 2000 + "</body></html>")
    app.extensions["database"].engine.dispose()


def test_rendering_over_memory_is_stopped_with_a_clear_error(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path, PDF_RENDER_MEMORY_MB=700)
    store = app.extensions["attachments"]
    with app.app_context():
        session = app.extensions["database"].session()
        # A one-bit PNG of a few hundred kilobytes that needs hundreds of megabytes once decoded.
        bomb = io.BytesIO()
        Image.new("RGB", (12_000, 12_000), (200, 30, 30)).save(bomb, "PNG", compress_level=1)
        sha = store_attachment(session, store, bomb.getvalue(), "image/png").sha256
        session.commit()
        session.close()
    with pytest.raises(RenderLimitError, match="more than 700 MB"):
        render_pdf(app, f'<img src="attachment:{sha}">', allowed=[sha])
    # The replacement worker renders the next document normally.
    assert _text(render_pdf(app, "<p>after</p>"))[0].strip() == "after"
    app.extensions["database"].engine.dispose()
