"""The case queue: filters, search, paging, the htmx fragment and its empty state."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineKind,
    DeadlineState,
    ReturnStatus,
    Role,
    ShippingPayer,
)
from portal.domain.models import Deadline, ReturnShipment
from portal.domain.types import utcnow


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


def test_queue_lists_open_cases_newest_first_on_request(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-OLD", opened_at=utcnow() - timedelta(days=2))
    make_case(db, market, number="AS-NEW", opened_at=utcnow() - timedelta(hours=1))
    make_case(db, market, number="AS-DONE", status=CaseStatus.RESOLVED)
    db.commit()
    html = agent.get("/cases?sort=newest").get_data(as_text=True)
    assert html.index("AS-NEW") < html.index("AS-OLD")
    assert "AS-DONE" not in html and "2 cases" in html


def _deadline(db: Session, case, hours: float) -> None:
    db.add(
        Deadline(
            case=case,
            name="seller_response",
            kind=DeadlineKind.PLATFORM,
            due_at=utcnow() + timedelta(hours=hours),
        )
    )


def test_default_order_is_by_next_deadline_with_countdowns(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    later, soon, late, none = (
        make_case(db, market, number=n) for n in ("AS-LATER", "AS-SOON", "AS-LATE", "AS-NONE")
    )
    _deadline(db, later, 30)
    _deadline(db, soon, 2)
    _deadline(db, late, -3)
    db.commit()
    html = agent.get("/cases").get_data(as_text=True)
    order = sorted(("AS-LATER", "AS-SOON", "AS-LATE", "AS-NONE"), key=html.index)
    assert order == ["AS-LATE", "AS-SOON", "AS-LATER", "AS-NONE"]
    assert 'class="due overdue"' in html and 'class="due soon"' in html and "3 hours overdue" in html


def test_views_and_their_counts(agent: FlaskClient, db: Session, users) -> None:
    _shop, market = shop_with_market(db)
    mine = make_case(db, market, number="AS-MINE")
    mine.assignee_id = users[Role.CS_AGENT].id
    waiting = make_case(db, market, number="AS-WAIT")
    waiting.waiting_for_buyer = True
    _deadline(db, make_case(db, market, number="AS-OVER"), -1)
    _deadline(db, make_case(db, market, number="AS-DUE"), 1)
    make_case(db, market, number="AS-OTHER").queue = "jewelry"
    db.commit()
    for view, expected in [
        ("mine", {"AS-MINE"}),
        ("waiting", {"AS-WAIT"}),
        ("overdue", {"AS-OVER"}),
        ("due_soon", {"AS-DUE"}),
    ]:
        html = agent.get(f"/cases?view={view}").get_data(as_text=True)
        shown = {n for n in ("AS-MINE", "AS-WAIT", "AS-OVER", "AS-DUE", "AS-OTHER") if f">{n}<" in html}
        assert shown == expected, view
    html = agent.get("/cases").get_data(as_text=True)
    assert re.search(r'view=overdue"[^>]*>Overdue <span class="n">1</span>', html)
    assert re.search(r'queue=jewelry"[^>]*>jewelry <span class="n">1</span>', html)
    assert re.search(r'queue=general"[^>]*>general <span class="n">4</span>', html)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("reason=damaged", {"AS-X"}),
        ("channel=ad", {"AS-X"}),
        ("category=jewelry", {"AS-X"}),
        ("value_min=50&value_max=100", {"AS-X"}),
        ("value_max=20", {"AS-Y"}),
        ("from=2020-01-01&to=2020-01-31", {"AS-Y"}),
        ("value_min=abc", {"AS-X", "AS-Y"}),
    ],
)
def test_more_filters(agent: FlaskClient, db: Session, query: str, expected: set[str]) -> None:
    from portal.domain.enums import Channel

    _shop, market = shop_with_market(db)
    x = make_case(db, market, number="AS-X", value="80.00", reason=CaseReason.DAMAGED)
    x.order.channel = Channel.AD
    x.items[0].order_item.category = "jewelry"
    make_case(db, market, number="AS-Y", value="15.00", opened_at=datetime(2020, 1, 15, 12, tzinfo=UTC))
    db.commit()
    html = agent.get(f"/cases?{query}").get_data(as_text=True)
    assert {n for n in ("AS-X", "AS-Y") if f">{n}<" in html} == expected


def test_refresh_keeps_as_many_rows_as_shown(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    for i in range(70):
        make_case(db, market, number=f"AS-R{i:03d}")
    db.commit()
    body = agent.get("/cases?shown=60", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert body.count('class="case-row"') == 60 and "data-refresh" in body


def test_bulk_action_confirms_then_reports_per_row(agent: FlaskClient, db: Session, users) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-B1", status=CaseStatus.IN_REVIEW)
    make_case(db, market, number="AS-B2", status=CaseStatus.RESOLVED)
    db.commit()
    token = csrf_token(agent, "/cases")
    form = {"csrf_token": token, "action": "approve_return", "case": ["AS-B1", "AS-B2", "AS-GONE"]}
    confirm = agent.post("/cases/bulk", data=form).get_data(as_text=True)
    assert "Apply to 2 cases?" in confirm and "AS-B1" in confirm
    db.expire_all()
    assert not db.scalars(select(ReturnShipment)).all()  # nothing changed before confirming
    applied = agent.post("/cases/bulk", data={**form, "confirmed": "1"})
    assert applied.status_code == 302 and applied.headers["Location"] == "/cases"
    result = agent.get("/cases").get_data(as_text=True)
    assert "Approved the return of 1 case." in result
    assert "Not done for AS-B2: “approve_return” is not possible" in result
    assert "Not done for AS-GONE: No such case." in result
    db.expire_all()
    assert [r.case.number for r in db.scalars(select(ReturnShipment))] == ["AS-B1"]


def test_bulk_needs_a_selection(agent: FlaskClient) -> None:
    response = agent.post(
        "/cases/bulk", data={"csrf_token": csrf_token(agent, "/cases"), "action": "add_tag"}
    )
    assert response.status_code == 422 and "Select at least one case." in response.get_data(as_text=True)


def test_auditor_sees_no_bulk_actions(login, db: Session) -> None:
    auditor = login(Role.AUDITOR)
    html = auditor.get("/cases").get_data(as_text=True)
    assert 'id="bulk"' not in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=resolved", {"AS-B"}),
        ("status=all", {"AS-A", "AS-B", "AS-C"}),
        ("type=exchange", {"AS-C"}),
        ("market=UK", {"AS-C"}),
        ("q=as-a", {"AS-A"}),
        ("q=1ZFIND", {"AS-B"}),
        ("q=Lena", {"AS-C"}),
        ("q=RMA-FIND", {"AS-A"}),
        ("q=nothing-like-this", set()),
    ],
)
def test_filters_and_search(agent: FlaskClient, db: Session, query: str, expected: set[str]) -> None:
    _shop, us = shop_with_market(db, "US")
    _shop2, uk = shop_with_market(db, "UK", "GBP")
    a = make_case(db, us, number="AS-A")
    make_case(db, us, number="AS-B", status=CaseStatus.RESOLVED, tracking_number="1ZFIND0001")
    make_case(db, uk, number="AS-C", type=CaseType.EXCHANGE, buyer_name="Lena K.")
    db.add(
        ReturnShipment(
            case=a,
            rma_number="RMA-FIND-1",
            status=ReturnStatus.APPROVED,
            return_address_id=us.return_addresses[0].id,
            shipping_payer=ShippingPayer.BUYER,
        )
    )
    db.commit()
    html = agent.get(f"/cases?{query}").get_data(as_text=True)
    shown = {number for number in ("AS-A", "AS-B", "AS-C") if f">{number}<" in html}
    assert shown == expected
    if not expected:
        assert "No cases match these filters." in html


def test_htmx_gets_only_the_rows_fragment(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-FRAG")
    db.commit()
    response = agent.get("/cases?q=as-fr", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="case-rows"') and "<html" not in body and "AS-FRAG" in body
    assert "HX-Request" in response.headers["Vary"]


def test_keyset_pagination_walks_every_case_once(agent: FlaskClient, db: Session, app: object) -> None:
    _shop, market = shop_with_market(db)
    now = utcnow()
    for i in range(120):
        make_case(db, market, number=f"AS-P{i:03d}", opened_at=now - timedelta(minutes=i // 2))
    db.commit()
    seen: list[str] = []
    html = agent.get("/cases").get_data(as_text=True)
    import re

    pattern = re.compile(r">(AS-P\d{3})<")
    seen += pattern.findall(html)
    more = re.search(r'hx-get="(/cases\?[^"]*after=[^"]+)"', html)
    while more:
        fragment = agent.get(more.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
        body = fragment.get_data(as_text=True)
        assert "<table" not in body  # appended rows only
        seen += pattern.findall(body)
        more = re.search(r'hx-get="(/cases\?[^"]*after=[^"]+)"', body)
    assert len(seen) == 120 and len(set(seen)) == 120


def test_show_more_works_without_javascript(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    for i in range(60):
        make_case(db, market, number=f"AS-J{i:03d}", opened_at=utcnow() - timedelta(minutes=i))
    db.commit()
    import re

    html = agent.get("/cases").get_data(as_text=True)
    link = re.search(r'<a href="(/cases\?[^"]*after=[^"]+)"', html).group(1).replace("&amp;", "&")
    second = agent.get(link).get_data(as_text=True)
    assert "<table" in second and "AS-J050" in second and "AS-J000" not in second


def test_tampered_cursor_is_a_400_with_a_way_back(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-TOP")
    db.commit()
    response = agent.get("/cases?after=not-a-cursor!!")
    assert response.status_code == 400
    assert "Start again from the first page." in response.get_data(as_text=True)


def test_count_stops_at_the_limit(agent: FlaskClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    from portal.cases import queue_views

    monkeypatch.setattr(queue_views, "COUNT_LIMIT", 3)
    _shop, market = shop_with_market(db)
    for i in range(5):
        make_case(db, market, number=f"AS-C{i}")
    db.commit()
    assert "More than 3 cases" in agent.get("/cases").get_data(as_text=True)


@pytest.mark.parametrize("query, expected", [("q=%25", set()), ("q=_", set()), ("q=M.", {"AS-W"})])
def test_search_text_is_not_a_wildcard(
    agent: FlaskClient, db: Session, query: str, expected: set[str]
) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-W", buyer_name="Jordan M.")
    db.commit()
    html = agent.get(f"/cases?{query}").get_data(as_text=True)
    assert {n for n in ("AS-W",) if f">{n}<" in html} == expected


def test_a_platform_deadline_that_ran_out_keeps_an_open_case_overdue(agent: FlaskClient, db: Session) -> None:
    # The scheduler fires a passed deadline within seconds; the demo's Overdue view then emptied at once.
    _shop, market = shop_with_market(db)
    late = make_case(db, market, number="AS-FIRED")
    done = make_case(db, market, number="AS-FIRED-DONE")
    done.status = CaseStatus.RESOLVED
    for case in (late, done):
        db.add(Deadline(case=case, name="seller_response", kind=DeadlineKind.PLATFORM,
                        due_at=utcnow() - timedelta(hours=2), state=DeadlineState.FIRED))
    db.add(Deadline(case=make_case(db, market, number="AS-TARGET"), name="first_reply",
                    kind=DeadlineKind.AGENT_SLA, due_at=utcnow() - timedelta(hours=2),
                    state=DeadlineState.FIRED))
    db.commit()
    html = agent.get("/cases?view=overdue").get_data(as_text=True)
    assert ">AS-FIRED<" in html and ">AS-FIRED-DONE<" not in html and ">AS-TARGET<" not in html
    counts = agent.get("/cases").get_data(as_text=True)
    assert re.search(r'view=overdue"[^>]*>Overdue <span class="n">1</span>', counts)


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("en", ["2 new messages", "not delivered", "escalated", "waiting", "Awaiting buyer", "Size"]),
        ("zh", ["2 条新消息", "未送达", "已升级", "等待中"]),
    ],
)
def test_a_row_shows_every_mark_of_its_case_escaped(
    login: Callable[[Role], FlaskClient], db: Session, users, locale: str, words: list[str]
) -> None:
    """The queue's rows are formatted in Python (portal/cases/queue_rows.py): each mark still shows, in the
    viewer's language, and text from buyers and carriers is escaped."""
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-MARKS", buyer_name='<b>Ann & "Bo"</b>', value="1234.50")
    case.status = CaseStatus.AWAITING_BUYER
    case.unread_messages = 2
    case.delivery_problem = '<script>alert("x")</script>'
    case.escalated = case.waiting_for_buyer = True
    case.assignee = users[Role.OPS_MANAGER]
    db.commit()
    login(Role.OPS_MANAGER).get("/cases/AS-MARKS")  # a colleague has it open
    agent = login(Role.CS_AGENT)
    agent.post("/language", data={"locale": locale, "csrf_token": csrf_token(agent, "/cases")})
    html = agent.get("/cases?status=all").get_data(as_text=True)
    row = re.search(r'<tr class="case-row unread" data-case="AS-MARKS">.*?</tr>', html, re.S)
    assert row is not None, html
    text = row.group(0)
    for word in words:
        assert word in text
    assert "&lt;b&gt;Ann &amp; &#34;Bo&#34;&lt;/b&gt;" in text
    assert 'title="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in text and "<script" not in text
    assert "Ops Manager" in text and 'class="badge status-awaiting_buyer"' in text
    assert 'href="/cases/AS-MARKS"' in text and "1,234.50" in text and '<time datetime="' in text
    viewing = "Ops Manager is viewing" if locale == "en" else "Ops Manager"
    assert 'class="presence-badge"' in text and viewing in text
