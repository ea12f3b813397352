"""How acting on a case feels: input checked before the confirm box, post/redirect/get with a flash
that says what changed, the case taken by whoever works it, the queue's filters kept, a readable
timeline, and whose evidence it is."""

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

from portal.domain import events, operations
from portal.domain.attachments import AttachmentStore
from portal.domain.backtest import stored_facts
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    EvidenceKind,
    EvidenceSource,
    MessageStatus,
    Role,
)
from portal.domain.evidence import add_evidence
from portal.domain.lifecycle import Actor, record
from portal.domain.models import AuditEntry, Case, Decision, Refund, User

VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


@pytest.fixture
def case(db: Session) -> Case:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    case = make_case(db, market, number="AS-FLOW", status=CaseStatus.IN_REVIEW, value="44.99")
    db.commit()
    return case


def _send(client: FlaskClient, path: str, number: str = "AS-FLOW", **data: str):
    """Post a form of the case page as the browser would, with the token and version the page shows."""
    html = client.get(f"/cases/{number}").get_data(as_text=True)
    version = VERSION.search(html)
    assert version, html[:2000]
    token = csrf_token(client, f"/cases/{number}")
    return client.post(
        f"/cases/{number}/{path}", data={"csrf_token": token, "version": version.group(1), **data}
    )


def _fresh(db: Session, number: str = "AS-FLOW") -> Case:
    db.expire_all()
    found = db.scalar(select(Case).where(Case.number == number))
    assert found is not None
    return found


def _timeline(html: str) -> str:
    start = html.index('id="case-timeline"')
    return html[start : html.index("</section>", start)]


@pytest.mark.parametrize(
    "typed, message",
    [
        ("abc", "“abc” is not an amount."),
        ("999", "A partial refund of 999.00 USD is more than the 44.99 USD left to refund."),
        ("0", "The amount must be more than zero."),
        ("150%", "A share must be more than 0% and at most 100%."),
        ("20%%", "is not an amount"),
        ("1e999999", "The amount must be"),
    ],
)
def test_bad_partial_refund_is_refused_before_the_confirm_box(
    agent: FlaskClient, case: Case, db: Session, typed: str, message: str
) -> None:
    version = case.version
    response = _send(agent, "do/partial_refund", amount=typed, reason="scuffed box", _op="partial_refund")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please confirm" not in html and 'name="confirmed"' not in html
    error = re.search(r'<p class="field-error" role="alert" id="partial_refund-error">([^<]*)</p>', html)
    assert error and message in error.group(1).replace("&#34;", '"')
    assert 'aria-describedby="partial_refund-error"' in html and 'value="scuffed box"' in html
    assert 'id="action-error"' not in html  # said once, by the field
    fresh = _fresh(db)
    assert fresh.version == version and fresh.assignee_id is None
    assert db.scalars(select(Refund)).all() == []


@pytest.mark.parametrize(
    "operation, data, field, message",
    [
        ("coupon", {"amount": "abc"}, "coupon-error", "“abc” is not an amount."),
        ("coupon", {"amount": "50"}, "coupon-error", "A coupon of 50.00 USD is more than the case is worth."),
        ("reject", {"reason": "   "}, "reject-error", "Give the reason the buyer will see."),
    ],
)
def test_other_confirmed_actions_check_their_fields_first(
    agent: FlaskClient,
    case: Case,
    db: Session,
    operation: str,
    data: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = _send(agent, f"do/{operation}", _op=operation, **data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'id="{field}"' in html and message in html
    assert "Please confirm" not in html
    assert _fresh(db).status == CaseStatus.IN_REVIEW and db.scalars(select(Refund)).all() == []


def test_percent_shows_its_amount_then_redirects_with_what_changed(
    agent: FlaskClient, case: Case, db: Session, users: dict[Role, User]
) -> None:
    confirm = _send(agent, "do/partial_refund", amount="20%", reason="scuffed box", _op="partial_refund")
    html = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "Please confirm: Partial refund" in html
    assert "20% of $44.99: $9.00 goes back to the buyer." in html
    assert db.scalars(select(Refund)).all() == []

    done = _send(agent, "do/partial_refund", amount="20%", reason="scuffed box", confirmed="1")
    assert done.status_code == 302 and done.headers["Location"] == "/cases/AS-FLOW"
    page = agent.get(done.headers["Location"]).get_data(as_text=True)
    flash = re.search(r'<p class="flash flash-success">([^<]*)</p>', page)
    assert flash and "Refund of $9.00 sent" in flash.group(1) and "Assigned to Cs Agent" in flash.group(1)
    assert "Done." not in page
    again = agent.get("/cases/AS-FLOW").get_data(as_text=True)  # reloading shows the case, sends nothing
    assert "flash-success" not in again
    refunds = db.scalars(select(Refund)).all()
    assert [str(r.amount) for r in refunds] == ["9.00"]


def test_acting_on_an_unassigned_case_takes_it_and_is_audited(
    agent: FlaskClient, case: Case, db: Session, users: dict[Role, User]
) -> None:
    assert _send(agent, "note", note="Called the buyer").status_code == 302
    assert _fresh(db).assignee_id is None  # a note is not taking the case
    assert _send(agent, "do/approve_return").status_code == 302
    me = users[Role.CS_AGENT]
    fresh = _fresh(db)
    assert fresh.assignee_id == me.id and fresh.status == CaseStatus.RETURN_APPROVED
    assigned = [e for e in fresh.events if e.kind == "assigned"]
    assert len(assigned) == 1 and assigned[0].data == {"to": "Cs Agent"} and assigned[0].actor_id == me.id
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "case.assigned", AuditEntry.entity_id == "AS-FLOW")
    ).all()
    assert [(e.actor_id, e.details) for e in entries] == [(me.id, {"kind": "assigned", "to": "Cs Agent"})]


