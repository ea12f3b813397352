"""The admin's failed-work page: dead letters of every kind on one page, retried after a confirmation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.enums import DeadlineKind, DeadlineState, Role
from portal.domain.models import (
    AuditEntry,
    Deadline,
    Job,
    MarketplaceCommand,
    MarketplaceEvent,
    Shipment,
    TrackingStaleMark,
)
from portal.domain.types import utcnow


def _failures(db: Session) -> dict[str, int]:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-880001", tracking_number="1ZDEAD0001")
    shipment = db.scalar(select(Shipment).where(Shipment.tracking_number == "1ZDEAD0001"))
    assert shipment is not None
    rows = {
        "deadlines": Deadline(case_id=case.id, name="respond_to_request", kind=DeadlineKind.PLATFORM,
                              due_at=utcnow(), state=DeadlineState.FAILED, attempts=5,
                              last_error="RuntimeError: policy <b>section</b> cannot apply"),
        "marketplace_inbox": MarketplaceEvent(notification_id="n-dead", type=12, shop_id="s", body="{}",
                                              state="failed", attempts=6, last_error="order 42 unknown"),
        "marketplace_commands": MarketplaceCommand(
            case_id=case.id, kind="refund", return_id="R-1", payload={}, idempotency_key="k-dead",
            state="failed", attempts=8, last_error="refused",
        ),
        "tracking_stale": TrackingStaleMark(shipment_id=shipment.id, since=utcnow(), state="failed",
                                            attempts=6, last_error="boom"),
        "jobs": Job(kind="csv_import", params={}, status="failed", attempts=3,
                    error="gave up: its worker stopped during each of 3 attempts"),
    }
    # A cancelled deadline is not a failure and is not listed.
    db.add(Deadline(case_id=case.id, name="ship_by", kind=DeadlineKind.PLATFORM, due_at=utcnow(),
                    state=DeadlineState.CANCELLED, last_error="old"))
    db.add_all(rows.values())
    db.commit()
    return {kind: row.id for kind, row in rows.items()}


def test_admin_sees_every_kind_of_failed_work(login: Callable[[Role], FlaskClient], db: Session) -> None:
    ids = _failures(db)
    page = login(Role.ADMIN).get("/admin/failed-work")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for kind, row_id in ids.items():
        assert f'id="failed-{kind}-{row_id}"' in html
    assert "Deadline “respond_to_request”" in html and "AS-880001" in html
    assert "policy &lt;b&gt;section&lt;/b&gt; cannot apply" in html  # errors are shown, escaped
    assert "Silent parcel 1ZDEAD0001" in html
    assert "ship_by" not in html


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.OPS_MANAGER, Role.AUDITOR])
def test_only_admins_see_or_retry(login: Callable[[Role], FlaskClient], db: Session, role: Role) -> None:
    ids = _failures(db)
    client = login(role)
    assert client.get("/admin/failed-work").status_code == 403
    token = csrf_token(client, "/settings")
    form = {"csrf_token": token, "item": f"deadlines:{ids['deadlines']}", "confirmed": "1"}
    assert client.post("/admin/failed-work/retry", data=form).status_code == 403
    db.expire_all()
    assert db.get(Deadline, ids["deadlines"]).state == DeadlineState.FAILED


def test_retry_needs_csrf(login: Callable[[Role], FlaskClient], db: Session) -> None:
    ids = _failures(db)
    admin = login(Role.ADMIN)
    form = {"item": f"deadlines:{ids['deadlines']}", "confirmed": "1"}
    assert admin.post("/admin/failed-work/retry", data=form).status_code == 400
    db.expire_all()
    assert db.get(Deadline, ids["deadlines"]).state == DeadlineState.FAILED


def test_retry_asks_first_then_queues_every_chosen_kind(
    login: Callable[[Role], FlaskClient], db: Session
) -> None:
    ids = _failures(db)
    admin = login(Role.ADMIN)
    token = csrf_token(admin, "/admin/failed-work")
    items = [f"{kind}:{row_id}" for kind, row_id in ids.items()]
    asked = admin.post("/admin/failed-work/retry", data={"csrf_token": token, "item": items})
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="retry-confirm"' in html and "Retry these 5 items?" in html
    db.expire_all()
    assert db.get(Deadline, ids["deadlines"]).state == DeadlineState.FAILED  # nothing yet

    done = admin.post("/admin/failed-work/retry",
                      data={"csrf_token": token, "item": items, "confirmed": "1"}, follow_redirects=True)
    assert "5 items are queued again" in done.get_data(as_text=True)
    db.expire_all()
    assert db.get(Deadline, ids["deadlines"]).state == DeadlineState.PENDING
    assert db.get(MarketplaceEvent, ids["marketplace_inbox"]).state == "pending"
    assert db.get(MarketplaceCommand, ids["marketplace_commands"]).state == "pending"
    assert db.get(TrackingStaleMark, ids["tracking_stale"]).state == "pending"
    job = db.get(Job, ids["jobs"])
    assert (job.status, job.attempts) == ("queued", 0)
    retried = db.scalars(select(AuditEntry).where(AuditEntry.action == "work.retried")).all()
    assert sorted(e.entity_type for e in retried) == sorted(ids)
    assert 'id="failed-deadlines-' not in admin.get("/admin/failed-work").get_data(as_text=True)


@pytest.mark.parametrize(
    ("items", "status", "message"),
    [
        ([], 422, "Choose at least one item"),
        (["deadlines:abc"], 422, "not on this page"),
        (["outbox_of_someone_else:1"], 422, "not on this page"),
        (["deadlines:999999"], 409, "nothing was changed"),
    ],
)
def test_a_bad_selection_is_refused_and_changes_nothing(
    login: Callable[[Role], FlaskClient], db: Session, items: list[str], status: int, message: str
) -> None:
    ids = _failures(db)
    admin = login(Role.ADMIN)
    token = csrf_token(admin, "/admin/failed-work")
    form = {"csrf_token": token, "item": items, "confirmed": "1"}
    answer = admin.post("/admin/failed-work/retry", data=form)
    assert answer.status_code == status and message in answer.get_data(as_text=True)
    db.expire_all()
    assert db.get(Deadline, ids["deadlines"]).state == DeadlineState.FAILED
