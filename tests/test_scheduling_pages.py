"""The scheduler health page tells an admin whether deadlines are firing; ops managers set deadline
lengths and business hours per market in forms that refuse bad input and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market

from portal.domain import deadline_rules
from portal.domain.enums import CaseType, DeadlineClock, DeadlineKind, DeadlineState, Role
from portal.domain.models import (
    AuditEntry,
    BusinessCalendarSetting,
    Deadline,
    DeadlineSetting,
    SchedulerHeartbeat,
)
from portal.domain.types import utcnow


def test_health_page_shows_live_and_silent_schedulers_and_the_backlog(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    now = utcnow()
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    db.add_all([
        SchedulerHeartbeat(name="host:1", pid=1, started_at=now - timedelta(hours=1), last_sweep_at=now,
                           last_lag_seconds=0.4, processed_total=1234, failures_total=0),
        SchedulerHeartbeat(name="host:2", pid=2, started_at=now - timedelta(days=1),
                           last_sweep_at=now - timedelta(hours=2), processed_total=5, failures_total=1,
                           last_error="Traceback: <boom>"),
        Deadline(case=case, name="chase", kind=DeadlineKind.POLICY, due_at=now - timedelta(minutes=5),
                 state=DeadlineState.PENDING),
        Deadline(case=case, name="later", kind=DeadlineKind.POLICY, due_at=now + timedelta(hours=5),
                 state=DeadlineState.PENDING),
        Deadline(case=case, name="done", kind=DeadlineKind.POLICY, due_at=now - timedelta(minutes=30),
                 state=DeadlineState.FIRED, fired_at=now - timedelta(minutes=29), fired_late=True),
    ])
    db.commit()
    page = login(Role.ADMIN).get("/admin/scheduler")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 scheduler is running." in html and "1 deadline is due and waiting to fire." in html
    assert "host:1" in html and "alive" in html and "silent" in html
    assert "1,234" in html
    assert "Traceback: &lt;boom&gt;" in html  # escaped
    fragment = login(Role.OPS_MANAGER).get("/admin/scheduler", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith("<div id=\"scheduler-health\"")


def test_health_page_warns_when_no_scheduler_runs(db: Session, login: Callable[[Role], FlaskClient]) -> None:
    html = login(Role.ADMIN).get("/admin/scheduler").get_data(as_text=True)
    assert "No scheduler is running" in html and "No scheduler has ever run" in html


def test_ops_manager_sets_a_market_s_deadline_and_it_applies(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.commit()
    client = login(Role.OPS_MANAGER)
    page = client.get("/settings/deadlines")
    assert page.status_code == 200 and "Seller response" in page.get_data(as_text=True)
    response = client.post("/settings/deadlines", data={
        "csrf_token": csrf_token(client, "/settings/deadlines"), "name": "seller_response",
        "market": str(market.id), "case_type": "", "hours": "24", "clock": "calendar", "enabled": "y",
    })
    assert response.status_code == 302
    html = client.get("/settings/deadlines").get_data(as_text=True)
    assert "Saved." in html and "24 h" in html
    effective = deadline_rules.effective_rules(db, market.id, CaseType.REFUND_ONLY)["seller_response"]
    assert effective.hours == 24 and effective.clock == DeadlineClock.CALENDAR
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "deadline_setting.saved")) is not None
    setting = db.scalar(select(DeadlineSetting))
    removed = client.post(f"/settings/deadlines/{setting.id}/remove",
                          data={"csrf_token": csrf_token(client, "/settings/deadlines")})
    assert removed.status_code == 302
    db.expire_all()
    assert db.scalar(select(DeadlineSetting)) is None


def test_bad_deadline_settings_are_refused_and_change_nothing(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    client = login(Role.ADMIN)
    token = csrf_token(client, "/settings/deadlines")
    for hours in ("0", "abc", "5000", ""):
        response = client.post("/settings/deadlines", data={
            "csrf_token": token, "name": "review_target", "market": "", "case_type": "", "hours": hours,
            "clock": "business",
        })
        assert response.status_code == 422, hours
    response = client.post("/settings/deadlines", data={
        "csrf_token": token, "name": "no_such_deadline", "market": "", "case_type": "", "hours": "3",
        "clock": "business",
    })
    assert response.status_code == 422
    assert db.scalar(select(DeadlineSetting)) is None


def test_business_hours_form_saves_and_validates(db: Session, login: Callable[[Role], FlaskClient]) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    client = login(Role.OPS_MANAGER)
    url = f"/settings/business-hours/{market.id}"
    form = client.get(url)
    assert form.status_code == 200 and 'value="09:00"' in form.get_data(as_text=True)
    token = csrf_token(client, url)
    bad = [
        {"opens": "18:00", "closes": "09:00", "weekdays": ["0"]},
        {"opens": "09:00", "closes": "18:00"},
        {"opens": "09:00", "closes": "18:00", "weekdays": ["0"], "closed_days": "2026-13-40"},
        {"opens": "nine", "closes": "18:00", "weekdays": ["0"]},
    ]
    for data in bad:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 422, data
    assert db.get(BusinessCalendarSetting, market.id) is None
    response = client.post(url, data={
        "csrf_token": token, "opens": "08:30", "closes": "17:00", "weekdays": ["0", "1", "2", "3", "4", "5"],
        "closed_days": "2026-12-24 Christmas Eve\n2026-12-31",
    })
    assert response.status_code == 302
    db.expire_all()
    row = db.get(BusinessCalendarSetting, market.id)
    assert (row.opens, row.closes, row.weekdays) == ("08:30", "17:00", [0, 1, 2, 3, 4, 5])
    assert row.public_holidays is False
    assert row.closed_days == ["2026-12-24", "2026-12-31"]
    assert client.get("/settings/business-hours/999999").status_code == 404