def test_a_case_someone_has_stays_theirs(
    agent: FlaskClient, case: Case, db: Session, users: dict[Role, User]
) -> None:
    owner = users[Role.OPS_MANAGER]
    operations.assign_to(db, case, Actor.system(), owner)
    db.commit()
    assert _send(agent, "do/approve_return").status_code == 302
    assert _fresh(db).assignee_id == owner.id


@pytest.mark.parametrize(
    "path, data, said",
    [
        ("do/approve_return", {}, "Return approved, RMA RMA-US-"),
        ("do/request_evidence", {"kind": "photo"}, "Asked the buyer for a Photo"),
        ("do/escalate", {}, "Escalated to the senior queue"),
        ("note", {"note": "Called the buyer"}, "Note added."),
        ("tag", {"tag": "VIP buyer"}, "Tagged vip_buyer"),
        (
            "assign",
            {"assignee": "OPS", "queue": "returns"},
            "Assigned to Ops Manager · Moved to queue returns",
        ),
    ],
)
def test_each_action_says_what_it_changed(
    agent: FlaskClient, case: Case, users: dict[Role, User], path: str, data: dict[str, str], said: str
) -> None:
    if data.get("assignee") == "OPS":
        data = {**data, "assignee": str(users[Role.OPS_MANAGER].id)}
    response = _send(agent, path, **data)
    assert response.status_code == 302 and response.headers["Location"] == "/cases/AS-FLOW"
    flash = re.search(
        r'<p class="flash flash-success">([^<]*)</p>', agent.get("/cases/AS-FLOW").get_data(as_text=True)
    )
    assert flash and said in flash.group(1).replace("&amp;", "&"), flash and flash.group(1)


def test_the_queue_filters_survive_the_case_page_and_the_bulk_pages(
    agent: FlaskClient, case: Case, db: Session, users: dict[Role, User]
) -> None:
    assert agent.get("/cases?view=mine&market=US&sort=newest").status_code == 200
    agent.get("/cases?view=mine&market=US&sort=newest&shown=40")  # the list refreshing itself
    back = "/cases?market=US&amp;sort=newest&amp;view=mine"
    page = agent.get("/cases/AS-FLOW").get_data(as_text=True)
    assert f'<nav class="crumbs"><a href="{back}">' in page

    token = csrf_token(agent, "/cases/AS-FLOW")
    form = {
        "csrf_token": token,
        "action": "assign",
        "case": ["AS-FLOW"],
        "assignee": str(users[Role.CS_AGENT].id),
    }
    confirm = agent.post("/cases/bulk", data=form).get_data(as_text=True)
    assert "Apply to 1 case?" in confirm and f'<a href="{back}">Cancel</a>' in confirm
    assert f'<nav class="crumbs"><a href="{back}">' in confirm
    applied = agent.post("/cases/bulk", data={**form, "confirmed": "1"})
    assert (
        applied.status_code == 302 and applied.headers["Location"] == "/cases?market=US&sort=newest&view=mine"
    )
    queue = agent.get(applied.headers["Location"]).get_data(as_text=True)
    assert "Assigned 1 case to Cs Agent." in queue
    assert _fresh(db).assignee_id == users[Role.CS_AGENT].id


