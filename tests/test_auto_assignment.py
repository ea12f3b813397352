"""Automatic assignment: round robin over agents on shift, a cap of open cases, the away switch, exactly
once with two schedulers at the same time, and the managers' settings page."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.cases.scheduled import automatic_assignment
from portal.domain.enums import CaseStatus, Role
from portal.domain.models import AgentAvailability, AutoAssignQueue, Case, CaseEvent, Market, User
from portal.domain.queueflow import assignment
from portal.domain.types import utcnow

# A Monday 10:00 and a Sunday 10:00 in New York (the test market's zone; open Monday to Friday 9–18).
MONDAY = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
SUNDAY = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)


def _agents(db: Session, password_hash: str, *names: str) -> list[User]:
    people = [User(email=f"{n.lower()}@example.test", name=n, role=Role.CS_AGENT, password_hash=password_hash)
              for n in names]
    db.add_all(people)
    db.commit()
    return people


def _cases(
    db: Session, market: Market, count: int, queue: str = "general", prefix: str = "AS-Q"
) -> list[Case]:
    cases = []
    for i in range(count):
        case = make_case(db, market, number=f"{prefix}{i:03d}")
        case.queue = queue
        # The most urgent first: each one's deadline an hour after the one before.
        case.next_deadline_at = utcnow() + timedelta(hours=i + 1)
        cases.append(case)
    db.commit()
    return cases


def _assignees(db: Session, prefix: str = "AS-Q") -> list[str | None]:
    db.expire_all()
    rows = db.execute(
        select(Case.number, User.name).outerjoin(User, User.id == Case.assignee_id)
        .where(Case.number.like(f"{prefix}%")).order_by(Case.number)
    ).all()
    return [name for _number, name in rows]


def _run(db: Session, now: datetime = MONDAY) -> int:
    assigned = assignment.assign_waiting(db, now)
    db.commit()
    return assigned


def test_round_robin_over_agents_most_urgent_case_first(db: Session, password_hash: str) -> None:
    _shop, market = shop_with_market(db)
    _agents(db, password_hash, "Lin", "Sam", "Ana")
    assignment.configure_queue(db, "general", True, 10)
    _cases(db, market, 6)
    assert _run(db) == 6
    assert _assignees(db) == ["Lin", "Sam", "Ana", "Lin", "Sam", "Ana"]
    # The timeline says who assigned it.
    event = db.scalar(select(CaseEvent).where(CaseEvent.kind == "assigned").order_by(CaseEvent.id))
    assert event is not None and event.actor_label == "auto-assignment"
    # The next case goes on round the circle, and a case returned to the queue is assigned again.
    _cases(db, market, 1, prefix="AS-R")
    assert _run(db) == 1 and _assignees(db, "AS-R") == ["Lin"]
    db.execute(update(Case).where(Case.number == "AS-Q000").values(assignee_id=None))
    db.commit()
    assert _run(db) == 1 and _assignees(db)[0] == "Sam"
    assert _run(db) == 0


def test_only_enabled_queues_and_unassigned_open_cases(db: Session, password_hash: str) -> None:
    _shop, market = shop_with_market(db)
    lin, sam = _agents(db, password_hash, "Lin", "Sam")
    assignment.configure_queue(db, "general", True, 10)
    assignment.configure_queue(db, "senior", False, 10)
    _cases(db, market, 1, queue="senior", prefix="AS-S")
    _cases(db, market, 1, queue="jewelry", prefix="AS-J")
    taken, done, waiting = _cases(db, market, 3)
    taken.assignee_id = sam.id
    done.status = CaseStatus.RESOLVED
    db.commit()
    assert _run(db) == 1
    assert _assignees(db) == ["Sam", None, "Lin"]
    assert _assignees(db, "AS-S") == [None] and _assignees(db, "AS-J") == [None]


def test_no_agent_gets_more_than_the_cap(db: Session, password_hash: str) -> None:
    _shop, market = shop_with_market(db)
    _agents(db, password_hash, "Lin", "Sam")
    assignment.configure_queue(db, "general", True, 2)
    _cases(db, market, 5)
    assert _run(db) == 4
    assert Counter(_assignees(db)) == {"Lin": 2, "Sam": 2, None: 1}
    # Finishing a case frees a slot.
    db.execute(update(Case).where(Case.number == "AS-Q000").values(status=CaseStatus.RESOLVED))
    db.commit()
    assert _run(db) == 1 and _assignees(db)[4] == "Lin"


def test_away_and_off_shift_agents_get_nothing(db: Session, password_hash: str) -> None:
    _shop, market = shop_with_market(db)
    _shop2, other = shop_with_market(db, code="SG")
    other.timezone = "Asia/Singapore"  # 23:00 on Monday there: closed
    lin, sam, ana = _agents(db, password_hash, "Lin", "Sam", "Ana")
    assignment.configure_queue(db, "general", True, 10)
    assignment.set_away(db, sam.id, True)
    assignment.set_agent(db, ana.id, False, other.id)
    assignment.set_agent(db, lin.id, False, market.id)
    _cases(db, market, 3)
    assert _run(db, MONDAY) == 3
    assert _assignees(db) == ["Lin", "Lin", "Lin"]
    # On Sunday Lin's market is closed too: nobody is on shift, nothing is assigned.
    _cases(db, market, 1, prefix="AS-SUN")
    assert _run(db, SUNDAY) == 0 and _assignees(db, "AS-SUN") == [None]
    assignment.set_away(db, sam.id, False)
    assert _run(db, SUNDAY) == 1 and _assignees(db, "AS-SUN") == ["Sam"]


def test_the_scheduler_task_assigns(app: Flask, db: Session, password_hash: str) -> None:
    _shop, market = shop_with_market(db)
    _agents(db, password_hash, "Lin")
    assignment.configure_queue(db, "general", True, 10)
    _cases(db, market, 2)
    db.commit()
    factory = app.extensions["database"].sessionmaker
    assert automatic_assignment(app, factory) == 2
    assert _assignees(db) == ["Lin", "Lin"]


def test_two_schedulers_at_once_assign_each_case_exactly_once(
    app: Flask, db: Session, password_hash: str, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time; concurrency is PostgreSQL's")
    _shop, market = shop_with_market(db)
    people = _agents(db, password_hash, "Lin", "Sam", "Ana", "Kim")
    assignment.configure_queue(db, "general", True, 20)
    _cases(db, market, 100)
    factory = app.extensions["database"].sessionmaker
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            start.wait()
            for _ in range(15):
                with factory() as session:
                    assignment.assign_waiting(session, MONDAY, limit=7)
                    session.commit()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    # Four agents, twenty each: eighty assigned, none twice, none over the cap.
    counts = Counter(_assignees(db))
    assert counts == {"Lin": 20, "Sam": 20, "Ana": 20, "Kim": 20, None: 20}
    per_case = db.execute(
        select(CaseEvent.case_id, func.count())
        .where(CaseEvent.kind == "assigned")
        .group_by(CaseEvent.case_id)
    ).all()
    assert len(per_case) == 80 and {count for _case, count in per_case} == {1}
    assert {p.id for p in people} == set(db.scalars(select(AgentAvailability.user_id)))


# The settings page and the away switch ----------------------------------------------------------------


@pytest.fixture
def manager(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.OPS_MANAGER)


def test_a_manager_turns_a_queue_on_with_a_cap(manager: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    _cases(db, market, 2, queue="jewelry")
    page = manager.get("/cases/assignment").get_data(as_text=True)
    assert 'id="queue-jewelry"' in page and "Cs Agent" in page
    token = csrf_token(manager, "/cases/assignment")
    saved = manager.post("/cases/assignment/queue",
                         data={"csrf_token": token, "queue": "jewelry", "enabled": "1", "cap": "5"})
    assert saved.status_code == 302
    assert "Queue jewelry: assigned automatically, at most 5 open cases per agent." in manager.get(
        saved.location).get_data(as_text=True)
    db.expire_all()
    row = db.get(AutoAssignQueue, "jewelry")
    assert row is not None and row.enabled and row.cap == 5


@pytest.mark.parametrize("cap", ["0", "501", "abc", "", "-3", "1e3"])
def test_a_cap_out_of_range_is_refused_and_changes_nothing(
    manager: FlaskClient, db: Session, cap: str
) -> None:
    token = csrf_token(manager, "/cases/assignment")
    response = manager.post("/cases/assignment/queue",
                            data={"csrf_token": token, "queue": "general", "enabled": "1", "cap": cap})
    assert response.status_code == 422
    assert "The cap must be a whole number from 1 to 500." in response.get_data(as_text=True)
    assert db.get(AutoAssignQueue, "general") is None


def test_agents_cannot_configure_assignment(login: Callable[[Role], FlaskClient]) -> None:
    agent = login(Role.CS_AGENT)
    assert agent.get("/cases/assignment").status_code == 403
    token = csrf_token(agent, "/cases")
    assert agent.post("/cases/assignment/queue", data={"csrf_token": token, "queue": "general", "cap": "5"}
                      ).status_code == 403
    assert "Automatic assignment" not in agent.get("/cases").get_data(as_text=True)


def test_an_agent_switches_away_and_the_manager_sees_and_sets_it(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    agent, manager = login(Role.CS_AGENT), login(Role.OPS_MANAGER)
    me = users[Role.CS_AGENT]
    response = agent.post("/cases/away", data={"csrf_token": csrf_token(agent, "/cases"), "away": "1"})
    queue = agent.get(response.location).get_data(as_text=True)
    assert "You are away: no cases are assigned to you automatically." in queue and "I am back" in queue
    assert assignment.is_away(db, me.id)
    page = manager.get("/cases/assignment").get_data(as_text=True)
    assert "away" in page.split(f'id="agent-{me.id}"')[1].split("</tr>")[0]
    # The manager puts the agent back on shift within the US market's hours.
    _shop, market = shop_with_market(db)
    db.commit()
    token = csrf_token(manager, "/cases/assignment")
    assert manager.post(f"/cases/assignment/agents/{me.id}",
                        data={"csrf_token": token, "market": str(market.id)}).status_code == 302
    db.expire_all()
    row = db.get(AgentAvailability, me.id)
    assert row is not None and not row.away and row.market_id == market.id
    bad = manager.post(f"/cases/assignment/agents/{me.id}", data={"csrf_token": token, "market": "999999"})
    assert bad.status_code == 422 and "Choose a market from the list." in bad.get_data(as_text=True)
    # Only CS agents have a shift here.
    assert manager.post(f"/cases/assignment/agents/{users[Role.AUDITOR].id}",
                        data={"csrf_token": token}).status_code == 404
    # Without the token nothing changes.
    assert agent.post("/cases/away", data={"away": "1"}).status_code == 400
    db.expire_all()
    assert not assignment.is_away(db, me.id)
