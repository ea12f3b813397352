"""The agents' queue flow over HTTP: saved views, select all matching, next case and presence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.enums import CaseStatus, CaseType, Role
from portal.domain.models import Case, CasePresence, CaseTag, SavedView, User
from portal.domain.queueflow.saved_views import MAX_VIEWS
from portal.domain.types import utcnow


@pytest.fixture
def agent(login: Callable[[Role], FlaskClient]) -> FlaskClient:
    return login(Role.CS_AGENT)


def _save(client: FlaskClient, name: str, query: str) -> object:
    return client.post(
        "/cases/views", data={"csrf_token": csrf_token(client, "/cases"), "name": name, "query": query}
    )


def _views(db: Session, user: User) -> list[tuple[str, str]]:
    db.expire_all()
    rows = db.scalars(select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name))
    return [(v.name, v.query) for v in rows]


# Saved personal views ---------------------------------------------------------------------------------


def test_an_agent_saves_the_current_filters_and_finds_them_in_the_queue(
    agent: FlaskClient, db: Session, users: dict[Role, User]
) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-REF", type=CaseType.REFUND_ONLY)
    make_case(db, market, number="AS-RET", type=CaseType.RETURN_AND_REFUND)
    db.commit()
    # The queue hands its own filters to the form; unknown and empty parameters are not kept.
    page = agent.get("/cases?type=refund_only&sort=newest&reason=&shown=5").get_data(as_text=True)
    assert 'name="query" value="type=refund_only&amp;sort=newest" form="save-view"' in page
    # The list that htmx swaps in as the filters change carries them too.
    fragment = agent.get("/cases?type=refund_only", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'name="query" value="type=refund_only" form="save-view"' in fragment
    response = _save(agent, "  Refunds   first ", "type=refund_only&sort=newest&bogus=1")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.location).query) == {"type": ["refund_only"], "sort": ["newest"]}
    assert _views(db, users[Role.CS_AGENT]) == [("Refunds first", "type=refund_only&sort=newest")]
    queue = agent.get(response.location).get_data(as_text=True)
    assert "View “Refunds first” saved." in queue
    assert 'aria-current="true">Refunds first</a>' in queue
    assert "AS-REF" in queue and "AS-RET" not in queue


def test_views_are_personal(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    agent, ops = login(Role.CS_AGENT), login(Role.OPS_MANAGER)
    _save(agent, "Mine only", "view=mine")
    view_id = db.scalar(select(SavedView.id))
    assert "Mine only" not in ops.get("/cases").get_data(as_text=True)
    assert "Mine only" not in ops.get("/cases/views").get_data(as_text=True)
    token = csrf_token(ops, "/cases")
    # Another user's view is as good as missing: not shown, renamed or deleted.
    assert ops.get(f"/cases/views/{view_id}/delete").status_code == 404
    rename = ops.post(f"/cases/views/{view_id}/rename", data={"csrf_token": token, "name": "Taken"})
    delete = ops.post(f"/cases/views/{view_id}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert rename.status_code == delete.status_code == 404
    assert _views(db, users[Role.CS_AGENT]) == [("Mine only", "view=mine")]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Name the view."),
        ("   ", "Name the view."),
        ("x" * 61, "A view&#39;s name can have at most 60 characters (this one has 61)."),
        ("Due", "You already have a view called “Due”."),
    ],
)
def test_a_bad_name_is_refused_and_changes_nothing(
    agent: FlaskClient, db: Session, users: dict[Role, User], name: str, message: str
) -> None:
    _save(agent, "Due", "view=due_soon")
    response = _save(agent, name, "view=overdue")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _views(db, users[Role.CS_AGENT]) == [("Due", "view=due_soon")]


def test_the_number_of_views_is_bounded(agent: FlaskClient, db: Session, users: dict[Role, User]) -> None:
    me = users[Role.CS_AGENT]
    db.add_all(SavedView(user_id=me.id, name=f"View {i:02d}", query="view=mine") for i in range(MAX_VIEWS))
    db.commit()
    response = _save(agent, "One too many", "view=overdue")
    assert response.status_code == 422
    assert f"You have {MAX_VIEWS} saved views, the most there can be; delete one first." in response.get_data(
        as_text=True
    )
    assert len(_views(db, me)) == MAX_VIEWS


def test_rename_and_delete_with_confirmation(
    agent: FlaskClient, db: Session, users: dict[Role, User]
) -> None:
    me = users[Role.CS_AGENT]
    _save(agent, "Overdue", "view=overdue")
    _save(agent, "Jewelry", "queue=jewelry")
    overdue = db.scalar(select(SavedView.id).where(SavedView.name == "Overdue"))
    token = csrf_token(agent, "/cases/views")
    taken = agent.post(f"/cases/views/{overdue}/rename", data={"csrf_token": token, "name": "Jewelry"})
    assert taken.status_code == 422
    assert "You already have a view called “Jewelry”." in taken.get_data(as_text=True)
    renamed = agent.post(f"/cases/views/{overdue}/rename", data={"csrf_token": token, "name": "Late ones"})
    assert renamed.status_code == 302
    assert _views(db, me) == [("Jewelry", "queue=jewelry"), ("Late ones", "view=overdue")]

    confirm = agent.get(f"/cases/views/{overdue}/delete").get_data(as_text=True)
    assert "Delete the view “Late ones”?" in confirm
    # Without the confirmation nothing is deleted.
    unconfirmed = agent.post(f"/cases/views/{overdue}/delete", data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and len(_views(db, me)) == 2
    deleted = agent.post(f"/cases/views/{overdue}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert deleted.status_code == 302
    assert "View “Late ones” deleted." in agent.get(deleted.location).get_data(as_text=True)
    assert _views(db, me) == [("Jewelry", "queue=jewelry")]


def test_saving_needs_the_csrf_token_and_a_staff_role(
    login: Callable[[Role], FlaskClient], db: Session, users: dict[Role, User]
) -> None:
    agent = login(Role.CS_AGENT)
    forged = agent.post("/cases/views", data={"name": "Forged", "query": "view=mine"})
    assert forged.status_code == 400
    auditor = login(Role.AUDITOR)
    refused = auditor.post("/cases/views", data={"csrf_token": csrf_token(auditor, "/cases"), "name": "Mine"})
    assert refused.status_code == 403
    assert 'id="saved-views"' not in auditor.get("/cases").get_data(as_text=True)
    assert db.scalar(select(SavedView.id)) is None


def test_view_names_are_escaped(agent: FlaskClient) -> None:
    _save(agent, "<script>alert(1)</script>", "view=mine")
    html = agent.get("/cases").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# Select all matching ----------------------------------------------------------------------------------


def _bulk(client: FlaskClient, **form: str | list[str]) -> tuple[int, str]:
    response = client.post("/cases/bulk", data={"csrf_token": csrf_token(client, "/cases"), **form})
    return response.status_code, response.get_data(as_text=True)


def test_select_all_matching_takes_every_filtered_case_not_just_the_page(
    agent: FlaskClient, db: Session, app
) -> None:
    app.config["PAGE_SIZE"] = 2
    _shop, market = shop_with_market(db)
    for i in range(5):
        make_case(db, market, number=f"AS-REF{i}", type=CaseType.REFUND_ONLY)
    make_case(db, market, number="AS-OTHER", type=CaseType.RETURN_AND_REFUND)
    db.commit()
    page = agent.get("/cases?type=refund_only").get_data(as_text=True)
    assert "Select all 5 matching cases" in page and 'name="all_matching" value="type=refund_only"' in page
    assert page.count('name="case" value=') == 2  # one page of two rows
    status, confirm = _bulk(agent, all_matching="type=refund_only", action="add_tag", tag="batch")
    assert status == 200 and "Apply to 5 cases?" in confirm and "AS-OTHER" not in confirm
    numbers = [f"AS-REF{i}" for i in range(5)]
    status, _result = _bulk(agent, case=numbers, action="add_tag", tag="batch", confirmed="1")
    assert status == 302
    tagged = set(db.scalars(select(Case.number).join(CaseTag).where(CaseTag.tag == "batch")))
    assert tagged == set(numbers)


def test_select_all_matching_is_bounded(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    for i in range(201):
        make_case(db, market, number=f"AS-M{i:03d}")
    db.commit()
    page = agent.get("/cases").get_data(as_text=True)
    assert "narrow the filters to at most 200" in page and 'name="all_matching"' not in page
    status, html = _bulk(agent, all_matching="status=open", action="add_tag", tag="many")
    assert status == 422
    assert "More than 200 cases match; narrow the filters to act on all of them at once." in html
    assert db.scalar(select(CaseTag.tag)) is None


# Next case --------------------------------------------------------------------------------------------


def test_next_case_follows_the_filtered_queue_in_its_order(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    now = utcnow()
    for number, hours, kind in [
        ("AS-N1", 1, CaseType.REFUND_ONLY),
        ("AS-X", 2, CaseType.RETURN_AND_REFUND),  # not in the filtered queue
        ("AS-N2", 3, CaseType.REFUND_ONLY),
        ("AS-N3", 4, CaseType.REFUND_ONLY),
    ]:
        make_case(db, market, number=number, type=kind, opened_at=now - timedelta(hours=hours))
    db.commit()
    agent.get("/cases?type=refund_only&sort=newest")
    assert agent.get("/cases/AS-N1/next").location == "/cases/AS-N2"
    # The case just worked has left the queue (resolved): the next one is still the one after it.
    db.execute(update(Case).where(Case.number == "AS-N2").values(status=CaseStatus.RESOLVED))
    db.commit()
    assert agent.get("/cases/AS-N2/next").location == "/cases/AS-N3"
    last = agent.get("/cases/AS-N3/next")
    assert urlsplit(last.location).path == "/cases"
    assert parse_qs(urlsplit(last.location).query) == {"type": ["refund_only"], "sort": ["newest"]}
    assert "That was the last case in this queue." in agent.get(last.location).get_data(as_text=True)
    # Another order is another queue.
    agent.get("/cases?type=refund_only&sort=oldest")
    assert agent.get("/cases/AS-N3/next").location == "/cases/AS-N1"


def test_the_case_page_offers_next_case(agent: FlaskClient, db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-ONE")
    db.commit()
    html = agent.get("/cases/AS-ONE").get_data(as_text=True)
    assert 'href="/cases/AS-ONE/next"' in html and "data-next-case" in html
    assert agent.get("/cases/AS-NOPE/next").status_code == 404


# Presence ---------------------------------------------------------------------------------------------


def test_a_colleague_sees_who_has_the_case_open_until_it_expires(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-PRES")
    make_case(db, market, number="AS-ALONE")
    db.commit()
    agent, ops = login(Role.CS_AGENT), login(Role.OPS_MANAGER)
    agent.get("/cases/AS-PRES")  # opening the page is the first heartbeat
    page = ops.get("/cases/AS-PRES").get_data(as_text=True)
    assert "Cs Agent is viewing this case" in page
    queue = ops.get("/cases").get_data(as_text=True)
    assert queue.count("Cs Agent is viewing") == 1
    # Nobody is told about themselves.
    assert "Cs Agent is viewing" not in agent.get("/cases/AS-PRES").get_data(as_text=True)
    assert "Ops Manager is viewing this case" in agent.get("/cases/AS-PRES").get_data(as_text=True)

    # A tab closed 46 seconds ago no longer counts ...
    db.execute(update(CasePresence).values(seen_at=utcnow() - timedelta(seconds=46)))
    db.commit()
    assert "is viewing" not in ops.get("/cases").get_data(as_text=True)
    # ... and a heartbeat brings it back; the fragment answers who else is there.
    beat = agent.post("/cases/AS-PRES/presence", headers={"HX-Request": "true"},
                      data={"csrf_token": csrf_token(agent, "/cases")})
    assert beat.status_code == 200 and 'id="case-presence"' in beat.get_data(as_text=True)
    assert "Cs Agent is viewing" in ops.get("/cases").get_data(as_text=True)
    assert db.scalar(select(CasePresence.seen_at).where(CasePresence.case_id == case.id)) is not None


def test_leaving_the_page_ends_the_presence_at_once(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-LEAVE")
    db.commit()
    agent, ops = login(Role.CS_AGENT), login(Role.OPS_MANAGER)
    page = agent.get("/cases/AS-LEAVE").get_data(as_text=True)
    assert 'data-leave="/cases/AS-LEAVE/presence/leave"' in page
    assert "Cs Agent is viewing" in ops.get("/cases").get_data(as_text=True)
    assert agent.post("/cases/AS-LEAVE/presence/leave").status_code == 400  # no token: nothing changes
    assert "Cs Agent is viewing" in ops.get("/cases").get_data(as_text=True)
    left = agent.post("/cases/AS-LEAVE/presence/leave", data={"csrf_token": csrf_token(agent, "/cases")})
    assert left.status_code == 204
    assert "is viewing" not in ops.get("/cases").get_data(as_text=True)


def test_heartbeats_need_csrf_and_a_staff_role(login: Callable[[Role], FlaskClient], db: Session) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-HB")
    db.commit()
    assert login(Role.CS_AGENT).post("/cases/AS-HB/presence").status_code == 400
    auditor = login(Role.AUDITOR)
    page = auditor.get("/cases/AS-HB").get_data(as_text=True)
    assert "hx-post" not in page.split('id="case-presence"')[1].split(">")[0]
    token = csrf_token(auditor, "/cases")
    assert auditor.post("/cases/AS-HB/presence", data={"csrf_token": token}).status_code == 403
    assert db.scalar(select(CasePresence.case_id)) is None
