"""The scheduler health page tells an admin whether deadlines are firing; ops managers set deadline
lengths and business hours per market in forms that refuse bad input and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
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
    assert "Saved." in html and "1 d · calendar hours" in html
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
    for hours in ("0", "abc", "5000", "", "2 d", "12 x", "1" * 41, "12 4", "1234567", "1.23456 h"):
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


def _week(**days: str) -> dict[str, str]:
    """Form fields for a week: monday="09:00-12:00, 13:00-18:00"; days not named are closed."""
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    data = {}
    for number, name in enumerate(names):
        if name in days:
            data[f"open_{number}"], data[f"hours_{number}"] = "y", days[name]
    return data


def test_business_hours_form_saves_and_validates(db: Session, login: Callable[[Role], FlaskClient]) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    client = login(Role.OPS_MANAGER)
    url = f"/settings/business-hours/{market.id}"
    form = client.get(url)
    assert form.status_code == 200 and 'value="09:00–18:00"' in form.get_data(as_text=True)
    token = csrf_token(client, url)
    bad = [
        _week(monday="18:00-09:00"),
        _week(monday="09:00-13:00, 12:00-18:00"),  # overlapping
        _week(monday="nine to five"),
        _week(monday=""),  # ticked without hours
        {**_week(monday="09:00-18:00"), "closed-0-day": "2026-13-40"},
        {**_week(monday="09:00-18:00"), "closed-0-day": "2026-12-24", "closed-1-day": "2026-12-24"},
        {**_week(monday="09:00-18:00"), "closed-0-day": "2026-12-24", "closed-0-note": "x" * 121},
    ]
    for data in bad:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 422, data
    assert db.get(BusinessCalendarSetting, market.id) is None
    response = client.post(url, data={
        "csrf_token": token, **_week(monday="08:30-12:00, 13:00-17:00", tuesday="8:30-17", wednesday="9-17",
                                     thursday="09:00–17:00", friday="09:00-17:00", saturday="10:00-14:00"),
        "closed-0-day": "2026-12-24", "closed-0-note": "Christmas Eve", "closed-1-day": "2026-12-31",
        "closed-2-day": "",
    })
    assert response.status_code == 302
    db.expire_all()
    row = db.get(BusinessCalendarSetting, market.id)
    assert (row.opens, row.closes, row.weekdays) == ("08:30", "17:00", [0, 1, 2, 3, 4, 5])
    assert row.week[0] == [["08:30", "12:00"], ["13:00", "17:00"]] and row.week[6] == []
    assert row.public_holidays is False
    assert row.closed_days == ["2026-12-24", "2026-12-31"]
    assert row.closed_day_notes == {"2026-12-24": "Christmas Eve"}
    calendar = deadline_rules.calendar_for(db, market)
    assert calendar.week[0] == ((510, 720), (780, 1020))
    page = client.get(url).get_data(as_text=True)
    assert 'value="08:30–12:00, 13:00–17:00"' in page and 'value="Christmas Eve"' in page
    summary = client.get("/settings/deadlines").get_data(as_text=True)
    assert "Monday 08:30–12:00, 13:00–17:00" in summary and "Wednesday–Friday 09:00–17:00" in summary
    assert client.get("/settings/business-hours/999999").status_code == 404


def test_saving_business_hours_without_a_working_day_says_so_and_changes_nothing(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    client = login(Role.OPS_MANAGER)
    url = f"/settings/business-hours/{market.id}"
    response = client.post(url, data={"csrf_token": csrf_token(client, url), "hours_0": "09:00-18:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="weekday-errors"' in html and "Choose at least one working day." in html
    assert db.get(BusinessCalendarSetting, market.id) is None
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "business_calendar.saved")) is None


def test_closed_days_are_edited_in_place_and_removed_by_their_box(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    client = login(Role.OPS_MANAGER)
    url = f"/settings/business-hours/{market.id}"
    token = csrf_token(client, url)
    week = _week(monday="09:00-18:00", tuesday="09:00-18:00")
    assert client.post(url, data={"csrf_token": token, **week, "closed-0-day": "2026-12-24",
                                  "closed-0-note": "Christmas Eve", "closed-1-day": "2026-12-31",
                                  "closed-1-note": "Stocktake"}).status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert 'name="closed-0-day" type="date" value="2026-12-24"' in page
    assert 'name="closed-1-note" type="text" value="Stocktake"' in page
    # Move the stocktake a day earlier and rename it, and remove Christmas Eve: one save.
    assert client.post(url, data={"csrf_token": token, **week, "closed-0-day": "2026-12-24",
                                  "closed-0-note": "Christmas Eve", "closed-0-remove": "y",
                                  "closed-1-day": "2026-12-30", "closed-1-note": "Year-end stocktake",
                                  }).status_code == 302
    db.expire_all()
    row = db.get(BusinessCalendarSetting, market.id)
    assert row.closed_days == ["2026-12-30"] and row.closed_day_notes == {"2026-12-30": "Year-end stocktake"}
    assert date(2026, 12, 30) in deadline_rules.calendar_for(db, market).closed_days


def test_editing_an_agent_target_keeps_business_hours(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.commit()
    client = login(Role.OPS_MANAGER)
    token = csrf_token(client, "/settings/deadlines")
    # The clock left at its default is the deadline's own: business hours for an agent target.
    assert client.post("/settings/deadlines", data={
        "csrf_token": token, "name": "review_target", "market": str(market.id), "case_type": "",
        "hours": "12", "clock": "", "enabled": "y",
    }).status_code == 302
    setting = db.scalar(select(DeadlineSetting))
    assert setting.clock == DeadlineClock.BUSINESS and setting.hours == 12
    form = client.get(f"/settings/deadlines?edit={setting.id}").get_data(as_text=True)
    assert 'value="12 h"' in form and '<option selected value="business">' in form
    assert "12 h · business hours" in form
    # Saving the form as shown (a new length) keeps the clock.
    assert client.post("/settings/deadlines", data={
        "csrf_token": token, "name": "review_target", "market": str(market.id), "case_type": "",
        "hours": "10 h", "clock": "business", "enabled": "y",
    }).status_code == 302
    db.expire_all()
    setting = db.scalar(select(DeadlineSetting))
    assert setting.clock == DeadlineClock.BUSINESS and setting.hours == 10
    assert client.get("/settings/deadlines?edit=999999").status_code == 404


@pytest.mark.parametrize(("typed", "hours", "shown"), [
    ("12 d", 288, "12 d · calendar hours"),
    ("2 d 4 h", 52, "2 d 4 h · calendar hours"),
    ("288", 288, "12 d · calendar hours"),
    ("1.5 days", 36, "1 d 12 h · calendar hours"),
    ("36h", 36, "1 d 12 h · calendar hours"),
    ("6 h", 6, "6 h · calendar hours"),
])
def test_lengths_are_typed_and_shown_in_days_and_hours(
    db: Session, login: Callable[[Role], FlaskClient], typed: str, hours: int, shown: str
) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.commit()
    client = login(Role.OPS_MANAGER)
    assert client.post("/settings/deadlines", data={
        "csrf_token": csrf_token(client, "/settings/deadlines"), "name": "redelivery",
        "market": str(market.id), "case_type": "", "hours": typed, "clock": "", "enabled": "y",
    }).status_code == 302
    setting = db.scalar(select(DeadlineSetting))
    assert setting.hours == hours and setting.clock == DeadlineClock.CALENDAR
    assert shown in client.get("/settings/deadlines").get_data(as_text=True)


def test_days_are_refused_for_a_business_hours_target(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    client = login(Role.OPS_MANAGER)
    response = client.post("/settings/deadlines", data={
        "csrf_token": csrf_token(client, "/settings/deadlines"), "name": "resolution_target", "market": "",
        "case_type": "", "hours": "2 d", "clock": "", "enabled": "y",
    })
    assert response.status_code == 422
    assert "Business-hours targets are given in hours" in response.get_data(as_text=True)
    assert db.scalar(select(DeadlineSetting)) is None


def test_the_summary_covers_every_case_type(db: Session, login: Callable[[Role], FlaskClient]) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.add(DeadlineSetting(market_id=market.id, case_type=CaseType.DELIVERY_FAILED, name="redelivery",
                           hours=Decimal(96), clock=DeadlineClock.CALENDAR))
    db.commit()
    html = login(Role.OPS_MANAGER).get("/settings/deadlines").get_data(as_text=True)
    for case_type in CaseType:
        assert f'id="deadline-table-{case_type.value}"' in html, case_type
    failed = html[html.index('id="deadline-table-delivery_failed"'):]
    failed = failed[:failed.index("</table>")]
    assert "Request redelivery" in failed and "4 d · calendar hours" in failed
    assert "Seller response" not in failed  # the rule does not apply to failed deliveries
    refund = html[html.index('id="deadline-table-return_and_refund"'):]
    assert "Request redelivery" not in refund[:refund.index("</table>")]
    assert "8 h · business hours" in html and "2 d · calendar hours" in html


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.AUDITOR])
def test_only_managers_and_admins_change_deadlines_and_hours(
    db: Session, login: Callable[[Role], FlaskClient], role: Role
) -> None:
    _shop, market = shop_with_market(db)
    db.commit()
    client = login(role)
    assert client.get("/settings/deadlines").status_code == 403
    assert client.post(f"/settings/business-hours/{market.id}", data=_week(monday="09-17")).status_code in (
        400, 403)
    assert db.get(BusinessCalendarSetting, market.id) is None


def test_lengths_and_clocks_read_in_chinese(db: Session, login: Callable[[Role], FlaskClient]) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.commit()
    client = login(Role.OPS_MANAGER)
    client.post("/language", data={"locale": "zh", "csrf_token": csrf_token(client, "/settings")})
    assert client.post("/settings/deadlines", data={
        "csrf_token": csrf_token(client, "/settings/deadlines"), "name": "redelivery",
        "market": str(market.id), "case_type": "", "hours": "2天4小时", "clock": "", "enabled": "y",
    }).status_code == 302
    assert db.scalar(select(DeadlineSetting)).hours == 52
    html = client.get("/settings/deadlines").get_data(as_text=True)
    assert "2 天 4 小时 · 自然时间" in html and "8 小时 · 工作时间" in html
