"""Every hostile input of the hardening review ("inputs with no bound"), each named, each answered sanely.

The list, in the review's order (the test named after each input shows the answer it gets):
  note_4000_characters, note_2800_rtl_characters, note_2800_zero_width_characters   pack renders, text shown
  policy_5000_one_line_rules, concurrent_editor_checks, abandoned_check              linear, capped, stopped
  set_deadline_600000_weeks (checker and an old published policy), amount and percent over range
  reason_2_mb and every other free-text field, bidi_override_in_a_note               limit, visible markers
  amount_1e30 (coupon, partial refund, percent), deadline hours sNaN, 1e999999 filter 422 / ignored
  tampered_cursor on every paginated page and the API                                400 with a sentence, JSON
  png_13000_by_13000, fake_pdf, fake_mp4, nul_in_filename                            refused or cleaned
  webhook: numbers_for_lists, year_9999_with_offset, year_0001_with_offset, deep_nesting, utf16_body,
           chunked_5_mb_body                                                         400 / 413, never 500
  formula_in_carrier_name (analytics CSV), export over the size limit, exports at once
  attachment store full or unwritable (pages and API)                                503 naming the store
  evidence_pack_by_get                                                               no pack, no audit entry

Each test above fails on the code before this hardening. The `test_guard_*` tests at the end, and
`test_real_pdfs_and_videos_still_get_in` and `test_tiktok_unsigned_32_mb_body_is_not_read`, are inputs
that already held and must keep holding (NaN and Infinity amounts, a declared 32 MB body).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import io
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, publish_policy, shop_with_market
from support.marketplace import envelope, marketplace_app, post_signed
from test_analytics import ARGS, shop  # noqa: F401  (the analytics shop fixture)
from test_documents_data import build_case, sqlite_app

import rules
from portal.documents.evidence import render_evidence_pack
from portal.domain import events
from portal.domain import operations as ops
from portal.domain.enums import CaseStatus, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import (
    AuditEntry,
    Case,
    CaseEvent,
    Deadline,
    EvidenceItem,
    Job,
    MarketplaceEvent,
    Refund,
    Shipment,
)
from portal.pagination import keyset_page

# ---- evidence packs whatever the text -------------------------------------------------------------

HOSTILE_NOTES = {
    "note_4000_characters": "x" * 4000,
    "note_2800_rtl_characters": "\u202e" + "\u05e9\u05dc\u05d5\u05dd" * 700,
    "note_2800_zero_width_characters": "a\u200b" * 1400,
}


@pytest.fixture(scope="module")
def pack_app() -> Iterator[Flask]:
    # Bounded like production, but tighter: the pack must finish well inside this, not after minutes.
    app = sqlite_app(Path(tempfile.mkdtemp(prefix="hostile-packs-")), PDF_RENDER_SECONDS=40.0)
    with app.app_context(), force_locale("en"):
        yield app


@pytest.mark.parametrize("name", list(HOSTILE_NOTES))
def test_evidence_pack_renders_whatever_the_note(pack_app: Flask, name: str) -> None:
    session = pack_app.extensions["database"].session()
    store = pack_app.extensions["attachments"]
    case = build_case(session, store, number=f"AS-N{list(HOSTILE_NOTES).index(name):05d}", photos=1)
    ops.add_note(session, case, Actor.system("ops@example.test"), HOSTILE_NOTES[name])
    session.commit()
    pack = render_evidence_pack(session, store, case)
    session.rollback()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pack.pdf)).pages)
    if name != "note_4000_characters":
        # Hidden formatting characters are shown, not obeyed.
        assert "U+202E" in text or "U+200B" in text
    assert "x" * 20 in text or "שלום" in text or "a" in text


def test_pack_stylesheet_no_longer_breaks_at_every_character() -> None:
    css = (Path(__file__).parent.parent / "portal/static/pdf/evidence.css").read_text()
    assert "break-all" not in css.split("*/")[-1]


# ---- the policy checker -----------------------------------------------------------------------------


def test_policy_5000_one_line_rules_check_within_the_budget() -> None:
    from rules.budget import Budget

    text = "\n".join(f"if value < {i} then refund_without_return" for i in range(4_999))
    found = rules.check(text, Budget(seconds=30))
    assert [d.code for d in found if d.severity == "error"] == []


@pytest.fixture
def editable(db: Session) -> Any:
    from portal.domain.models import Policy

    _shop, market = shop_with_market(db)
    policy = Policy(name="US policy", market_id=market.id)
    db.add(policy)
    db.commit()
    return policy


def test_concurrent_editor_checks_are_capped_per_user(
    app: Flask, editable: Any, users: Any, login: Callable[[Role], FlaskClient]
) -> None:
    from portal.policies import check_slots

    ops_client = login(Role.OPS_MANAGER)
    token = csrf_token(ops_client, f"/policies/{editable.id}/edit")
    holder = users[Role.OPS_MANAGER]
    with app.test_request_context(), check_slots.check_slot(holder.id), check_slots.check_slot(holder.id):
        busy = ops_client.post(
            f"/policies/{editable.id}/check",
            data={"csrf_token": token, "text": "if value < 3 then refund"},
            headers={"HX-Request": "true"},
        )
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
    assert "You already have 2 policy checks running" in busy.get_data(as_text=True)
    free = ops_client.post(
        f"/policies/{editable.id}/check",
        data={"csrf_token": token, "text": "if value < 3 then refund"},
        headers={"HX-Request": "true"},
    )
    assert free.status_code == 200


def test_abandoned_check_stops_when_the_client_has_gone() -> None:
    import socket

    from portal.policies import check_slots
    from rules.budget import Budget

    ours, theirs = socket.socketpair()
    try:
        assert not check_slots.client_gone(ours)
        theirs.close()
        assert check_slots.client_gone(ours)
        text = "\n".join(f"if value < {i} then refund" for i in range(500))
        found = rules.check(text, Budget(None, cancelled=lambda: check_slots.client_gone(ours)))
        assert [d.code for d in found] == ["limit.cancelled"]
    finally:
        ours.close()


def test_editor_check_over_its_time_budget_says_so(
    app: Flask, editable: Any, login: Callable[[Role], FlaskClient]
) -> None:
    app.config["POLICY_CHECK_SECONDS"] = 0.0
    client = login(Role.OPS_MANAGER)
    token = csrf_token(client, f"/policies/{editable.id}/edit")
    text = "\n".join(f"if value < {i} then refund" for i in range(200))
    response = client.post(
        f"/policies/{editable.id}/check",
        data={"csrf_token": token, "text": text},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "took longer than 0 seconds and was stopped" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "action, english",
    [
        ('set_deadline "x" 600000 weeks', "at most 366 days"),
        ("coupon 2000000", "at most 1,000,000"),
    ],
)
def test_policy_arguments_out_of_range_are_errors(action: str, english: str) -> None:
    errors = [d for d in rules.check(f"if value > 1 then {action}") if d.severity == "error"]
    assert len(errors) == 1 and english in errors[0].message


def test_published_policy_with_set_deadline_600000_weeks_does_not_break_new_cases(db: Session) -> None:
    _shop, market = shop_with_market(db)
    # Published before the checker bounded durations: the text is stored as it was.
    publish_policy(db, 'if value > 0 then set_deadline "x" 600000 weeks', market=market)
    case = make_case(db, market, number="AS-WEEKS")
    db.flush()
    events.handle_event(db, case, "case_opened")
    db.commit()
    # Nobody decides with a policy that no longer passes the checker: a person does.
    assert db.scalars(select(Deadline).where(Deadline.case_id == case.id, Deadline.name == "x")).all() == []
    kinds = db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
    assert "deadline_set" not in kinds


def test_set_deadline_600000_weeks_is_refused_by_the_operation_too(db: Session) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-WEEKS2")
    db.flush()
    with pytest.raises(ops.LifecycleError) as refused:
        ops.set_deadline(db, case, Actor.system(), "x", 600_000 * 604_800)
    assert "at most 366 days" in str(refused.value)


# ---- free text ----------------------------------------------------------------------------------


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


@pytest.fixture
def case(db: Session) -> Case:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    case = make_case(db, market, number="AS-HOST", status=CaseStatus.IN_REVIEW, value="48.00")
    db.commit()
    return case


def _post(client: FlaskClient, case: Case, url: str, **data: str) -> Any:
    token = csrf_token(client, f"/cases/{case.number}")
    return client.post(
        url, data={"csrf_token": token, "version": str(case.version), "confirmed": "1", **data}
    )


def _audit_count(db: Session) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.mark.parametrize(
    "url, field, size, message",
    [
        ("/cases/AS-HOST/do/reject", "reason", 2 * 1024 * 1024, "The reason is 2,097,152 characters long"),
        ("/cases/AS-HOST/note", "note", 4001, "The note is 4,001 characters long; at most 4,000"),
        ("/cases/AS-HOST/do/coupon", "reason", 201, "The reason is 201 characters long; at most 200"),
        ("/cases/AS-HOST/tag", "tag", 41, "The tag is 41 characters long"),
        ("/cases/AS-HOST/assign", "queue", 41, "The queue name is 41 characters long"),
    ],
)
def test_reason_2_mb_and_every_text_field_has_a_limit(
    agent: FlaskClient, case: Case, db: Session, url: str, field: str, size: int, message: str
) -> None:
    before = _audit_count(db)
    data = {field: "r" * size}
    if url.endswith("coupon"):
        data["amount"] = "5"
    response = _post(agent, case, url, **data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _audit_count(db) == before
    db.expire_all()
    assert db.scalar(select(Case.status).where(Case.number == "AS-HOST")) == CaseStatus.IN_REVIEW


def test_carrier_and_tracking_fields_have_limits(db: Session, case: Case) -> None:
    actor = Actor.system()
    ops.approve_return(db, case, actor)
    db.commit()
    for carrier, tracking, message in (
        ("C" * 41, "1Z", "The carrier name is 41 characters long"),
        ("UPS", "9" * 65, "The tracking number is 65 characters long"),
    ):
        with pytest.raises(ops.LifecycleError) as refused:
            ops.mark_return_shipped(db, case, actor, carrier, tracking)
        assert message in str(refused.value)
        db.rollback()


def test_bidi_override_in_a_note_is_shown_not_obeyed(agent: FlaskClient, case: Case) -> None:
    assert _post(agent, case, "/cases/AS-HOST/note", note="refund \u202egnp.exe\u200b ok").status_code == 302
    page = agent.get("/cases/AS-HOST").get_data(as_text=True)
    assert "refund ⟨U+202E⟩gnp.exe⟨U+200B⟩ ok" in page and "\u202e" not in page


# ---- amounts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation, amount, message",
    [
        ("coupon", "1e30", "The amount must be at most 1,000,000."),
        ("partial_refund", "1e30", "The amount must be at most 1,000,000."),
        ("partial_refund", "1e30%", "The amount must be at most 1,000,000."),
        ("partial_refund", "250%", "A share must be more than 0% and at most 100%."),
    ],
)
def test_amount_1e30_nan_and_infinity_are_422(
    agent: FlaskClient, case: Case, db: Session, operation: str, amount: str, message: str
) -> None:
    response = _post(agent, case, f"/cases/AS-HOST/do/{operation}", amount=amount)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Refund)) == 0


@pytest.mark.parametrize("hours", ["sNaN", "NaN", "Infinity", "1e30", "9" * 40, "1e999999 d"])
def test_deadline_hours_nan_infinity_and_1e30_are_422(
    db: Session, login: Callable[[Role], FlaskClient], hours: str
) -> None:
    from portal.domain.models import DeadlineSetting

    client = login(Role.ADMIN)
    token = csrf_token(client, "/settings/deadlines")
    response = client.post(
        "/settings/deadlines",
        data={
            "csrf_token": token,
            "name": "review_target",
            "market": "",
            "case_type": "",
            "hours": hours,
            "clock": "business",
        },
    )
    assert response.status_code == 422
    assert db.scalar(select(DeadlineSetting)) is None


@pytest.mark.parametrize("value", ["1e999999", "9" * 40])
def test_queue_value_filter_1e30_and_friends_are_ignored(agent: FlaskClient, case: Case, value: str) -> None:
    response = agent.get(f"/cases?status=all&value_min={value}&value_max={value}")
    assert response.status_code == 200 and "AS-HOST" in response.get_data(as_text=True)


# ---- tampered pagination cursors -------------------------------------------------------------------

TAMPERED = [
    "not-a-cursor!!",
    base64.urlsafe_b64encode(b'[{"t": "0001-01-01T00:00:00+05:00"}, 1]').decode().rstrip("="),
    base64.urlsafe_b64encode(b'[{"t": "9999-12-31T23:00:00-05:00"}, 1]').decode().rstrip("="),
    base64.urlsafe_b64encode(b'["yesterday", "x"]').decode().rstrip("="),
    base64.urlsafe_b64encode(b"[1e999, 99999999999999999999999]").decode().rstrip("="),
    base64.urlsafe_b64encode(b"[" * 5000).decode().rstrip("="),
    base64.urlsafe_b64encode(b'{"d": "NaN"}').decode().rstrip("="),
]

PAGES = [
    (Role.CS_AGENT, "/cases?after="),
    (Role.CS_AGENT, "/cases?sort=value&after="),
    (Role.AUDITOR, "/audit?after="),
    (Role.AUDITOR, "/audit/cases?after="),
    (Role.OPS_MANAGER, "/imports?after="),
    (Role.ADMIN, "/admin/marketplace?after="),
]


@pytest.mark.parametrize("cursor", TAMPERED)
def test_tampered_cursor_on_every_paginated_page_is_400(
    app: Flask, users: Any, login: Callable[[Role], FlaskClient], cursor: str
) -> None:
    for role, url in PAGES:
        response = login(role).get(url + cursor)
        assert response.status_code == 400, url
        assert "Start again from the first page." in response.get_data(as_text=True), url


def test_tampered_cursor_in_the_api_is_json(app: Flask, db: Session, users: Any) -> None:
    from portal.domain.api_tokens import create_token

    secret = create_token(db, "hostile", Role.CS_AGENT).secret
    db.commit()
    client = app.test_client()
    for cursor in TAMPERED[1:]:
        response = client.get(f"/api/v1/cases?cursor={cursor}", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code in (400, 422) and response.is_json, cursor
        assert response.get_json()["error"]["message"]


def test_cursor_decoding_rejects_values_of_the_wrong_type(db: Session) -> None:
    from portal.pagination import BadCursor

    with pytest.raises(BadCursor):
        keyset_page(db, select(Case), [(Case.opened_at, True), (Case.id, True)], TAMPERED[3], 10)


# ---- uploads ------------------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def _mp4() -> bytes:
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    moov = b"\x00\x00\x00\x08moov"
    mdat = b"\x00\x00\x00\x10mdat" + b"\x00" * 8
    return ftyp + moov + mdat


def _pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload(client: FlaskClient, case: Case, payload: bytes, name: str, kind: str) -> Any:
    token = csrf_token(client, f"/cases/{case.number}")
    return client.post(
        f"/cases/{case.number}/evidence",
        data={
            "csrf_token": token,
            "version": str(case.version),
            "kind": kind,
            "file": (io.BytesIO(payload), name),
        },
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "name, payload, kind, message",
    [
        (
            "png_13000_by_13000.png",
            _png(13_000, 13_000),
            "photo",
            "13000 × 13000 pixels; at most 40 megapixels",
        ),
        (
            "fake_pdf.pdf",
            b"%PDF-1.4\n<html><script>alert(1)</script></html>",
            "document",
            "The PDF is damaged or not really a PDF.",
        ),
        (
            "fake_mp4.mp4",
            b"\x00\x00\x00\x18ftypmp42<html>not a video</html>",
            "video",
            "The video is damaged or not really a video.",
        ),
        (
            "mp4_without_moov.mp4",
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
            "video",
            "The video is damaged or not really a video.",
        ),
    ],
)
def test_hostile_uploads_are_refused_by_structure(
    agent: FlaskClient, case: Case, db: Session, name: str, payload: bytes, kind: str, message: str
) -> None:
    response = _upload(agent, case, payload, name, kind)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert db.scalars(select(EvidenceItem)).all() == []


@pytest.mark.parametrize(
    "name, payload, kind", [("real.pdf", _pdf(), "document"), ("real.mp4", _mp4(), "video")]
)
def test_real_pdfs_and_videos_still_get_in(
    agent: FlaskClient, case: Case, db: Session, name: str, payload: bytes, kind: str
) -> None:
    assert _upload(agent, case, payload, name, kind).status_code == 302
    assert len(db.scalars(select(EvidenceItem)).all()) == 1


def test_nul_in_filename_is_cleaned_and_breaks_no_download(
    agent: FlaskClient, case: Case, db: Session, app: Flask
) -> None:
    picture = _png(8, 8)
    assert _upload(agent, case, picture, "ok.png", "photo").status_code == 302
    db.expire_all()
    case = db.scalar(select(Case).where(Case.number == "AS-HOST"))
    second = _upload(agent, case, picture, "evil\x00name\x07\u202e.png", "photo")
    assert second.status_code == 302, re.findall(r'id="action-error">([^<]*)', second.get_data(as_text=True))
    items = db.scalars(select(EvidenceItem).order_by(EvidenceItem.id)).all()
    assert [i.filename for i in items] == ["ok.png", "evilname.png"]
    # A name stored before uploads were cleaned still downloads (and so do the other items of its hash).
    # PostgreSQL never stored a NUL (the insert failed); a newline breaks a header the same way.
    sqlite = db.get_bind().dialect.name == "sqlite"
    items[0].filename = "old\x00name\n.png" if sqlite else "old\nname.png"
    db.commit()
    response = agent.get(f"/evidence/{items[0].sha256}")
    disposition = response.headers["Content-Disposition"]
    assert response.status_code == 200 and ("oldname.png" in disposition or "evilname.png" in disposition)
    assert not any(ord(ch) < 32 for ch in disposition)


# ---- webhooks -----------------------------------------------------------------------------------

AFTERSHIP_SECRET = "as-secret"
SEVENTEEN_KEY = "17-key"


@pytest.fixture
def hooks(app: Flask) -> FlaskClient:
    app.config["AFTERSHIP_WEBHOOK_SECRET"] = AFTERSHIP_SECRET
    app.config["SEVENTEENTRACK_API_KEY"] = SEVENTEEN_KEY
    return app.test_client()


def _aftership(client: FlaskClient, body: bytes) -> Any:
    signature = base64.b64encode(hmac.new(AFTERSHIP_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        "/webhooks/aftership",
        data=body,
        headers={"aftership-hmac-sha256": signature},
        content_type="application/json",
    )


def _seventeen(client: FlaskClient, body: bytes) -> Any:
    signature = hashlib.sha256(body + b"/" + SEVENTEEN_KEY.encode()).hexdigest()
    return client.post(
        "/webhooks/17track", data=body, headers={"sign": signature}, content_type="application/json"
    )


def _msg(**fields: Any) -> dict[str, Any]:
    return {"event": "tracking_update", "msg": {"tracking_number": "1Z999", "slug": "ups", **fields}}


def _seventeen_doc(events: Any = None, providers: Any = None) -> dict[str, Any]:
    tracking = {"providers": providers if providers is not None else [{"events": events}]}
    return {"event": "TRACKING_UPDATED", "data": {"number": "1Z999", "track_info": {"tracking": tracking}}}


def _deep(levels: int) -> bytes:
    return b'{"event": "tracking_update", "msg": ' + b"[" * levels + b"]" * levels + b"}"


WEBHOOK_BODIES = {
    "aftership_numbers_for_lists": (_aftership, json.dumps(_msg(checkpoints=5)).encode()),
    "aftership_year_9999_with_offset": (
        _aftership,
        json.dumps(
            _msg(checkpoints=[{"tag": "InTransit", "checkpoint_time": "9999-12-31T23:59:59-05:00"}])
        ).encode(),
    ),
    "aftership_year_0001_with_offset": (
        _aftership,
        json.dumps(
            _msg(checkpoints=[{"tag": "InTransit", "checkpoint_time": "0001-01-01T00:00:00+05:00"}])
        ).encode(),
    ),
    "aftership_deep_nesting": (_aftership, _deep(100_000)),
    "aftership_moderate_nesting": (_aftership, _deep(40)),
    "aftership_utf16_body": (_aftership, json.dumps(_msg()).encode("utf-16")),
    "17track_numbers_for_lists": (_seventeen, json.dumps(_seventeen_doc(providers=7)).encode()),
    "17track_events_a_number": (_seventeen, json.dumps(_seventeen_doc(events=3)).encode()),
    "17track_year_9999_with_offset": (
        _seventeen,
        json.dumps(
            _seventeen_doc(events=[{"stage": "InTransit", "time_iso": "9999-12-31T23:59:59-05:00"}])
        ).encode(),
    ),
    "17track_utf16_body": (_seventeen, json.dumps(_seventeen_doc(events=[])).encode("utf-16-le")),
}


@pytest.mark.parametrize("name", list(WEBHOOK_BODIES))
def test_carrier_webhook_wrong_shapes_are_400_not_500(hooks: FlaskClient, db: Session, name: str) -> None:
    send, body = WEBHOOK_BODIES[name]
    response = send(hooks, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "unreadable payload" in response.get_json()["error"]
    assert db.scalar(select(func.count()).select_from(Shipment)) == 0


class _CountingStream(io.BytesIO):
    """A request body that counts what the server read of it."""

    def __init__(self, size: int) -> None:
        super().__init__(b" " * size)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        n = super().readinto(buffer)
        self.read_bytes += n
        return n

    def readline(self, size: int | None = -1) -> bytes:
        data = super().readline(size)
        self.read_bytes += len(data)
        return data


@pytest.fixture
def tiktok(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = marketplace_app(database_url, tmp_path)
    yield application
    application.extensions["database"].engine.dispose()


def test_tiktok_chunked_5_mb_body_is_refused_after_reading_the_limit(tiktok: Flask) -> None:
    from portal.intake.views import MAX_NOTIFICATION_BYTES

    stream = _CountingStream(5 * 1024 * 1024)
    response = tiktok.test_client().post(
        "/webhooks/tiktok-shop",
        input_stream=stream,
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert stream.read_bytes <= MAX_NOTIFICATION_BYTES + 1
    with tiktok.app_context():
        session = tiktok.extensions["database"].session()
        assert session.scalar(select(func.count()).select_from(MarketplaceEvent)) == 0
        session.close()


def test_tiktok_unsigned_32_mb_body_is_not_read(tiktok: Flask) -> None:
    stream = _CountingStream(32 * 1024 * 1024)
    response = tiktok.test_client().post(
        "/webhooks/tiktok-shop",
        input_stream=stream,
        content_length=32 * 1024 * 1024,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413 and stream.read_bytes == 0


@pytest.mark.parametrize(
    "name, body",
    [
        ("utf16_body", envelope(1, {"order_id": "1"}, "shop-x").decode().encode("utf-16")),
        (
            "deep_nesting",
            b'{"type": 1, "tts_notification_id": "n", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        ),
    ],
)
def test_tiktok_unreadable_bodies_are_400(tiktok: Flask, name: str, body: bytes) -> None:
    response = post_signed(tiktok.test_client(), body)
    assert response.status_code == 400, response.get_data(as_text=True)


# ---- CSV exports --------------------------------------------------------------------------------


def test_formula_in_carrier_name_is_neutralised_in_analytics_csv(
    shop: Any,  # noqa: F811
    db: Session,
    login: Callable[[Role], FlaskClient],
) -> None:
    from portal.domain import analytics_build

    parcel = db.scalars(select(Shipment).where(Shipment.carrier == "UPS")).one()
    parcel.carrier = "=cmd|' /C calc'!A0"
    db.commit()
    analytics_build.refresh_dirty(db)
    body = login(Role.AUDITOR).get(f"/analytics/carriers.csv?{ARGS}").get_data(as_text=True)
    lines = body.lstrip("\ufeff").splitlines()
    assert any(line.startswith("\"'=cmd|' /C calc'!A0\"") or line.startswith("'=cmd") for line in lines), (
        lines
    )
    assert not any(line.startswith("=") for line in lines)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised(value: str) -> None:
    from portal.csv_export import SafeWriter

    out = io.StringIO()
    SafeWriter(out).writerow([value, "-12.50", 3])
    assert out.getvalue().splitlines()[0].split(",")[0].strip('"').startswith("'")
    assert ",-12.50,3" in out.getvalue()


# ---- exports and storage ------------------------------------------------------------------------


def _export(client: FlaskClient) -> Any:
    return client.post(
        "/audit/exports",
        data={
            "csrf_token": csrf_token(client, "/audit/exports"),
            "date_from": "2000-01-01",
            "date_to": "2100-12-31",
        },
    )


def test_export_over_the_size_limit_is_refused(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db)
    for n in range(3):
        make_case(db, market, number=f"AS-EXP{n}")
    db.commit()
    app.config["EXPORT_MAX_CASES"] = 2
    response = _export(login(Role.AUDITOR))
    assert response.status_code == 422
    assert "These filters match 3 cases; one export holds at most 2." in response.get_data(as_text=True)
    assert db.scalars(select(Job)).all() == []


def test_exports_at_once_are_capped(app: Flask, db: Session, login: Callable[[Role], FlaskClient]) -> None:
    from portal.domain.types import utcnow

    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-EXPA")
    for _ in range(2):
        db.add(Job(kind="evidence_export", params={}, status="running", heartbeat_at=utcnow()))
    db.commit()
    response = _export(login(Role.AUDITOR))
    assert response.status_code == 422
    assert "2 exports are already running" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Job)) == 2


@pytest.mark.parametrize(
    "code, reason", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the portal may not write there")]
)
def test_attachment_store_failure_names_what_failed(
    agent: FlaskClient, case: Case, db: Session, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, "refused")

    token = csrf_token(agent, "/cases/AS-HOST")
    monkeypatch.setattr("portal.domain.attachments.tempfile.mkstemp", refuse)
    response = agent.post(
        "/cases/AS-HOST/evidence",
        data={
            "csrf_token": token,
            "version": str(case.version),
            "kind": "photo",
            "file": (io.BytesIO(_png(8, 8)), "p.png"),
        },
        content_type="multipart/form-data",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "the attachment store (evidence files, PDFs and imported files) could not be written" in text
    assert reason in text
    assert db.scalars(select(EvidenceItem)).all() == []


def test_api_storage_failure_is_json_naming_the_store(
    app: Flask, case: Case, db: Session, users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.domain.api_tokens import create_token

    secret = create_token(db, "hostile-store", Role.CS_AGENT).secret
    db.commit()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("portal.domain.attachments.tempfile.mkstemp", refuse)
    response = app.test_client().post(
        "/api/v1/cases/AS-HOST/evidence",
        data={"file": (io.BytesIO(_png(8, 8)), "p.png"), "kind": "photo"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 503 and response.is_json
    assert "the disk is full" in response.get_json()["error"]["message"]
    assert db.scalars(select(EvidenceItem)).all() == []


def test_export_folder_unwritable_is_said_on_the_form(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-EXPW")
    db.commit()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("portal.documents.views.tempfile.TemporaryFile", refuse)
    response = _export(login(Role.AUDITOR))
    assert response.status_code == 422
    assert "the exports folder could not be written (the disk is full)" in response.get_data(as_text=True)


# ---- evidence packs by GET ----------------------------------------------------------------------


def test_evidence_pack_by_get_writes_nothing(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    build_case(db, app.extensions["attachments"], number="AS-GET01", photos=1)
    db.commit()
    auditor = login(Role.AUDITOR)
    page = auditor.get("/cases/AS-GET01/evidence-pack.pdf")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert 'method="post"' in page.get_data(as_text=True)
    forged = auditor.post("/cases/AS-GET01/evidence-pack.pdf")  # no CSRF token: another site's form
    assert forged.status_code == 400
    db.expire_all()
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "evidence_pack.generated")) is None


# ---- guards: inputs that already held on main and must keep holding -------------------------------


@pytest.mark.parametrize(
    "operation, amount",
    [("coupon", "NaN"), ("coupon", "Infinity"), ("partial_refund", "-Infinity"), ("partial_refund", "NaN%")],
)
def test_guard_non_finite_amounts_stay_422(
    agent: FlaskClient, case: Case, db: Session, operation: str, amount: str
) -> None:
    response = _post(agent, case, f"/cases/AS-HOST/do/{operation}", amount=amount)
    assert response.status_code == 422
    assert "The amount must be more than zero." in response.get_data(as_text=True)


@pytest.mark.parametrize("hours", ["NaN", "Infinity", "-Infinity", "1e30"])
def test_guard_deadline_hours_out_of_range_stay_422(
    db: Session, login: Callable[[Role], FlaskClient], hours: str
) -> None:
    test_deadline_hours_nan_infinity_and_1e30_are_422(db, login, hours)


@pytest.mark.parametrize("value", ["NaN", "-Infinity"])
def test_guard_queue_filters_ignore_non_finite_values(agent: FlaskClient, case: Case, value: str) -> None:
    test_queue_value_filter_1e30_and_friends_are_ignored(agent, case, value)


def test_guard_policy_share_over_100_percent_stays_an_error() -> None:
    errors = [d for d in rules.check("if value > 1 then partial_refund 250%") if d.severity == "error"]
    assert [d.code for d in errors] == ["args.percent_range"]
