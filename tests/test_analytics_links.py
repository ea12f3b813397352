"""Analytics figures lead to their cases: every linked figure opens a queue with as many cases;
per-agent figures; first response counts people, automated messages apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from test_analytics import ARGS, PERIOD, Shop, figures, hand_made_shop

from portal.domain import analytics as an
from portal.domain import analytics_build as build
from portal.domain.enums import (
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    MessageDirection,
    MessageStatus,
    Role,
)
from portal.domain.models import Deadline, Message, User

COUNT = re.compile(r'<p class="count"[^>]*>(\d+) cases?</p>')
KPI_LINK = re.compile(r'<a href="([^"]+)" data-cases="(\d+)"')
CELL_LINK = re.compile(r'<td class="int"><a href="([^"]+)" title="[^"]*">([\d,]+)</a></td>')


def message(case_id: int, after: timedelta, opened: object, author: User | None) -> Message:
    return Message(
        case_id=case_id,
        direction=MessageDirection.OUTBOUND,
        status=MessageStatus.SENT,
        language="en",
        body="We are on it.",
        author_id=author.id if author else None,
        created_at=opened + after,  # type: ignore[operator]
    )


@pytest.fixture
def shop(db: Session) -> Shop:
    return hand_made_shop(db)


@pytest.fixture
def team(shop: Shop, db: Session, users: dict[Role, User]) -> dict[str, User]:
    """Two agents: Ana has c1 and c2, Ben has c3; c4 and c5 are unassigned.

    c1: a person answered after 45 minutes (after an automated message at 5), resolved after two days,
    its review target met. c2: only an automated message. c3: Ben answered after 3 hours; its
    resolution target fired (missed).
    """
    ana = users[Role.CS_AGENT]
    ben = users[Role.OPS_MANAGER]
    c1, c2, c3, _c4, _c5 = shop.cases
    c1.assignee_id = ana.id
    c2.assignee_id = ana.id
    c3.assignee_id = ben.id
    c1.resolved_at = c1.opened_at + timedelta(days=2)
    c1.status = CaseStatus.RESOLVED
    db.add_all(
        [
            message(c1.id, timedelta(minutes=5), c1.opened_at, None),
            message(c1.id, timedelta(minutes=45), c1.opened_at, ana),
            message(c2.id, timedelta(minutes=2), c2.opened_at, None),
            message(c3.id, timedelta(hours=3), c3.opened_at, ben),
            Deadline(
                case=c1,
                name="review_target",
                kind=DeadlineKind.AGENT_SLA,
                state=DeadlineState.CANCELLED,
                due_at=c1.opened_at + timedelta(hours=8),
            ),
        ]
    )
    db.commit()
    return {"ana": ana, "ben": ben}


def test_first_response_counts_people_and_shows_automated_apart(
    shop: Shop,
    team: dict[str, User],
    db: Session,
) -> None:
    figs = figures(db)
    # c1 at 45 minutes and c3 at 180: the automated messages of c1 and c2 do not count.
    assert figs.durations["person_response"] == {45: 1, 180: 1}
    # The first message of any kind: the case's first_response_at as the lifecycle sets it.
    assert sum(figs.durations["first_response"].values()) == 4


def test_per_agent_figures(shop: Shop, team: dict[str, User], db: Session) -> None:
    figs = figures(db)
    ana, ben = str(team["ana"].id), str(team["ben"].id)
    agents = figs.by["agent"]
    assert agents[ana].n("cases") == 2 and agents[ben].n("cases") == 1
    assert agents[build.UNASSIGNED].n("cases") == 2
    assert agents[ana].n("targets") == 1 and agents[ana].n("targets_missed") == 0
    assert agents[ben].n("targets") == 1 and agents[ben].n("targets_missed") == 1
    assert figs.agent_durations[ana]["person_response"] == {45: 1}
    assert figs.agent_durations[ana]["resolution"] == {2880: 1}
    assert figs.agent_durations[ben]["person_response"] == {180: 1}
    assert figs.agent_durations[ben]["resolution"] == {}


def test_the_agents_table_on_the_dashboard(
    shop: Shop,
    team: dict[str, User],
    login: Callable[[Role], FlaskClient],
) -> None:
    html = login(Role.OPS_MANAGER).get(f"/analytics?{ARGS}").get_data(as_text=True)
    table = html[html.index('id="table-agents"') :]
    table = table[: table.index("</section>")]
    row = rf"<th scope=\"row\" class=\"text\">{re.escape(team['ana'].name)}</th>(.*?)</tr>"
    ana = re.search(row, table, re.S)
    assert ana is not None
    cells = re.findall(r"<td class=\"[a-z]+\">(.*?)</td>", ana.group(1), re.S)
    texts = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    assert texts == ["2", "45 minutes", "2 days", "1", "100.0%"]
    assert "Unassigned" in table


def _queue_count(client: FlaskClient, href: str) -> int:
    page = client.get(unescape(href))
    assert page.status_code == 200
    found = COUNT.search(page.get_data(as_text=True))
    assert found is not None, href
    return int(found.group(1))


@pytest.mark.parametrize("market", ["", "&market=US"])
def test_every_linked_figure_opens_a_queue_with_as_many_cases(
    shop: Shop,
    team: dict[str, User],
    login: Callable[[Role], FlaskClient],
    market: str,
) -> None:
    client = login(Role.OPS_MANAGER)
    html = client.get(f"/analytics?{ARGS}{market}").get_data(as_text=True)
    kpis = KPI_LINK.findall(html)
    assert len(kpis) == 7  # every card but the parcels' exception rate
    shown = {}
    for href, cases in kpis:
        has = re.search(r"has=(\w+)", unescape(href))
        shown[has.group(1) if has else ""] = int(cases)
    all_markets = (5, 4, 2, 2, 4, 1, 2)
    us_only = (4, 3, 1, 2, 3, 1, 2)
    names = ("", "refund", "auto", "person_reply", "money_refund", "missed_deadline", "dispute")
    assert shown == dict(zip(names, us_only if market else all_markets, strict=True))
    for href, cases in kpis:
        assert _queue_count(client, href) == int(cases), unescape(href)
    cells = CELL_LINK.findall(html)
    assert len(cells) > 15
    for href, shown in cells:
        assert _queue_count(client, href) == int(shown.replace(",", "")), unescape(href)


def test_a_case_opened_late_in_its_market_counts_on_that_local_day_in_both(
    shop: Shop,
    login: Callable[[Role], FlaskClient],
    db: Session,
) -> None:
    # 03:30 UTC on 11 March is still 10 March in New York: inside the period, there and in the queue.
    c4 = shop.cases[3]
    c4.opened_at = c4.opened_at.replace(day=11, hour=3, minute=30)
    db.commit()
    assert figures(db).total.n("cases") == 5
    next_day = PERIOD.end + timedelta(days=1)
    assert figures(db, period=an.Period(next_day, next_day)).total.n("cases") == 0
    client = login(Role.OPS_MANAGER)
    html = client.get(f"/analytics?{ARGS}").get_data(as_text=True)
    href, cases = KPI_LINK.findall(html)[0]
    assert int(cases) == 5 and _queue_count(client, href) == 5
