"""Buyer conversations: true templates, channels that deliver once, replies that come back to an agent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token, sign_in
from support.factories import make_case, publish_policy, shop_with_market
from support.marketplace import ACCESS_TOKEN, APP_KEY, APP_SECRET, envelope, marketplace_app, post_signed
from support.smtp import smtp_server

from portal.domain import events
from portal.domain import operations as ops
from portal.domain.conversations import inbound, macros, outbox, templates
from portal.domain.conversations.channels import Router
from portal.domain.enums import CaseStatus, DeadlineState, MessageDirection, MessageStatus, Role
from portal.domain.lifecycle import Actor, LifecycleError
from portal.domain.marketplace.processing import process_pending
from portal.domain.models import Case, Deadline, Macro, MarketplaceEvent, Message
from portal.domain.types import utcnow
from portal.simulator.server import SimulatorServer
from portal.simulator.state import MarketplaceState

AGENT = Actor.system("agent@example.test")
SHOP = "7495000000000000002"


@pytest.fixture
def market(db: Session):  # type: ignore[no-untyped-def]
    _, market = shop_with_market(db)
    db.commit()
    return market


def _queued(db: Session, case: Case) -> list[Message]:
    return list(
        db.scalars(
            select(Message)
            .where(Message.case_id == case.id, Message.direction == MessageDirection.OUTBOUND)
            .order_by(Message.id)
        )
    )


# ---- templates that are true --------------------------------------------------------------------------


def test_a_new_case_is_offered_only_true_messages(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    offered = templates.offered(db, case)
    assert "refund_initiated" not in offered and "coupon_issued" not in offered
    assert "return_approved" not in offered and "request_rejected" not in offered
    with pytest.raises(templates.NotTrue):
        templates.render(db, case, "refund_initiated")
    # Asking for evidence needs to know what to ask for.
    with pytest.raises(templates.MissingFacts) as missing:
        templates.render(db, case, "evidence_requested")
    assert missing.value.facts == ["evidence"]


def test_amounts_come_from_the_refund_not_the_order(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW, value="27.99")
    ops.partial_refund(db, case, AGENT, amount=ops.parse_amount("5"))
    body = _queued(db, case)[-1].body
    assert "$5.00" in body and "27.99" not in body
    assert "refund_initiated" in templates.offered(db, case)


def test_approval_message_has_every_fact_filled(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ret = ops.approve_return(db, case, AGENT)
    message = _queued(db, case)[-1]
    assert ret.rma_number in message.body and "  " not in message.body.replace("\n", " ")
    assert message.subject and case.order.external_order_id in message.subject
    assert "()" not in message.body and " by  " not in message.body


def test_a_policy_notify_that_would_be_untrue_is_skipped_and_said(db: Session, market) -> None:
    publish_policy(db, 'if value < 1000 then notify "refund_initiated"', market=market)
    case = make_case(db, market, status=CaseStatus.NEW)
    events.open_case(db, case, AGENT)
    assert _queued(db, case) == []
    skipped = [e for e in case.events if e.kind == "action_skipped"]
    assert skipped and "does not fit this case" in skipped[0].data["reason"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hi {buyer}, refunded {refund_amout}.", "did you mean {refund_amount}?"),
        ("Hi {buyer.__class__}", "Unknown placeholder {buyer.__class__}"),
        ("Hi {buyer", "A lone brace"),
        ("x" * 4001, "longer than 4000"),
    ],
)
def test_a_template_with_a_wrong_placeholder_cannot_be_saved(
    db: Session, market, text: str, expected: str
) -> None:
    with pytest.raises(templates.TemplateError) as error:
        templates.save(db, "refund_initiated", "de", "Erstattung", text, None)
    assert expected in str(error.value)
    assert templates.current_version(db, "refund_initiated", "de") is None
    assert templates.check("")[0].message == "The text is empty."


def test_an_edited_template_overrides_the_default(db: Session, market) -> None:
    body = "Hello {buyer}, {rma} is here. {{thanks}}"
    templates.save(db, "return_received", "en", "Got it: {rma}", body, None)
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ops.approve_return(db, case, AGENT)
    db.commit()  # each a step of its own, as in the portal
    ops.mark_return_shipped(db, case, AGENT)
    ops.mark_return_received(db, case, AGENT)
    message = _queued(db, case)[-1]
    rma = case.returns[-1].rma_number
    assert message.body == f"Hello Jordan M., {rma} is here. {{thanks}}"
    assert message.subject == f"Got it: {rma}"
    # Back to the default: an empty body.
    templates.save(db, "return_received", "en", "", "", None)
    assert templates.texts(db, "return_received", "en")[2] is True


def test_a_reply_with_a_placeholder_left_in_is_refused(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    with pytest.raises(LifecycleError) as error:
        ops.reply(db, case, AGENT, "Your RMA is {rma}.")
    assert "{rma}" in str(error.value)
    with pytest.raises(LifecycleError) as error:
        ops.reply(db, case, AGENT, "Refund done", template="refund_initiated")
    assert "does not fit" in str(error.value)
    assert _queued(db, case) == []


# ---- one message per step ------------------------------------------------------------------------------


def test_received_then_refunded_by_the_policy_is_one_message(db: Session, market) -> None:
    publish_policy(db, "on return_received:\n  if true then refund\n", market=market)
    case = make_case(db, market, status=CaseStatus.IN_REVIEW, value="39.98")
    ops.approve_return(db, case, AGENT)
    ops.mark_return_shipped(db, case, AGENT)
    db.commit()
    before = len(_queued(db, case))
    ops.mark_return_received(db, case, AGENT)
    events.handle_event(db, case, "return_received")
    db.commit()
    new = _queued(db, case)[before:]
    assert len(new) == 1
    assert "$39.98" in new[0].body and "inspect" not in new[0].body
    assert new[0].template == "refund_initiated"


def test_evidence_request_by_any_route_pauses_the_clocks(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ops.request_evidence(db, case, AGENT, "photo")
    db.commit()
    assert case.waiting_for_buyer and case.status == CaseStatus.AWAITING_BUYER
    other = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ops.request_evidence(db, other, AGENT, "video")
    ops.start_review(db, other, AGENT)
    assert not other.waiting_for_buyer
    # An agent's reply from the evidence template asks again, the same way.
    ops.reply(db, other, AGENT, "Please send a video of the zip.", template="evidence_requested")
    assert other.waiting_for_buyer and other.status == CaseStatus.AWAITING_BUYER


# ---- the outbox and its channels --------------------------------------------------------------------


def test_email_reaches_a_real_smtp_server_once(app: Flask, db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    case.buyer.email = "jordan@example.test"
    case.buyer.language = "de"
    with app.app_context():  # as in the portal, where the approval attaches the instructions PDF
        ops.approve_return(db, case, AGENT)
    db.commit()
    factory = app.extensions["database"].sessionmaker
    with smtp_server() as (inbox, port):
        config = {
            "MESSAGE_CHANNEL": "email", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
            "MAIL_FROM": "r@shop.test",
        }
        assert outbox.dispatch(factory, Router(config), app.extensions["attachments"]) == 1
        assert outbox.dispatch(factory, Router(config), app.extensions["attachments"]) == 0
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    rma = case.returns[-1].rma_number
    assert mail["To"].addresses[0].addr_spec == "jordan@example.test"
    assert "genehmigt" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert rma in text and "Rücksendung" in text
    # The return instructions go with it, as a real PDF.
    attachments = list(mail.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["application/pdf"]
    assert attachments[0].get_content().startswith(b"%PDF-")
    db.expire_all()
    sent = _queued(db, case)[-1]
    assert sent.status == MessageStatus.SENT and sent.channel == "email"
    assert sent.external_id == mail["Message-ID"]


def test_the_demo_channel_says_it_sent_nothing(app: Flask, db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ops.reply(db, case, AGENT, "Hello")
    db.commit()
    outbox.dispatch(app.extensions["database"].sessionmaker, Router({}))
    db.expire_all()
    message = _queued(db, case)[-1]
    assert (message.channel, message.status, message.last_error) == (
        "case_record",
        MessageStatus.SENT,
        "not sent: demo channel",
    )


def test_a_failing_channel_backs_off_then_puts_the_case_in_front_of_an_agent(
    app: Flask, db: Session, market
) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    case.buyer.email = "jordan@example.test"
    ops.reply(db, case, AGENT, "Hello")
    db.commit()
    factory = app.extensions["database"].sessionmaker
    # Nothing listens on this port: every attempt fails and is retried later.
    config = {"MESSAGE_CHANNEL": "email", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 9}
    now = utcnow()
    waits = []
    for _ in range(outbox.MAX_ATTEMPTS):
        assert outbox.dispatch(factory, Router(config), now=now) == 0
        db.expire_all()
        message = _queued(db, case)[-1]
        if message.status == MessageStatus.FAILED:
            break
        assert message.status == MessageStatus.QUEUED and message.next_attempt_at > now
        waits.append(message.next_attempt_at - now)
        assert outbox.dispatch(factory, Router(config), now=now) == 0  # not due yet: not claimed
        now = message.next_attempt_at + timedelta(seconds=1)
    assert message.status == MessageStatus.FAILED and message.attempts == outbox.MAX_ATTEMPTS
    assert waits == sorted(waits) and waits[-1] <= outbox.BACKOFF_CAP
    db.refresh(case)
    assert case.delivery_problem and "unreachable" in case.delivery_problem
    assert any(e.kind == "message_failed" for e in case.events)
    # An agent sends it again.
    assert outbox.retry(db, message) and case.delivery_problem is None


def test_two_dispatchers_never_claim_the_same_message(app: Flask, db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    for n in range(5):
        ops.reply(db, case, AGENT, f"Message {n}")
    db.commit()
    factory = app.extensions["database"].sessionmaker
    now = utcnow()
    with factory() as first, factory() as second:
        a = outbox.claim(first, 3, now)
        first.commit()
        b = outbox.claim(second, 10, now)
        second.commit()
    assert len(a) == 3 and len(b) == 2 and not set(a) & set(b)


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(MarketplaceState(shop_id=SHOP), APP_KEY, APP_SECRET, ACCESS_TOKEN).start()
    yield server
    server.stop()


def _marketplace_config(simulator: SimulatorServer) -> dict[str, Any]:
    return {
        "MESSAGE_CHANNEL": "auto",
        "TIKTOK_SHOP_API_URL": simulator.url,
        "TIKTOK_SHOP_APP_KEY": APP_KEY,
        "TIKTOK_SHOP_APP_SECRET": APP_SECRET,
        "TIKTOK_SHOP_ACCESS_TOKEN": ACCESS_TOKEN,
    }


def test_marketplace_chat_gets_each_message_once_even_when_an_answer_is_lost(
    app: Flask, db: Session, market, simulator: SimulatorServer
) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    case.buyer.marketplace_user_id = "u-77"
    ops.approve_return(db, case, AGENT)
    db.commit()
    factory = app.extensions["database"].sessionmaker
    store = app.extensions["attachments"]
    # The platform acts, then the answer is lost: the outbox retries with the same key.
    simulator.state.faults.lose_answer_next = 1
    router = Router(_marketplace_config(simulator))
    router.channels["marketplace"].client.backoff_seconds = 0.01  # type: ignore[attr-defined]
    assert outbox.dispatch(factory, router, store) == 1
    assert outbox.dispatch(factory, Router(_marketplace_config(simulator)), store) == 0
    received = simulator.state.shop_messages()
    assert len(received) == 1
    assert case.returns[-1].rma_number in received[0]["content"]
    db.expire_all()
    message = _queued(db, case)[-1]
    assert message.status == MessageStatus.DELIVERED and message.channel == "marketplace"
    assert db.get(Case, case.id).buyer.conversation_id == received[0]["conversation_id"]
    # A resend with the same key (a crash after sending) is not delivered twice.
    client = router.channels["marketplace"].client  # type: ignore[attr-defined]
    path = f"/customer_service/202309/conversations/{received[0]['conversation_id']}/messages"
    body = {"type": "TEXT", "content": received[0]["content"]}
    client.request("POST", path, {"idempotency_key": message.idempotency_key}, body)
    assert len(simulator.state.shop_messages()) == 1


# ---- replies arrive --------------------------------------------------------------------------------


@pytest.fixture
def portal(database_url: str, tmp_path: Path, simulator: SimulatorServer) -> Iterator[Flask]:
    app = marketplace_app(database_url, tmp_path, **_marketplace_config(simulator))
    yield app
    app.extensions["database"].engine.dispose()


def _waiting_case(portal: Flask, user_id: str = "u-5") -> tuple[str, int]:
    factory = portal.extensions["database"].sessionmaker
    with factory() as db:
        shop, market = shop_with_market(db)
        shop.external_shop_id = SHOP
        policy = 'on buyer_replied:\n  if evidence.photos >= 1 then assign "photos"\n'
        publish_policy(db, policy, market=market)
        case = make_case(db, market, status=CaseStatus.IN_REVIEW)
        case.buyer.marketplace_user_id = user_id
        db.add(
            Deadline(case=case, name="review_target", kind="agent_sla", due_at=utcnow() + timedelta(hours=8),
                     pauses_while_waiting=True)
        )
        db.flush()
        ops.request_evidence(db, case, AGENT, "photo")
        db.commit()
        assert case.waiting_for_buyer
        return case.number, case.id


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(buffer, "PNG")
    return buffer.getvalue()


def test_a_buyer_reply_comes_back_to_the_agent(portal: Flask, simulator: SimulatorServer) -> None:
    number, case_id = _waiting_case(portal)
    state = simulator.state
    web = portal.test_client()
    for body in (
        envelope(14, {**n["data"]}, SHOP, n["tts_notification_id"])
        for n in [state.buyer_writes("u-5", "Here is the photo"), state.buyer_writes("u-5", image=_png())]
    ):
        assert post_signed(web, body).status_code == 200
        assert post_signed(web, body).get_json()["data"]["duplicate"] is True
    # The conversation's own notice (type 13) arrived first in the simulator's queue.
    for pending in state.take_pending():
        post_signed(web, envelope(pending["type"], pending["data"], SHOP, pending["tts_notification_id"]))
    factory = portal.extensions["database"].sessionmaker
    client = Router(portal.config).channels["marketplace"].client  # type: ignore[attr-defined]
    result = process_pending(factory, client, store=portal.extensions["attachments"])
    assert result.failed == 0
    with factory() as db:
        case = db.get(Case, case_id)
        inbound_messages = [m for m in case.messages if m.direction == MessageDirection.INBOUND]
        assert [m.body for m in inbound_messages][:1] == ["Here is the photo"]
        assert len(inbound_messages) == 2 and inbound_messages[1].attachment_sha256
        assert case.status == CaseStatus.IN_REVIEW and not case.waiting_for_buyer
        assert case.unread_messages == 2
        review = next(d for d in case.deadlines if d.name == "review_target")
        assert review.state == DeadlineState.PENDING and review.remaining_seconds is None
        assert case.evidence and case.evidence[-1].source.value == "buyer"
        assert case.queue == "photos"  # the policy's buyer_replied section ran
        assert [e.kind for e in case.events].count("buyer_replied") == 2


@pytest.mark.parametrize(
    "body, signed, status",
    [
        (b'{"type":14,"tts_notification_id":"n1","shop_id":"s","data":{}}', False, 401),
        (b"not json", True, 400),
        (b'{"type":14,"tts_notification_id":"n2","shop_id":"s","data":[]}', True, 400),
    ],
)
def test_a_malformed_or_unsigned_message_notification_changes_nothing(
    portal: Flask, body: bytes, signed: bool, status: int
) -> None:
    web = portal.test_client()
    if signed:
        response = post_signed(web, body)
    else:
        response = web.post("/webhooks/tiktok-shop", data=body, headers={"Authorization": "bad"})
    assert response.status_code == status
    with portal.extensions["database"].sessionmaker() as db:
        assert db.scalar(select(MarketplaceEvent.id)) is None


def test_a_message_on_a_settled_case_reopens_it(db: Session, market) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    case.buyer.conversation_id = "c-1"
    ops.reject(db, case, AGENT, "Outside the window")
    db.commit()
    outcome, case_id = inbound.new_message(
        db,
        {"conversation_id": "c-1", "message_id": "m-1", "type": "TEXT", "content": '{"content":"Why?"}',
         "sender": {"role": "BUYER"}},
        None,
        None,
    )
    assert (outcome, case_id) == ("done", case.id)
    assert case.status == CaseStatus.IN_REVIEW and case.unread_messages == 1
    # The shop's own messages come back through the same notification and are not the buyer's.
    assert inbound.new_message(
        db, {"conversation_id": "c-1", "message_id": "m-2", "sender": {"role": "SHOP"}}, None, None
    ) == ("ignored", None)
    assert inbound.new_message(
        db, {"conversation_id": "c-1", "message_id": "m-1", "sender": {"role": "BUYER"}}, None, None
    ) == ("stale", None)


# ---- macros and the case page -----------------------------------------------------------------------


def test_a_macro_applies_all_its_steps_or_none(db: Session, market) -> None:
    photos = macros.save(db, "Request photos", 'request_evidence "photo"', None)
    approve = macros.save(db, "Approve and refund", "approve_return, refund_without_return", None)
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    db.commit()
    assert {m.name for m in macros.offered(db, case)} == {"Request photos", "Approve and refund"}
    with pytest.raises(LifecycleError) as error:
        macros.apply(db, case, approve, AGENT)
    assert "refund_without_return" in str(error.value)
    db.rollback()
    db.refresh(case)
    assert case.status == CaseStatus.IN_REVIEW and not case.returns
    assert macros.apply(db, case, photos, AGENT) == ["request_evidence"]
    assert case.status == CaseStatus.AWAITING_BUYER and case.waiting_for_buyer
    assert _queued(db, case)[-1].template == "evidence_requested"
    with pytest.raises(macros.MacroError) as invalid:
        macros.save(db, "Broken", "aprove_return", None)
    assert "did you mean `approve_return`" in str(invalid.value)


def _form(client: FlaskClient, number: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, f"/cases/{number}"), **fields}


def test_the_case_page_shows_the_thread_and_marks_replies_seen(
    app: Flask, db: Session, market, users: Any
) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    ops.reply(db, case, AGENT, "Hello from us")
    message = Message(case=case, direction=MessageDirection.INBOUND, status=MessageStatus.RECEIVED,
                      language="en", body="<b>Hello</b> from the buyer", channel="marketplace")
    db.add(message)
    db.flush()
    inbound.buyer_replied(db, case, message)
    db.add(Macro(name="Request photos", actions='request_evidence "photo"', position=0, active=True,
                 created_at=utcnow()))
    db.commit()
    agent = app.test_client()
    sign_in(agent, users[Role.CS_AGENT].email)
    queue = agent.get("/cases?view=replied").get_data(as_text=True)
    assert case.number in queue and "1 new message" in queue
    page = agent.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="case-conversation"' in page and "&lt;b&gt;Hello&lt;/b&gt; from the buyer" in page
    assert "not sent: demo channel" not in page  # queued, not sent yet
    assert "Request photos" in page
    db.expire_all()
    assert db.get(Case, case.id).unread_messages == 0
    version = db.get(Case, case.id).version
    response = agent.post(
        f"/cases/{case.number}/macros/{db.scalar(select(Macro.id))}",
        data=_form(agent, case.number, version=str(version)),
    )
    assert response.status_code == 302
    followed = agent.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Macro “Request photos” applied" in followed and "Evidence requested" in followed


def test_the_preview_names_the_missing_fact(app: Flask, db: Session, market, users: Any) -> None:
    case = make_case(db, market, status=CaseStatus.IN_REVIEW)
    db.commit()
    agent = app.test_client()
    sign_in(agent, users[Role.CS_AGENT].email)
    fragment = agent.get(
        f"/cases/{case.number}/reply-template?template=evidence_requested", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert 'id="template-problem"' in fragment and "{evidence}" in fragment
    response = agent.post(
        f"/cases/{case.number}/reply",
        data=_form(
            agent, case.number, version=str(case.version), template="refund_initiated", body="Refunded!"
        ),
    )
    assert response.status_code == 422 and "does not fit this case" in response.get_data(as_text=True)


def test_the_demo_stream_shows_what_the_shop_wrote_and_buyers_answer() -> None:
    import random

    from portal.simulator.stream import _chat

    state = MarketplaceState(shop_id=SHOP)
    conversation = state.conversation_with("u-1")
    state.shop_sends(conversation["id"], "TEXT", '{"content": "Your RMA is RMA-1"}', "key-1", "f")
    state.take_pending()

    class Always(random.Random):
        def random(self) -> float:
            return 0.0

    seen: set[str] = set()
    lines = _chat(state, Always(), seen)
    assert lines[0].startswith("shop wrote to buyer u-1 (TEXT)") and "RMA-1" in lines[0]
    assert lines[1] == "buyer u-1 answered"
    assert [n["type"] for n in state.take_pending()] == [14]
    assert _chat(state, Always(), seen) == []  # each message is shown once


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:5432/", False),
        ("file:///etc/passwd", False),
        ("http://p16.tiktokcdn.com/img.jpeg", False),  # not over HTTPS
        ("https://p16-oec.tiktokcdn.com/img.jpeg", True),
        ("https://evil.example/tiktokcdn.com.jpeg", False),
    ],
)
def test_a_signed_image_address_is_followed_only_to_the_marketplace(url: str, allowed: bool) -> None:
    from portal.domain.marketplace.client import MarketplaceClient

    client = MarketplaceClient(base_url="http://127.0.0.1:5081", app_key="k", app_secret="s")
    assert inbound.media_url_allowed(url, client) is allowed
    assert inbound.media_url_allowed("http://127.0.0.1:5081/_files/f1", client)


def test_a_large_batch_is_sent_by_several_threads_each_message_once(app: Flask, db: Session, market) -> None:
    cases = [make_case(db, market, status=CaseStatus.IN_REVIEW) for _ in range(6)]
    for n, case in enumerate(cases):
        case.buyer.email = f"buyer{n}@example.test"
        for k in range(5):
            ops.reply(db, case, AGENT, f"Message {k} to buyer {n}")
        db.commit()
    factory = app.extensions["database"].sessionmaker
    with smtp_server() as (inbox, port):
        config = {"MESSAGE_CHANNEL": "email", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port}
        assert outbox.dispatch(factory, Router(config), batch=100) == 30
        assert outbox.dispatch(factory, Router(config)) == 0
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == len(set(ids)) == 30
    # Each buyer's messages arrive in the order they were written.
    for n in range(6):
        bodies = [m.get_body().get_content().strip() for m in inbox.messages
                  if m["To"].addresses[0].addr_spec == f"buyer{n}@example.test"]
        assert bodies == [f"Message {k} to buyer {n}" for k in range(5)]
