"""The lifecycle keeps platform deadlines and agent targets: started by status, paused while the case
waits for the buyer, cancelled when the case moves on, configured per market and case type, counted
in business hours where they should be, and with the platform's default when they run out."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask import Flask
from sqlalchemy.orm import Session
from support.factories import make_case, publish_policy, shop_with_market

from portal.domain import deadline_rules, deadlines, events
from portal.domain import operations as ops
from portal.domain.business_hours import BusinessCalendar, CalendarError, parse_ranges
from portal.domain.enums import CaseStatus, CaseType, DeadlineClock, DeadlineState, Role
from portal.domain.lifecycle import Actor
from portal.domain.models import BusinessCalendarSetting, Case, Deadline, DeadlineSetting, User

NEW_YORK = ZoneInfo("America/New_York")
# Monday 23 November 2026, 10:00 in New York (Thanksgiving is on Thursday the 26th).
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK).astimezone(UTC)
AGENT = Actor.system("agent")


def ny(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def live(case: Case) -> dict[str, Deadline]:
    return {d.name: d for d in case.deadlines if d.state in deadline_rules.LIVE}


def opened(db: Session, case_type: CaseType = CaseType.RETURN_AND_REFUND, code: str = "US") -> Case:
    _shop, market = shop_with_market(db, code=code)
    case = make_case(db, market, type=case_type)
    events.open_case(db, case, Actor.system("marketplace"), now=MONDAY_10)
    db.flush()
    return case


# ---- the business calendar -------------------------------------------------------------------

US_CALENDAR = BusinessCalendar(NEW_YORK, time(9), time(18), frozenset(range(5)), "US")


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (ny(23, 15), 8, ny(24, 14)),  # 3 hours on Monday, 5 on Tuesday
        (ny(27, 16), 8, ny(30, 15)),  # Friday, then the weekend is skipped
        (ny(25, 17), 8, ny(27, 16)),  # Thanksgiving (a US public holiday) is skipped
        (ny(21, 12), 1, ny(23, 10)),  # started on a Saturday: the clock starts on Monday at opening
        (ny(23, 7), 9, ny(23, 18)),  # started before opening: a whole day
    ],
)
def test_business_time_skips_nights_weekends_and_holidays(
    start: datetime, hours: int, expected: datetime
) -> None:
    assert US_CALENDAR.add(start, hours * 3600) == expected
    assert US_CALENDAR.between(start, expected) == hours * 3600


def test_business_time_across_the_daylight_saving_change() -> None:
    # Friday 30 October 17:00 EDT to Monday 2 November 10:00 EST: one hour each side.
    start, end = ny(30, 17, month=10), ny(2, 10)
    assert US_CALENDAR.between(start, end) == 2 * 3600
    assert US_CALENDAR.add(start, 2 * 3600) == end


def test_a_market_s_own_closed_days_and_a_calendar_without_hours() -> None:
    days = frozenset({date(2026, 11, 24)})
    closed = BusinessCalendar(NEW_YORK, time(9), time(18), frozenset(range(5)), None, days)
    assert closed.add(ny(23, 17), 2 * 3600) == ny(25, 10)
    assert not closed.is_working_day(date(2026, 11, 24))
    with pytest.raises(CalendarError):
        BusinessCalendar(NEW_YORK, time(9), time(18), frozenset()).add(MONDAY_10, 60)
    with pytest.raises(CalendarError):
        BusinessCalendar(NEW_YORK, time(18), time(9))


# ---- deadlines the lifecycle starts and stops --------------------------------------------------


def test_opening_a_return_starts_the_platform_clock_and_the_agent_targets(db: Session) -> None:
    case = opened(db)
    deadlines_now = live(case)
    assert set(deadlines_now) == {"seller_response", "review_target", "resolution_target"}
    response = deadlines_now["seller_response"]
    assert response.due_at == MONDAY_10 + timedelta(hours=48) and response.clock == DeadlineClock.CALENDAR
    review = deadlines_now["review_target"]
    assert review.clock == DeadlineClock.BUSINESS and review.pauses_while_waiting
    assert review.due_at == ny(23, 18)  # 8 business hours from Monday 10:00
    assert deadlines_now["resolution_target"].due_at == ny(30, 14)  # 40 hours, Thanksgiving skipped


def test_a_delivery_failure_gets_twelve_days_to_request_redelivery(db: Session) -> None:
    case = opened(db, CaseType.DELIVERY_FAILED)
    redelivery = live(case)["redelivery"]
    assert redelivery.due_at == MONDAY_10 + timedelta(days=12)
    assert "seller_response" not in live(case)
    with time_machine.travel(MONDAY_10 + timedelta(days=1), tick=False):
        ops.request_redelivery(db, case, AGENT)
    assert redelivery.state == DeadlineState.CANCELLED  # the case moved on


def test_market_and_type_settings_change_the_length_and_can_switch_a_deadline_off(db: Session) -> None:
    _shop, market = shop_with_market(db, code="MY")
    db.add_all([
        DeadlineSetting(market_id=None, case_type=None, name="seller_response", hours=Decimal(36),
                        clock=DeadlineClock.CALENDAR),
        DeadlineSetting(market_id=market.id, case_type=None, name="seller_response", hours=Decimal(24),
                        clock=DeadlineClock.CALENDAR),
        DeadlineSetting(market_id=market.id, case_type=CaseType.REFUND_ONLY, name="seller_response",
                        hours=Decimal(12), clock=DeadlineClock.BUSINESS),
        DeadlineSetting(market_id=market.id, case_type=None, name="resolution_target", hours=Decimal(40),
                        clock=DeadlineClock.BUSINESS, enabled=False),
    ])
    db.flush()
    returns = make_case(db, market, type=CaseType.RETURN_AND_REFUND)
    events.open_case(db, returns, AGENT, now=MONDAY_10)
    refund = make_case(db, market, type=CaseType.REFUND_ONLY)
    events.open_case(db, refund, AGENT, now=MONDAY_10)
    _other_shop, elsewhere = shop_with_market(db, code="UK")
    other = make_case(db, elsewhere)
    events.open_case(db, other, AGENT, now=MONDAY_10)
    db.flush()
    assert live(returns)["seller_response"].due_at == MONDAY_10 + timedelta(hours=24)  # market
    assert live(refund)["seller_response"].clock == DeadlineClock.BUSINESS  # market and type
    assert live(other)["seller_response"].due_at == MONDAY_10 + timedelta(hours=36)  # everywhere
    assert "resolution_target" not in live(returns)  # switched off for the market
    assert "resolution_target" in live(other)


def test_waiting_for_the_buyer_stops_agent_clocks_and_starts_the_buyer_s(db: Session) -> None:
    case = opened(db, CaseType.REFUND_ONLY)
    review = live(case)["review_target"]
    with time_machine.travel(ny(23, 12), tick=False):  # two business hours in
        ops.request_evidence(db, case, AGENT, "photo")
    assert review.state == DeadlineState.PAUSED and review.remaining_seconds == 6 * 3600
    assert "seller_response" not in live(case)  # asking the buyer is an answer to the request
    buyer_reply = live(case)["buyer_reply"]
    assert buyer_reply.due_at == ny(23, 12) + timedelta(hours=72)
    with time_machine.travel(ny(24, 16), tick=False):  # the buyer answers on Tuesday afternoon
        ops.start_review(db, case, AGENT)
    assert review.state == DeadlineState.PENDING
    assert review.due_at == ny(25, 13)  # 2 hours on Tuesday, 4 on Wednesday
    assert buyer_reply.state == DeadlineState.CANCELLED


def test_approving_a_return_hands_the_clock_to_the_buyer(db: Session) -> None:
    case = opened(db)
    with time_machine.travel(ny(23, 11), tick=False):
        ret = ops.approve_return(db, case, AGENT)
    db.flush()
    names = {d.name: d.state for d in case.deadlines}
    assert names["seller_response"] == DeadlineState.CANCELLED
    assert names["review_target"] == DeadlineState.CANCELLED
    assert names["resolution_target"] == DeadlineState.PAUSED  # waiting for the buyer to ship
    ship_by = live(case)["buyer_ship_by"]
    assert ship_by.due_at == ny(23, 11) + timedelta(days=5) == ret.ship_by
    with time_machine.travel(ny(24, 11), tick=False):
        ops.mark_return_shipped(db, case, AGENT, "UPS", "1Z1")
    assert ship_by.state == DeadlineState.CANCELLED
    assert live(case)["seller_confirm_receipt"].due_at == ny(24, 11) + timedelta(days=8)
    assert live(case)["resolution_target"].state == DeadlineState.PENDING
    with time_machine.travel(ny(25, 11), tick=False):
        ops.mark_return_received(db, case, AGENT)
    assert "seller_confirm_receipt" not in live(case)


def test_hold_keeps_clocks_running_and_release_starts_nothing_new(db: Session) -> None:
    case = opened(db)
    before = {d.id for d in case.deadlines}
    ops.hold(db, case, AGENT)
    assert {d.name for d in live(case).values()} == {"seller_response", "review_target", "resolution_target"}
    ops.release(db, case, AGENT)
    db.flush()
    assert {d.id for d in case.deadlines} == before


def test_closing_a_case_cancels_every_deadline_including_the_policy_s(db: Session) -> None:
    case = opened(db, CaseType.REFUND_ONLY)
    ops.set_deadline(db, case, AGENT, "chase", 3600)
    ops.reject(db, case, AGENT, "outside the window")
    assert live(case) == {}


def test_answering_a_dispute_meets_its_deadline(db: Session) -> None:
    from portal.domain.enums import DisputeStatus
    from portal.domain.models import Dispute

    case = opened(db, CaseType.REFUND_ONLY)
    ops.reject(db, case, AGENT, "used item")
    given = MONDAY_10 + timedelta(days=3, hours=5)
    case.disputes.append(Dispute(reason="Buyer disagrees", status=DisputeStatus.OPEN, amount=Decimal("25"),
                                 currency="USD", respond_by=given))
    from portal.domain.lifecycle import move

    move(db, case, CaseStatus.DISPUTE_OPEN, Actor.system("marketplace"))
    assert live(case)["dispute_response"].due_at == given  # the date the marketplace gave
    ops.respond_dispute(db, case, AGENT, "Photos attached")
    assert "dispute_response" not in live(case)


# ---- when they run out ------------------------------------------------------------------------


def fire_all(app: Flask, at: datetime) -> deadlines.SweepResult:
    with time_machine.travel(at, tick=False):
        return deadlines.sweep(app.extensions["database"].sessionmaker, effect=events.deadline_effect)


def test_unanswered_return_is_approved_by_the_platform_default(app: Flask, db: Session) -> None:
    case = opened(db)
    db.commit()
    fire_all(app, MONDAY_10 + timedelta(hours=49))
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.status == CaseStatus.RETURN_APPROVED
    kinds = [(e.kind, e.actor_label) for e in case.events]
    assert ("deadline_default", "platform") in kinds
    assert case.returns[0].rma_number


def test_the_policy_s_deadline_section_decides_instead_of_the_default(app: Flask, db: Session) -> None:
    publish_policy(db, 'policy "p"\nif value > 1000 then approve_return\nelse manual_review\n'
                       'on deadline "seller_response":\nif true then reject "Too late to ask"\n')
    case = opened(db)
    db.commit()
    fire_all(app, MONDAY_10 + timedelta(hours=49))
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.status == CaseStatus.REJECTED
    assert not any(e.kind == "deadline_default" and e.data["name"] == "seller_response" for e in case.events)


def test_a_breached_review_target_escalates_to_the_senior_queue(app: Flask, db: Session) -> None:
    case = opened(db, CaseType.REFUND_ONLY)
    db.commit()
    result = fire_all(app, ny(23, 18, 30))  # review target ran out at 18:00
    assert result.processed == 1
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.escalated and case.queue == "senior"
    assert case.status == CaseStatus.IN_REVIEW
    assert {d.name: d.state for d in case.deadlines}["review_target"] == DeadlineState.FIRED


def test_a_redelivery_never_requested_refunds_the_order(app: Flask, db: Session) -> None:
    case = opened(db, CaseType.DELIVERY_FAILED)
    db.commit()
    fire_all(app, MONDAY_10 + timedelta(days=12, minutes=5))
    db.expire_all()
    case = db.get(Case, case.id)
    assert [r.amount for r in case.refunds] == [Decimal("25.00")]
    assert any(e.kind == "deadline_default" and e.data["name"] == "redelivery" for e in case.events)


def test_a_default_the_state_refuses_is_skipped_and_said_so(app: Flask, db: Session) -> None:
    case = opened(db)
    ops.hold(db, case, AGENT)
    db.commit()
    fire_all(app, MONDAY_10 + timedelta(hours=49))
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.status == CaseStatus.ON_HOLD and not case.returns
    skipped = [e for e in case.events if e.kind == "action_skipped"]
    assert skipped and skipped[-1].data["action"] == "platform_approves"


def test_a_refusal_in_a_batch_runs_it_again_with_savepoints_and_the_rest_still_fire(
    app: Flask, db: Session
) -> None:
    """A batch first runs without savepoints; the held case's refused default fails it, so the batch runs
    again with them: the refusal is recorded, the other case is approved, and each deadline fires once."""
    held, other = opened(db), opened(db)
    ops.hold(db, held, AGENT)
    db.commit()
    fire_all(app, MONDAY_10 + timedelta(hours=49))
    db.expire_all()
    held, other = db.get(Case, held.id), db.get(Case, other.id)
    assert held.status == CaseStatus.ON_HOLD and not held.returns
    assert [e.data["action"] for e in held.events if e.kind == "action_skipped"] == ["platform_approves"]
    assert other.returns and not [e for e in other.events if e.kind == "action_skipped"]
    for case in (held, other):
        fired = [e.data["deadline_id"] for e in case.events if e.kind == "deadline_expired"]
        assert fired and len(fired) == len(set(fired))


def test_business_calendar_setting_is_used_for_agent_targets(db: Session) -> None:
    _shop, market = shop_with_market(db)
    db.add(BusinessCalendarSetting(market_id=market.id, opens="08:00", closes="20:00",
                                   weekdays=[0, 1, 2, 3, 4, 5], public_holidays=False,
                                   closed_days=["2026-11-24"]))
    db.flush()
    case = make_case(db, market, type=CaseType.REFUND_ONLY)
    events.open_case(db, case, AGENT, now=ny(23, 16))
    db.flush()
    # 4 hours on Monday (to 20:00), Tuesday closed, 4 hours on Wednesday from 08:00.
    assert live(case)["review_target"].due_at == ny(25, 12)


# ---- several opening ranges a day ---------------------------------------------------------------

LUNCH = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
# Monday to Friday with a lunch break; Saturday mornings only; Sunday closed.
LUNCH_WEEK = (LUNCH,) * 5 + (((10 * 60, 14 * 60),), ())
LUNCH_CALENDAR = BusinessCalendar(NEW_YORK, market_code="US", hours=LUNCH_WEEK)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (ny(23, 10), 2, ny(23, 12)),  # 10:00-12:00 fits before lunch
        (ny(23, 10), 3, ny(23, 14)),  # two hours before lunch, one after
        (ny(23, 12, 30), 1, ny(23, 14)),  # started during lunch: the clock starts at 13:00
        (ny(23, 17), 2, ny(24, 10)),  # one hour on Monday evening, one on Tuesday morning
        (ny(27, 17), 3, ny(28, 12)),  # Friday 17:00: one hour, then Saturday's short morning 10:00-12:00
        (ny(28, 13), 2, ny(30, 10)),  # Saturday 13:00-14:00, Sunday closed, Monday 09:00-10:00
        (ny(25, 17, 30), 1, ny(27, 9, 30)),  # Thanksgiving (Thursday 26th) has no ranges at all
        (ny(23, 18), 0.5, ny(24, 9, 30)),  # started exactly at closing: nothing left that day
        (ny(23, 12), 0, ny(23, 13)),  # nothing left at lunch: due when the team is back
    ],
)
def test_business_time_skips_the_lunch_break_and_uses_each_day_s_hours(
    start: datetime, hours: float, expected: datetime
) -> None:
    assert LUNCH_CALENDAR.add(start, hours * 3600) == expected
    assert LUNCH_CALENDAR.between(start, expected) == hours * 3600


def test_lunch_ranges_across_both_daylight_saving_changes() -> None:
    # Friday 30 October 17:00 EDT to Monday 2 November 10:00 EST (clocks go back on Sunday 1 November):
    # one hour on Friday, Saturday 10:00-14:00, one hour on Monday.
    start, end = ny(30, 17, month=10), ny(2, 10)
    assert LUNCH_CALENDAR.between(start, end) == 6 * 3600
    assert LUNCH_CALENDAR.add(start, 6 * 3600) == end
    assert (end - start) == timedelta(days=2, hours=18)  # 65 wall-clock hours, 66 real ones
    # Spring forward, Sunday 8 March 2026: Saturday 13:00 to Monday 10:00 is two business hours.
    spring_start = datetime(2026, 3, 7, 13, tzinfo=NEW_YORK).astimezone(UTC)
    spring_end = datetime(2026, 3, 9, 10, tzinfo=NEW_YORK).astimezone(UTC)
    assert LUNCH_CALENDAR.add(spring_start, 2 * 3600) == spring_end


def test_a_day_open_round_the_clock_ends_at_midnight_even_when_the_day_is_23_hours_long() -> None:
    whole = ((0, 24 * 60),)
    calendar = BusinessCalendar(NEW_YORK, hours=(whole,) * 7)
    day_start = datetime(2026, 3, 8, 0, tzinfo=NEW_YORK).astimezone(UTC)
    next_day = datetime(2026, 3, 9, 0, tzinfo=NEW_YORK).astimezone(UTC)
    assert calendar.between(day_start, next_day) == 23 * 3600  # the spring-forward day
    assert calendar.add(day_start, 23 * 3600) == next_day
    assert calendar.is_open(next_day - timedelta(seconds=1)) and calendar.is_open(next_day)


def test_is_open_knows_the_lunch_break() -> None:
    assert LUNCH_CALENDAR.is_open(ny(23, 11, 59))
    assert not LUNCH_CALENDAR.is_open(ny(23, 12, 30))
    assert LUNCH_CALENDAR.is_open(ny(23, 13))
    assert not LUNCH_CALENDAR.is_open(ny(29, 11))  # Sunday
    assert LUNCH_CALENDAR.weekdays == frozenset(range(6))


@pytest.mark.parametrize("week", [
    (((9 * 60, 13 * 60), (12 * 60, 18 * 60)),) + ((),) * 6,  # overlapping
    (((18 * 60, 9 * 60),),) + ((),) * 6,  # closes before it opens
    (((9 * 60, 25 * 60),),) + ((),) * 6,  # past midnight
    ((),) * 6,  # six days
])
def test_impossible_weeks_are_refused(week: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar(NEW_YORK, hours=week)


def test_typed_ranges_are_read_or_refused() -> None:
    assert parse_ranges("09:00-12:00, 13:00–18:00") == LUNCH
    assert parse_ranges("9-12; 13 to 18") == LUNCH
    assert parse_ranges("00:00-24:00") == ((0, 1440),)
    assert parse_ranges(" ") == ()
    for bad in ("9", "09:60-10:00", "25:00-26:00", "nine to five", "09:00-12:00 13:00-18:00"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


def test_a_market_s_lunch_break_moves_its_agent_targets(db: Session, users: dict[Role, User]) -> None:
    _shop, market = shop_with_market(db)
    db.flush()
    deadline_rules.save_calendar(db, users[Role.OPS_MANAGER], market, LUNCH_WEEK, True,
                                 {date(2026, 11, 24): "Stocktake"})
    db.flush()
    case = make_case(db, market, type=CaseType.REFUND_ONLY)
    events.open_case(db, case, AGENT, now=ny(23, 16))
    db.flush()
    # 2 hours on Monday (16:00-18:00), Tuesday closed, then 3 + 3 on Wednesday around lunch:
    # review target of 8 business hours ends Wednesday 16:00.
    assert live(case)["review_target"].due_at == ny(25, 16)
    assert live(case)["review_target"].clock == DeadlineClock.BUSINESS
    # A row written before ranges existed still reads as one range a day.
    row = db.get(BusinessCalendarSetting, market.id)
    row.week = None
    db.flush()
    old_style = deadline_rules.calendar_for(db, market)
    assert old_style.week[0] == old_style.week[5] == ((9 * 60, 18 * 60),) and old_style.week[6] == ()
