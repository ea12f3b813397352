"""The admin's Marketplace sync page: backlog, cursors, failures, and retrying them."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain.enums import Role
from portal.domain.models import MarketplaceCommand, MarketplaceEvent, MarketplaceSyncCursor
from portal.domain.types import utcnow


def _arrange(db: Session) -> tuple[MarketplaceEvent, MarketplaceCommand]:
    _shop, market = shop_with_market(db)
    case = make_case(db, market, number="AS-777001")
    failed = MarketplaceEvent(
        notification_id="n-failed",
        type=12,
        shop_id="s",
        body="{}",
        state="failed",
        attempts=6,
        last_error="order 42 is not in the portal <script>x</script>",
    )
    db.add_all(
        [
            failed,
            MarketplaceEvent(notification_id="n-wait", type=1, shop_id="s", body="{}", state="pending"),
            MarketplaceEvent(notification_id="n-done", type=1, shop_id="s", body="{}", state="done"),
            MarketplaceSyncCursor(
                shop_id="s",
                resource="returns",
                synced_until=1_700_000_000,
                last_success_at=utcnow(),
                repaired_total=3,
            ),
        ]
    )
    command = MarketplaceCommand(
        case_id=case.id,
        kind="refund",
        return_id="R-9",
        payload={},
        idempotency_key="k-1",
        state="failed",
        attempts=8,
        last_error="return status does not allow APPROVE_REFUND",
    )
    db.add(command)
    db.commit()
    return failed, command


def test_admin_sees_backlog_cursors_and_failures(login: Callable[[Role], FlaskClient], db: Session) -> None:
    _arrange(db)
    response = login(Role.ADMIN).get("/admin/marketplace")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "Marketplace sync",
        "Notification inbox",
        "n-failed",
        "AS-777001",
        "Returns and refunds",
        "does not allow APPROVE_REFUND",
        "not configured",
    ):
        assert text in html, text
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html


def test_empty_page_says_so(login: Callable[[Role], FlaskClient]) -> None:
    html = login(Role.ADMIN).get("/admin/marketplace").get_data(as_text=True)
    assert "No failed notifications." in html and "No reconciliation has run yet." in html


def test_retrying_a_failed_event_and_command(login: Callable[[Role], FlaskClient], db: Session) -> None:
    event, command = _arrange(db)
    admin = login(Role.ADMIN)
    token = csrf_token(admin, "/admin/marketplace")
    response = admin.post(
        f"/admin/marketplace/events/{event.id}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "queued again" in response.get_data(as_text=True)
    response = admin.post(
        f"/admin/marketplace/commands/{command.id}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "original idempotency key" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(MarketplaceEvent, event.id).state == "pending"
    assert db.get(MarketplaceCommand, command.id).state == "pending"
    assert db.get(MarketplaceCommand, command.id).idempotency_key == "k-1"
    # Retrying again changes nothing and says so.
    response = admin.post(
        f"/admin/marketplace/events/{event.id}/retry", data={"csrf_token": token}, follow_redirects=True
    )
    assert "nothing was changed" in response.get_data(as_text=True)


def test_retry_needs_csrf_and_the_admin_role(login: Callable[[Role], FlaskClient], db: Session) -> None:
    event, _command = _arrange(db)
    assert login(Role.ADMIN).post(f"/admin/marketplace/events/{event.id}/retry").status_code == 400
    agent = login(Role.CS_AGENT)
    token = csrf_token(agent, "/settings")
    assert (
        agent.post(f"/admin/marketplace/events/{event.id}/retry", data={"csrf_token": token}).status_code
        == 403
    )
    db.expire_all()
    assert db.scalar(select(MarketplaceEvent.state).where(MarketplaceEvent.id == event.id)) == "failed"
