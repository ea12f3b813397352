"""The case queue: filters, search, paging, the htmx fragment and its empty state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain.enums import CaseStatus, CaseType, ReturnStatus, Role, ShippingPayer
from portal.domain.models import ReturnShipment
from portal.domain.types import utcnow


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


def test_queue_lists_open_cases_newest_first(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-OLD", opened_at=utcnow() - timedelta(days=2))
    make_case(db, market, number="AS-NEW", opened_at=utcnow() - timedelta(hours=1))
    make_case(db, market, number="AS-DONE", status=CaseStatus.RESOLVED)
    db.commit()
    html = agent.get("/cases").get_data(as_text=True)
    assert html.index("AS-NEW") < html.index("AS-OLD")
    assert "AS-DONE" not in html and "2 cases" in html


@pytest.mark.parametrize("query, expected", [
    ("status=resolved", {"AS-B"}),
    ("status=all", {"AS-A", "AS-B", "AS-C"}),
    ("type=exchange", {"AS-C"}),
    ("market=UK", {"AS-C"}),
    ("q=as-a", {"AS-A"}),
    ("q=1ZFIND", {"AS-B"}),
    ("q=Lena", {"AS-C"}),
    ("q=RMA-FIND", {"AS-A"}),
    ("q=nothing-like-this", set()),
])
def test_filters_and_search(agent: FlaskClient, db: Session, query: str, expected: set[str]) -> None:
    _shop, us = shop_with_market(db, "US")
    _shop2, uk = shop_with_market(db, "UK", "GBP")
    a = make_case(db, us, number="AS-A")
    make_case(db, us, number="AS-B", status=CaseStatus.RESOLVED, tracking_number="1ZFIND0001")
    make_case(db, uk, number="AS-C", type=CaseType.EXCHANGE, buyer_name="Lena K.")
    db.add(ReturnShipment(case=a, rma_number="RMA-FIND-1", status=ReturnStatus.APPROVED,
                          return_address_id=us.return_addresses[0].id, shipping_payer=ShippingPayer.BUYER))
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
    response = agent.get("/cases?q=FRAG", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="case-rows">') and "<html" not in body and "AS-FRAG" in body
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


def test_tampered_cursor_starts_from_the_top(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-TOP")
    db.commit()
    assert "AS-TOP" in agent.get("/cases?after=not-a-cursor!!").get_data(as_text=True)