def test_only_the_queue_filters_are_remembered(agent: FlaskClient, case: Case) -> None:
    agent.get("/cases?view=mine&padding=" + "x" * 3000 + "&q=" + "y" * 500)
    page = agent.get("/cases/AS-FLOW").get_data(as_text=True)
    assert f'<nav class="crumbs"><a href="/cases?q={"y" * 100}&amp;view=mine">' in page


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "assign", "assignee": ""}, "Choose the agent to assign the cases to."),
        ({"action": "assign", "assignee": "99999"}, "Choose the agent to assign the cases to."),
        ({"action": "add_tag", "tag": "  "}, "Type the tag to add."),
        ({"action": "request_evidence", "kind": "selfie"}, "Ask for a photo, a video or a document."),
    ],
)
def test_bulk_choices_are_checked_before_confirming(
    agent: FlaskClient, case: Case, db: Session, data: dict[str, str], message: str
) -> None:
    token = csrf_token(agent, "/cases/AS-FLOW")
    agent.get("/cases?queue=returns")
    for confirmed in ("", "1"):
        response = agent.post(
            "/cases/bulk", data={"csrf_token": token, "case": ["AS-FLOW"], "confirmed": confirmed, **data}
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and message in html and "Apply to" not in html
        assert '<a href="/cases?queue=returns">Back to the queue</a>' in html
    fresh = _fresh(db)
    assert fresh.assignee_id is None and fresh.tags == [] and fresh.status == CaseStatus.IN_REVIEW


def test_timeline_speaks_in_labels_and_shows_each_message_once(
    agent: FlaskClient, db: Session, users: dict[Role, User]
) -> None:
    _shop, market = shop_with_market(db)
    publish_policy(db, market=market)
    case = make_case(db, market, number="AS-TL", type=CaseType.REFUND_ONLY, reason=CaseReason.SIZE)
    events.handle_event(db, case, "case_opened")  # the test policy: else manual_review
    sent = operations.reply(db, case, Actor.person(users[Role.CS_AGENT]), "We are looking into it.")
    failed = operations.reply(db, case, Actor.person(users[Role.CS_AGENT]), "Second try at a tricky one.")
    db.flush()
    sent.status = MessageStatus.SENT
    failed.status, failed.last_error = MessageStatus.FAILED, "mailbox full"
    record(
        db,
        case,
        Actor.system("outbox"),
        "message_failed",
        {"message_id": failed.id, "reason": "mailbox full"},
    )
    db.commit()

    html = agent.get("/cases/AS-TL").get_data(as_text=True)
    timeline = _timeline(html)
    assert "Policy decided Case opened: Manual review" in timeline
    assert "manual_review" not in timeline and "case_opened" not in timeline
    for message in (sent, failed):
        assert timeline.count(f'href="#message-{message.id}"') == 1
    assert timeline.count("mailbox full") == 1
    decisions = html[html.index('id="case-decisions"') :]
    decisions = decisions[: decisions.index("</section>")]
    assert "Manual review" in decisions and "policy v1" in decisions and "policy version id" not in decisions


def _png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    return buffer.getvalue()


EVIDENCE_POLICY = """on evidence_added:
  if evidence.from == "buyer" then assign "photos"
  else manual_review
"""


def test_the_policy_knows_whose_evidence_it_is(
    agent: FlaskClient, db: Session, app, users: dict[Role, User]
) -> None:
    _shop, market = shop_with_market(db)
    publish_policy(db, EVIDENCE_POLICY, market=market)
    make_case(db, market, number="AS-EV", status=CaseStatus.IN_REVIEW)
    db.commit()
    token = csrf_token(agent, "/cases/AS-EV")
    version = VERSION.search(agent.get("/cases/AS-EV").get_data(as_text=True))
    assert version
    response = agent.post(
        "/cases/AS-EV/evidence",
        data={
            "csrf_token": token,
            "version": version.group(1),
            "kind": "photo",
            "file": (io.BytesIO(_png("blue")), "packing.png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    case = _fresh(db, "AS-EV")
    decision = db.scalars(select(Decision).where(Decision.case_id == case.id)).all()[-1]
    assert decision.event == "evidence_added" and [a["name"] for a in decision.actions] == ["manual_review"]
    assert stored_facts.decode(decision.facts or "")["evidence.from"] == "agent"
    assert case.queue != "photos"  # an agent's own upload is not the buyer answering

    store: AttachmentStore = app.extensions["attachments"]
    add_evidence(
        db,
        store,
        case,
        Actor.system("buyer"),
        data=_png("red"),
        filename="scratch.png",
        kind=EvidenceKind.PHOTO,
        source=EvidenceSource.BUYER,
    )
    db.commit()
    case = _fresh(db, "AS-EV")
    assert case.queue == "photos"

    page = agent.get("/cases/AS-EV").get_data(as_text=True)
    assert "Evidence added: Photo, from an agent" in _timeline(page)
    assert "Evidence added: Photo, from the buyer" in _timeline(page)
    evidence = page[page.index('id="case-evidence"') :]
    assert "Photo · from an agent" in evidence and "Photo · from the buyer" in evidence
