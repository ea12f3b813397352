"""Prepaid return labels and what the buyer's instructions say about the label and the insurance."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.wrappers import Response
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market
from weasyprint import HTML

from portal.domain import operations as ops
from portal.domain.conversations import templates
from portal.domain.enums import CaseReason, CaseStatus, ReturnStatus, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import Case, CaseEvent, Market, Message
from portal.domain.returns.labels import MAX_LABEL_BYTES


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


@pytest.fixture
def market(db: Session) -> Market:
    _shop, market = shop_with_market(db)
    db.commit()
    return market


@pytest.fixture(scope="module")
def label_pdf() -> bytes:
    """A one-page carrier label, as a real PDF with text on it."""
    return bytes(HTML(string="<h1>UPS PREPAID RETURN 1Z-LABEL-777</h1>").write_pdf())


def _approved(
    db: Session,
    market: Market,
    number: str,
    *,
    insured: bool | None = None,
    seller_pays: bool = False,
    language: str = "en",
) -> Case:
    reason = CaseReason.DAMAGED if seller_pays else CaseReason.SIZE
    case = make_case(db, market, number=number, status=CaseStatus.IN_REVIEW, reason=reason)
    case.order.return_insurance = insured
    case.buyer.language = language
    ops.approve_return(db, case, Actor.system())
    db.commit()
    return case


def _upload(client: FlaskClient, db: Session, number: str, data: bytes, name: str = "label.pdf") -> Response:
    case = db.scalar(select(Case).where(Case.number == number))
    assert case is not None
    db.expire_all()
    case = db.scalar(select(Case).where(Case.number == number))
    assert case is not None
    return client.post(
        f"/cases/{number}/return-label",
        data={
            "csrf_token": csrf_token(client, f"/cases/{number}"),
            "version": str(case.version),
            "label": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _pages(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


# ---- uploading ------------------------------------------------------------------------------------


def test_label_goes_to_the_buyer_with_the_instructions(
    agent: FlaskClient, db: Session, market: Market, label_pdf: bytes
) -> None:
    _approved(db, market, "AS-LBL1", seller_pays=True)
    before = agent.get("/cases/AS-LBL1/return-instructions.pdf").data
    assert "prepaid label" not in _text(before).lower()

    response = _upload(agent, db, "AS-LBL1", label_pdf, "ups label.pdf")
    assert response.status_code == 302, response.get_data(as_text=True)
    db.expire_all()
    case = db.scalar(select(Case).where(Case.number == "AS-LBL1"))
    assert case is not None
    ret = case.returns[0]
    assert ret.status == ReturnStatus.LABEL_ISSUED and ret.label_name == "ups label.pdf"

    message = db.scalars(
        select(Message).where(Message.case_id == case.id).order_by(Message.id.desc())
    ).first()
    assert message is not None and message.template == "return_label"
    assert "here is the prepaid label for your return" in message.body
    assert "The postage is prepaid" in message.body
    assert message.attachment_name == f"return-instructions-{ret.rma_number}.pdf"
    sent = agent.get(f"/cases/AS-LBL1/messages/{message.id}/attachment").data
    # The instructions, then the label's page: one file to print.
    assert _pages(sent) == _pages(before) + 1
    text = _text(sent)
    assert "Prepaid return label" in text and "1Z-LABEL-777" in text
    assert "use the prepaid label" in text
    # The instructions keep their accessibility tags and language with the label appended.
    root, plain = (PdfReader(io.BytesIO(pdf)).trailer["/Root"] for pdf in (sent, before))
    assert "/StructTreeRoot" in root and root["/Lang"] == plain["/Lang"]

    page = agent.get("/cases/AS-LBL1").get_data(as_text=True)
    assert "Buyer will get one message: Prepaid return label" in page
    assert "Prepaid label added to return" in page and 'id="return-label-link"' in page
    assert agent.get(f"/cases/AS-LBL1/returns/{ret.rma_number}/label.pdf").data == label_pdf


def _locked_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(288, 432)
    writer.encrypt("only-the-carrier-knows")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"0" * 64, "label.png", "A label must be a PDF file"),
        (b"Order,label\n1,2\n", "label.pdf", "A label must be a PDF file"),
        (b"%PDF-1.7\nnot really a pdf at all", "label.pdf", "The PDF is damaged or not really a PDF."),
        (b"%PDF-1.7\n" + b"0" * MAX_LABEL_BYTES, "label.pdf", "a label may be at most 2 MB"),
        (b"", "label.pdf", "The file is empty."),
        (_locked_pdf(), "label.pdf", "The PDF is damaged or not really a PDF."),
    ],
    ids=["png", "text", "fake-pdf", "oversize", "empty", "password"],
)
def test_a_bad_label_is_refused_and_changes_nothing(
    agent: FlaskClient, db: Session, market: Market, data: bytes, name: str, problem: str
) -> None:
    _approved(db, market, "AS-LBL2")
    messages_before = db.scalars(select(Message.id)).all()
    response = _upload(agent, db, "AS-LBL2", data, name)
    assert response.status_code == 422
    assert problem in response.get_data(as_text=True)
    db.expire_all()
    case = db.scalar(select(Case).where(Case.number == "AS-LBL2"))
    assert case is not None
    assert case.returns[0].status == ReturnStatus.APPROVED and case.returns[0].label_sha256 is None
    assert db.scalars(select(Message.id)).all() == messages_before


def test_no_label_without_an_approved_return(
    agent: FlaskClient, db: Session, market: Market, label_pdf: bytes
) -> None:
    make_case(db, market, number="AS-LBL3", status=CaseStatus.IN_REVIEW)
    shipped = _approved(db, market, "AS-LBL4")
    ops.mark_return_shipped(db, shipped, Actor.system(), "UPS", "1ZSHIPPED")
    db.commit()
    for number in ("AS-LBL3", "AS-LBL4"):
        response = _upload(agent, db, number, label_pdf)
        assert response.status_code == 422
        assert "only to an approved return that the buyer has not shipped yet" in response.get_data(
            as_text=True
        )
    assert 'id="return-label-form"' not in agent.get("/cases/AS-LBL4").get_data(as_text=True)
    assert db.scalar(select(CaseEvent).where(CaseEvent.kind == "return_label_added")) is None


def test_only_staff_with_a_csrf_token_add_labels(
    login: Callable[[Role], FlaskClient], db: Session, market: Market, label_pdf: bytes
) -> None:
    _approved(db, market, "AS-LBL5")
    auditor = login(Role.AUDITOR)
    assert _upload(auditor, db, "AS-LBL5", label_pdf).status_code == 403
    agent = login(Role.CS_AGENT)
    no_token = agent.post(
        "/cases/AS-LBL5/return-label",
        data={"label": (io.BytesIO(label_pdf), "label.pdf")},
        content_type="multipart/form-data",
    )
    assert no_token.status_code == 400
    db.expire_all()
    version = db.scalar(select(Case.version).where(Case.number == "AS-LBL5"))
    no_file = agent.post(
        "/cases/AS-LBL5/return-label",
        data={"csrf_token": csrf_token(agent, "/cases/AS-LBL5"), "version": str(version)},
    )
    assert no_file.status_code == 422 and "Choose the label&#39;s PDF file." in no_file.get_data(as_text=True)
    db.expire_all()
    case = db.scalar(select(Case).where(Case.number == "AS-LBL5"))
    assert case is not None and case.returns[0].label_sha256 is None


# ---- what the instructions say ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "insured", "seller_pays", "says", "never"),
    [
        ("en", None, False, "You pay for return shipping.", ["prepaid label", "insurance"]),
        ("en", None, True, "We pay for return shipping: keep the receipt", ["prepaid label", "insurance"]),
        ("en", True, False, "return-shipping insurance covers the postage of this return", ["prepaid label"]),
        ("de", None, True, "Die Kosten der Rücksendung tragen wir", ["vorfrankiert", "Versicherung"]),
        ("de", True, False, "Rücksendeversicherung Ihrer Bestellung übernimmt das Porto", ["vorfrankiert"]),
    ],
)
def test_instructions_without_a_label_never_mention_one(
    agent: FlaskClient,
    db: Session,
    market: Market,
    language: str,
    insured: bool | None,
    seller_pays: bool,
    says: str,
    never: list[str],
) -> None:
    case = _approved(db, market, "AS-TXT1", insured=insured, seller_pays=seller_pays, language=language)
    text = " ".join(_text(agent.get("/cases/AS-TXT1/return-instructions.pdf").data).split())
    assert says in text
    for word in never:
        assert word.lower() not in text.lower()
    message = db.scalars(select(Message).where(Message.case_id == case.id)).first()
    assert message is not None and message.template == "return_approved"
    if insured:
        assert ("covers the postage" if language == "en" else "übernimmt das Porto") in message.body


@pytest.mark.parametrize(
    ("language", "insured", "says"),
    [
        ("en", None, ["Prepaid return label", "The postage is prepaid: use the prepaid label"]),
        ("en", True, ["Prepaid return label", "The postage is prepaid: use the prepaid label"]),
        ("de", True, ["Vorfrankiertes Rücksendeetikett", "Das Porto ist bezahlt"]),
    ],
)
def test_instructions_with_a_label_say_how_to_use_it(
    agent: FlaskClient,
    db: Session,
    market: Market,
    label_pdf: bytes,
    language: str,
    insured: bool | None,
    says: list[str],
) -> None:
    _approved(db, market, "AS-TXT2", insured=insured, language=language)
    assert _upload(agent, db, "AS-TXT2", label_pdf).status_code == 302
    text = " ".join(_text(agent.get("/cases/AS-TXT2/return-instructions.pdf").data).split())
    for phrase in says:
        assert phrase in text
    assert "1Z-LABEL-777" in text


def test_chinese_buyer_texts_for_insurance_and_label(
    app: Flask, db: Session, market: Market, label_pdf: bytes, agent: FlaskClient
) -> None:
    case = _approved(db, market, "AS-TXT3", insured=True, language="zh")
    with app.app_context():
        approved = templates.render(db, case, "return_approved")
    assert "您订单的退货运费险承担本次退货的运费。" in approved.body
    assert _upload(agent, db, "AS-TXT3", label_pdf).status_code == 302
    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-TXT3"))
    assert fresh is not None
    message = db.scalars(
        select(Message).where(Message.case_id == fresh.id).order_by(Message.id.desc())
    ).first()
    assert message is not None and message.language == "zh"
    assert message.subject.startswith("您的退货") and "预付面单" in message.body
    assert "运费已预付" in message.body
