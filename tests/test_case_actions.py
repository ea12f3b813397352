"""Agents work a case through its page: every action is a form, checked against the version they saw."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, CaseType, MessageStatus, RefundKind, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import Case, EvidenceItem, Message, Refund


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


@pytest.fixture
def case(db: Session) -> Case:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    case = make_case(db, market, number="AS-ACT", status=CaseStatus.IN_REVIEW, value="48.00")
    db.commit()
    return case


def _post(client: FlaskClient, url: str, case: Case, **data: str):
    token = csrf_token(client, f"/cases/{case.number}")
    return client.post(url, data={"csrf_token": token, "version": str(case.version), **data})


def test_page_offers_only_the_actions_valid_now(agent: FlaskClient, case: Case) -> None:
    html = agent.get("/cases/AS-ACT").get_data(as_text=True)
    assert "Approve return" in html and "Refund in full" in html
    assert "Mark return received" not in html and "Refund completed" not in html


def test_approve_return_from_the_page(agent: FlaskClient, case: Case, db: Session) -> None:
    response = _post(agent, "/cases/AS-ACT/do/approve_return", case)
    assert response.status_code == 302
    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-ACT"))
    assert fresh.status == CaseStatus.RETURN_APPROVED and fresh.returns[0].rma_number.startswith("RMA-")
    page = agent.get("/cases/AS-ACT").get_data(as_text=True)
    assert fresh.returns[0].rma_number in page and "Mark return received" in page
    assert "Return approved, RMA" in page and "agent@example.test" in page


def test_refund_asks_for_confirmation_first(agent: FlaskClient, case: Case, db: Session) -> None:
    first = _post(agent, "/cases/AS-ACT/do/refund", case)
    html = first.get_data(as_text=True)
    assert (
        first.status_code == 200 and "Please confirm: Refund in full" in html and "$48.00 goes back" in html
    )
    assert db.scalars(select(Refund)).all() == []
    second = _post(agent, "/cases/AS-ACT/do/refund", case, confirmed="1")
    assert second.status_code == 302
    db.expire_all()
    refund = db.scalar(select(Refund))
    assert refund.kind == RefundKind.FULL and str(refund.amount) == "48.00"


def test_refused_action_keeps_what_was_typed(agent: FlaskClient, case: Case, db: Session) -> None:
    response = _post(
        agent,
        "/cases/AS-ACT/do/partial_refund",
        case,
        amount="60",
        reason="scratch on lid",
        _op="partial_refund",
        confirmed="1",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "more than the 48.00 USD left to refund" in html
    assert 'value="scratch on lid"' in html and 'value="60"' in html
    assert db.scalars(select(Refund)).all() == []


def test_two_agents_on_the_same_case(login: Callable[[Role], FlaskClient], case: Case, db: Session) -> None:
    first, second = login(Role.CS_AGENT), login(Role.OPS_MANAGER)
    seen_version = case.version
    token = csrf_token(second, "/cases/AS-ACT")
    assert _post(first, "/cases/AS-ACT/note", case, note="Called the buyer").status_code == 302
    response = second.post(
        "/cases/AS-ACT/note",
        data={"csrf_token": token, "version": str(seen_version), "note": "My own careful note"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Changed by agent@example.test just now." in html
    assert "My own careful note</textarea>" in html  # nothing the second agent typed is lost
    assert "Called the buyer" in html  # and they see the first agent's change
    db.expire_all()
    notes = [
        e.data["text"]
        for e in db.scalar(select(Case).where(Case.number == "AS-ACT")).events
        if e.kind == "note"
    ]
    assert notes == ["Called the buyer"]


def test_reply_from_a_template(agent: FlaskClient, case: Case, db: Session) -> None:
    ops.approve_return(db, case, Actor.system())
    db.commit()
    fragment = agent.get(
        "/cases/AS-ACT/reply-template?template=return_approved", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert fragment.startswith('<div id="reply-body-wrap">') and case.returns[0].rma_number in fragment
    response = _post(
        agent, "/cases/AS-ACT/reply", case, template="return_approved", body="Hi Jordan, label is on the way."
    )
    assert response.status_code == 302
    db.expire_all()
    bodies = [m.body for m in db.scalars(select(Message).where(Message.status == MessageStatus.QUEUED))]
    assert "Hi Jordan, label is on the way." in bodies


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "payload, name, kind, expected",
    [
        (_png(), "scratch.png", "photo", None),
        (b"<html>not an image</html>", "fake.png", "photo", "Only photos"),
        (b"%PDF-1.4 pretend", "receipt.pdf", "photo", "A photo must be an image file."),
        (b"\x89PNG\r\n\x1a\nbroken", "broken.png", "photo", "The image is damaged"),
    ],
)
def test_evidence_upload_is_checked_by_content(
    agent: FlaskClient, case: Case, db: Session, payload: bytes, name: str, kind: str, expected: str | None
) -> None:
    token = csrf_token(agent, "/cases/AS-ACT")
    response = agent.post(
        "/cases/AS-ACT/evidence",
        data={
            "csrf_token": token,
            "version": str(case.version),
            "kind": kind,
            "caption": "lid",
            "file": (io.BytesIO(payload), name),
        },
        content_type="multipart/form-data",
    )
    items = db.scalars(select(EvidenceItem)).all()
    if expected is None:
        assert (
            response.status_code == 302
            and len(items) == 1
            and items[0].attachment.content_type == "image/png"
        )
        page = agent.get("/cases/AS-ACT").get_data(as_text=True)
        assert f"/evidence/{items[0].sha256}" in page and "Evidence added: Photo" in page
    else:
        assert response.status_code == 422 and expected in response.get_data(as_text=True) and items == []


def test_assign_to_an_agent_and_a_queue(agent: FlaskClient, case: Case, db: Session, users) -> None:
    response = _post(
        agent, "/cases/AS-ACT/assign", case, assignee=str(users[Role.CS_AGENT].id), queue="Jewelry"
    )
    assert response.status_code == 302
    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-ACT"))
    assert fresh.assignee_id == users[Role.CS_AGENT].id and fresh.queue == "jewelry"
    bad = _post(agent, "/cases/AS-ACT/assign", fresh, assignee=str(users[Role.AUDITOR].id))
    assert bad.status_code == 422 and "Choose an agent from the list." in bad.get_data(as_text=True)


def test_notes_are_escaped(agent: FlaskClient, case: Case) -> None:
    _post(agent, "/cases/AS-ACT/note", case, note="<script>alert(1)</script>")
    html = agent.get("/cases/AS-ACT").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_inspection_form_runs_the_policy(agent: FlaskClient, db: Session, case: Case) -> None:
    actor = Actor.system()
    ops.approve_return(db, case, actor)
    ops.mark_return_received(db, case, actor)
    db.commit()
    response = _post(
        agent,
        "/cases/AS-ACT/do/record_inspection",
        case,
        result="pass",
        disposition="restock",
        notes="tags on",
    )
    assert response.status_code == 302
    db.expire_all()
    fresh = db.scalar(select(Case).where(Case.number == "AS-ACT"))
    assert fresh.status == CaseStatus.REFUND_PENDING and fresh.refunds[0].kind == RefundKind.FULL
    html = agent.get("/cases/AS-ACT").get_data(as_text=True)
    assert re.search(r"policy v1 line 8 “passed”", html)


def test_unknown_action_is_a_clear_404(agent: FlaskClient, case: Case) -> None:
    response = _post(agent, "/cases/AS-ACT/do/teleport", case)
    assert response.status_code == 404 and "There is no such action." in response.get_data(as_text=True)


def test_auditor_sees_the_case_without_actions(login: Callable[[Role], FlaskClient], case: Case) -> None:
    html = login(Role.AUDITOR).get("/cases/AS-ACT").get_data(as_text=True)
    assert 'id="case-actions"' not in html and 'id="case-work"' not in html


def test_type_specific_actions(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-DF", type=CaseType.DELIVERY_FAILED, status=CaseStatus.IN_REVIEW)
    db.commit()
    html = agent.get("/cases/AS-DF").get_data(as_text=True)
    assert "Request redelivery" in html and "Approve return" not in html


def test_approval_message_carries_the_instructions_pdf(agent: FlaskClient, case: Case, db: Session) -> None:
    assert _post(agent, "/cases/AS-ACT/do/approve_return", case).status_code == 302
    db.expire_all()
    message = db.scalar(select(Message).where(Message.template == "return_approved"))
    assert message.attachment_name.startswith("return-instructions-RMA-") and message.attachment_sha256
    page = agent.get("/cases/AS-ACT").get_data(as_text=True)
    link = f"/cases/AS-ACT/messages/{message.id}/attachment"
    assert link in page
    pdf = agent.get(link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
