"""The case page shows the order, the buyer, the timeline and every record of the case."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain.attachments import store_attachment
from portal.domain.enums import (
    EvidenceKind,
    EvidenceSource,
    MessageDirection,
    MessageStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    Role,
)
from portal.domain.models import CaseEvent, Decision, EvidenceItem, Message, Refund


def test_case_page_shows_everything(app: Flask, login: Callable[[Role], FlaskClient], db: Session) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-SHOW", value="42.00")
    sha = store_attachment(db, app.extensions["attachments"], b"\x89PNG image", "image/png").sha256
    db.add_all(
        [
            EvidenceItem(
                case=case,
                kind=EvidenceKind.PHOTO,
                source=EvidenceSource.BUYER,
                sha256=sha,
                filename="torn.png",
                caption="Torn seam",
            ),
            Message(
                case=case,
                direction=MessageDirection.INBOUND,
                status=MessageStatus.RECEIVED,
                language="de",
                body="Die Naht ist gerissen. <b>bitte</b>",
            ),
            Refund(
                case=case,
                kind=RefundKind.PARTIAL,
                method=RefundMethod.ORIGINAL_PAYMENT,
                status=RefundStatus.COMPLETED,
                amount=Decimal("10.00"),
                currency="USD",
            ),
            Decision(
                case=case,
                event="case_opened",
                rule_line=3,
                rule_name="cheap",
                actions=[{"name": "refund_without_return", "args": []}],
                explanation={"parts": []},
            ),
            CaseEvent(
                case=case,
                kind="status_changed",
                actor_label="policy",
                data={"from": "new", "to": "in_review"},
            ),
        ]
    )
    db.commit()
    html = login(Role.CS_AGENT).get("/cases/AS-SHOW").get_data(as_text=True)
    for expected in [
        "AS-SHOW",
        "Linen shirt",
        "$42.00",
        "Jordan M.",
        "Die Naht ist gerissen. &lt;b&gt;bitte&lt;/b&gt;",
        "$10.00",
        "refund_without_return",
        "rule on line 3",
        "Status changed from New to In review",
        "Delivered, front door",
        f"/evidence/{sha}",
    ]:
        assert expected in html, expected


def test_unknown_case_is_a_404_in_the_layout(login: Callable[[Role], FlaskClient]) -> None:
    response = login(Role.CS_AGENT).get("/cases/AS-NOPE")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "There is nothing at this address" in html and 'class="topbar"' in html


def test_evidence_files_are_served_safely(
    app: Flask, login: Callable[[Role], FlaskClient], db: Session
) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    store = app.extensions["attachments"]
    image = store_attachment(db, store, b"\x89PNG image", "image/png").sha256
    html_file = store_attachment(db, store, b"<script>alert(1)</script>", "text/html").sha256
    orphan = store_attachment(db, store, b"not evidence", "image/png").sha256
    for sha, name in ((image, "a.png"), (html_file, "note.html")):
        db.add(
            EvidenceItem(
                case=case, kind=EvidenceKind.DOCUMENT, source=EvidenceSource.BUYER, sha256=sha, filename=name
            )
        )
    db.commit()
    agent = login(Role.CS_AGENT)
    shown = agent.get(f"/evidence/{image}")
    assert shown.status_code == 200 and shown.mimetype == "image/png"
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    download = agent.get(f"/evidence/{html_file}")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert agent.get(f"/evidence/{orphan}").status_code == 404
    assert agent.get("/evidence/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_image_exhibits_are_shown_as_thumbnails(app: Flask, login: Callable[[Role], FlaskClient],
                                                db: Session) -> None:
    import io

    from PIL import Image

    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-THUMB")
    big = io.BytesIO()
    Image.new("RGB", (1600, 1200), "blue").save(big, "PNG")
    sha = store_attachment(db, app.extensions["attachments"], big.getvalue(), "image/png").sha256
    db.add(EvidenceItem(case=case, kind=EvidenceKind.PHOTO, source=EvidenceSource.BUYER, sha256=sha,
                        filename="big.png"))
    db.commit()
    agent = login(Role.CS_AGENT)
    assert f"/evidence/{sha}/thumbnail" in agent.get("/cases/AS-THUMB").get_data(as_text=True)
    thumb = agent.get(f"/evidence/{sha}/thumbnail")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(thumb.data)) as picture:
        assert max(picture.size) == 192
    assert agent.get(f"/evidence/{'0' * 64}/thumbnail").status_code == 404
