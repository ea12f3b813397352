"""The deadlines the lifecycle keeps on every case: platform clocks and agent targets.

Each rule says which case types it applies to, which status starts it and in which statuses it stays
alive; moving the case out of those statuses cancels it (the case moved on). Agent targets count
business hours and stand still while the case waits for the buyer. Markets may change a rule's
length, clock or switch it off (DeadlineSetting rows); when a rule runs out the policy's
`deadline "NAME"` section decides, or, without one, the platform's own default (events.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.domain import audit
from portal.domain.business_hours import (
    MINUTES_A_DAY,
    BusinessCalendar,
    CalendarError,
    DayHours,
    check_day,
    clock_text,
)
from portal.domain.enums import (
    DECIDING_STATUSES,
    OPEN_STATUSES,
    RETURN_CASE_TYPES,
    DeadlineClock,
    DeadlineKind,
    DeadlineState,
)
from portal.domain.enums import CaseStatus as S
from portal.domain.enums import CaseType as T
from portal.domain.models import BusinessCalendarSetting, Case, Deadline, DeadlineSetting, Market, User
from portal.domain.types import N_, utcnow

LIVE = (DeadlineState.PENDING, DeadlineState.PAUSED)
OPEN = OPEN_STATUSES
DECIDING = DECIDING_STATUSES
ALL_TYPES = frozenset(T)
RETURN_TYPES = RETURN_CASE_TYPES


@dataclass(frozen=True)
class DeadlineRule:
    name: str
    kind: DeadlineKind
    label: str
    explains: str
    case_types: frozenset[T]
    starts_on: frozenset[S]
    # Holding a case stops automation, not the platform's clock: every rule stays alive on hold.
    active_in: frozenset[S]
    hours: Decimal
    clock: DeadlineClock = DeadlineClock.CALENDAR
    pauses_while_waiting: bool = False
    # What happens when it runs out and the policy has no section for it (see events.EXPIRY_DEFAULTS).
    on_expiry: str = "record"


RULES: dict[str, DeadlineRule] = {
    rule.name: rule
    for rule in (
        DeadlineRule(
            "seller_response", DeadlineKind.PLATFORM, N_("Seller response"),
            N_("The marketplace approves a request the seller has not answered in time."),
            ALL_TYPES - {T.DELIVERY_FAILED, T.DISPUTE}, frozenset({S.NEW}),
            frozenset({S.NEW, S.IN_REVIEW, S.ON_HOLD}), Decimal(48), on_expiry="platform_approves",
        ),
        DeadlineRule(
            "buyer_reply", DeadlineKind.PLATFORM, N_("Buyer reply"),
            N_("The buyer has this long to answer a question; then the case goes back to review."),
            ALL_TYPES, frozenset({S.AWAITING_BUYER}), frozenset({S.AWAITING_BUYER, S.ON_HOLD}), Decimal(72),
            on_expiry="back_to_review",
        ),
        DeadlineRule(
            "buyer_ship_by", DeadlineKind.PLATFORM, N_("Buyer ships the return"),
            N_("The buyer must ship an approved return in time, or the marketplace closes the request."),
            RETURN_TYPES, frozenset({S.RETURN_APPROVED}), frozenset({S.RETURN_APPROVED, S.ON_HOLD}),
            Decimal(5 * 24), on_expiry="request_lapses",
        ),
        DeadlineRule(
            "seller_confirm_receipt", DeadlineKind.PLATFORM, N_("Seller confirms receipt"),
            N_("The seller must confirm a shipped return arrived; then the marketplace refunds by itself."),
            RETURN_TYPES, frozenset({S.RETURN_IN_TRANSIT}), frozenset({S.RETURN_IN_TRANSIT, S.ON_HOLD}),
            Decimal(8 * 24), on_expiry="platform_receives",
        ),
        DeadlineRule(
            "redelivery", DeadlineKind.PLATFORM, N_("Request redelivery"),
            N_("After a failed delivery, redelivery must be requested in time or the order is refunded."),
            frozenset({T.DELIVERY_FAILED}), frozenset({S.NEW}), DECIDING | {S.ON_HOLD}, Decimal(12 * 24),
            on_expiry="platform_refunds",
        ),
        DeadlineRule(
            "dispute_response", DeadlineKind.PLATFORM, N_("Dispute response"),
            N_("A dispute must be answered before the marketplace decides without the seller."),
            ALL_TYPES, frozenset({S.DISPUTE_OPEN}), frozenset({S.DISPUTE_OPEN, S.ON_HOLD}), Decimal(72),
            on_expiry="escalate",
        ),
        DeadlineRule(
            "review_target", DeadlineKind.AGENT_SLA, N_("Review target"),
            N_("Agents decide a new request within this much business time; "
               "a breach goes to the senior queue."),
            ALL_TYPES - {T.DISPUTE}, frozenset({S.NEW}), DECIDING | {S.ON_HOLD}, Decimal(8),
            DeadlineClock.BUSINESS, pauses_while_waiting=True, on_expiry="escalate",
        ),
        DeadlineRule(
            "resolution_target", DeadlineKind.AGENT_SLA, N_("Resolution target"),
            N_("Cases are resolved within this much business time; a breach goes to the senior queue."),
            ALL_TYPES, frozenset({S.NEW}), OPEN, Decimal(40), DeadlineClock.BUSINESS,
            pauses_while_waiting=True, on_expiry="escalate",
        ),
    )
}


@dataclass(frozen=True)
class Effective:
    """A rule as it applies to one market and case type."""

    rule: DeadlineRule
    hours: Decimal
    clock: DeadlineClock
    enabled: bool
    setting: DeadlineSetting | None


def effective_rules(session: Session, market_id: int | None, case_type: T) -> dict[str, Effective]:
    """Every rule for this market and type, with the most specific setting applied."""
    query = select(DeadlineSetting).where(
        or_(DeadlineSetting.market_id == market_id, DeadlineSetting.market_id.is_(None)),
        or_(DeadlineSetting.case_type == case_type, DeadlineSetting.case_type.is_(None)),
    )
    best: dict[str, DeadlineSetting] = {}
    for row in session.scalars(query):
        rank = (row.market_id is not None, row.case_type is not None)
        held = best.get(row.name)
        if held is None or rank > (held.market_id is not None, held.case_type is not None):
            best[row.name] = row
    out = {}
    for name, rule in RULES.items():
        chosen = best.get(name)
        out[name] = Effective(
            rule,
            chosen.hours if chosen else rule.hours,
            chosen.clock if chosen else rule.clock,
            chosen.enabled if chosen else True,
            chosen,
        )
    return out


DEFAULT_OPENS, DEFAULT_CLOSES, DEFAULT_WEEKDAYS = time(9, 0), time(18, 0), (0, 1, 2, 3, 4)


def calendar_for(session: Session, market: Market) -> BusinessCalendar:
    """The market's business hours (Monday to Friday, 09:00–18:00 with public holidays by default)."""
    row = session.get(BusinessCalendarSetting, market.id)
    zone = ZoneInfo(market.timezone)
    if row is None:
        return BusinessCalendar(zone, DEFAULT_OPENS, DEFAULT_CLOSES, frozenset(DEFAULT_WEEKDAYS), market.code)
    week = None
    if row.week:
        week = tuple(
            tuple((_minute(start), _minute(end)) for start, end in day) for day in row.week
        )
    return BusinessCalendar(
        zone,
        time.fromisoformat(row.opens),
        time.fromisoformat(row.closes),
        frozenset(row.weekdays),
        market.code if row.public_holidays else None,
        frozenset(date.fromisoformat(d) for d in row.closed_days),
        week,
    )


def closed_day_notes(session: Session, market: Market) -> dict[str, str]:
    """Why each of the market's own closed days is closed (ISO date -> note; empty notes left out)."""
    row = session.get(BusinessCalendarSetting, market.id)
    return dict((row.closed_day_notes or {}) if row else {})


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def due_after(
    session: Session, case: Case, clock: DeadlineClock, seconds: float, start: datetime
) -> datetime:
    if clock == DeadlineClock.BUSINESS:
        return calendar_for(session, case.market).add(start, seconds)
    return start + timedelta(seconds=seconds)


def remaining(session: Session, case: Case, deadline: Deadline, now: datetime) -> int:
    if deadline.clock == DeadlineClock.BUSINESS:
        return int(calendar_for(session, case.market).between(now, deadline.due_at))
    return int((deadline.due_at - now).total_seconds())


def due_for(session: Session, case: Case, name: str, start: datetime) -> datetime | None:
    """When the named rule would run out for this case if it started at `start` (None when off)."""
    item = effective_rules(session, case.market_id, case.type)[name]
    if not item.enabled:
        return None
    return due_after(session, case, item.clock, float(item.hours) * 3600, start)


def _live(case: Case) -> list[Deadline]:
    return [d for d in case.deadlines if d.state in LIVE]


def status_changed(
    session: Session, case: Case, before: S | None, to: S, now: datetime | None = None
) -> None:
    """Cancel the deadlines the move leaves behind and start the ones the new status begins."""
    now = now or utcnow()
    for deadline in _live(case):
        rule = RULES.get(deadline.name) if deadline.kind != DeadlineKind.POLICY else None
        if to not in OPEN or (rule is not None and to not in rule.active_in):
            deadline.state = DeadlineState.CANCELLED
    if before == S.ON_HOLD or to not in OPEN:
        return  # releasing a hold resumes the clocks that kept running; it starts nothing new
    live_names = {d.name for d in _live(case)}
    starting = [r for r in RULES.values() if to in r.starts_on and case.type in r.case_types]
    if not starting:
        return
    settings = effective_rules(session, case.market_id, case.type)
    for rule in starting:
        item = settings[rule.name]
        if not item.enabled or rule.name in live_names:
            continue
        seconds = float(item.hours) * 3600
        due = due_after(session, case, item.clock, seconds, now)
        if rule.name == "dispute_response":
            given = [d.respond_by for d in case.disputes if d.responded_at is None and d.respond_by]
            due = min(given) if given else due  # the marketplace states the date itself
        deadline = Deadline(
            case=case, name=rule.name, kind=rule.kind, clock=item.clock, due_at=due,
            pauses_while_waiting=rule.pauses_while_waiting, state=DeadlineState.PENDING, attempts=0,
        )
        if rule.pauses_while_waiting and case.waiting_for_buyer:
            deadline.state = DeadlineState.PAUSED
            deadline.remaining_seconds = int(seconds)
        session.add(deadline)


def set_waiting(session: Session, case: Case, waiting: bool, now: datetime | None = None) -> None:
    """The case starts or stops waiting for the buyer: clocks that pause stand still meanwhile."""
    if case.waiting_for_buyer == waiting:
        return
    case.waiting_for_buyer = waiting
    now = now or utcnow()
    for deadline in _live(case):
        if not deadline.pauses_while_waiting:
            continue
        if waiting and deadline.state == DeadlineState.PENDING and deadline.due_at > now:
            deadline.remaining_seconds = remaining(session, case, deadline, now)
            deadline.state = DeadlineState.PAUSED
        elif not waiting and deadline.state == DeadlineState.PAUSED:
            left = deadline.remaining_seconds or 0
            deadline.due_at = due_after(session, case, deadline.clock, left, now)
            deadline.remaining_seconds = None
            deadline.state = DeadlineState.PENDING


def met(case: Case, name: str) -> None:
    """The thing the deadline waited for happened without the case changing status."""
    for deadline in _live(case):
        if deadline.name == name:
            deadline.state = DeadlineState.CANCELLED


class SettingError(ValueError):
    """A deadline or calendar setting that cannot be saved, with a message for the user."""

    def __init__(self, message: str, field: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params


def save_setting(
    session: Session,
    actor: User,
    name: str,
    market_id: int | None,
    case_type: T | None,
    hours: Decimal,
    clock: DeadlineClock,
    enabled: bool,
) -> DeadlineSetting:
    """Add or change the setting for exactly this market and type; deadlines started later use it."""
    if name not in RULES:
        raise SettingError(N_("There is no deadline called %(name)s."), name=name)
    if not (Decimal("0.25") <= hours <= Decimal(2000)):
        raise SettingError(N_("A deadline runs between a quarter of an hour and 2,000 hours."))
    row = session.scalar(
        select(DeadlineSetting).where(
            DeadlineSetting.name == name,
            DeadlineSetting.market_id.is_(None) if market_id is None
            else DeadlineSetting.market_id == market_id,
            DeadlineSetting.case_type.is_(None) if case_type is None
            else DeadlineSetting.case_type == case_type,
        )
    )
    if row is None:
        row = DeadlineSetting(name=name, market_id=market_id, case_type=case_type)
        session.add(row)
    row.hours, row.clock, row.enabled = hours, clock, enabled
    row.updated_at, row.updated_by_id = utcnow(), actor.id
    session.flush()
    audit.record(session, "deadline_setting.saved", "deadline_setting", row.id, {
        "name": name, "market_id": market_id, "case_type": case_type.value if case_type else None,
        "hours": str(hours), "clock": clock.value, "enabled": enabled,
    }, actor=actor)
    return row


def remove_setting(session: Session, actor: User, setting_id: int) -> None:
    row = session.get(DeadlineSetting, setting_id)
    if row is None:
        raise SettingError(N_("That setting was already removed."))
    audit.record(session, "deadline_setting.removed", "deadline_setting", row.id, {
        "name": row.name, "market_id": row.market_id,
        "case_type": row.case_type.value if row.case_type else None,
    }, actor=actor)
    session.delete(row)


MAX_NOTE = 120


def save_calendar(
    session: Session,
    actor: User,
    market: Market,
    week: tuple[DayHours, ...],
    public: bool,
    closed_days: dict[date, str],
) -> BusinessCalendarSetting:
    """Keep the market's opening ranges per weekday, whether public holidays close it, its closed days.

    Nothing is written when a rule is broken (no open day, overlapping or empty ranges, a long note).
    """
    if len(week) != 7 or not any(week):
        raise SettingError(N_("Choose at least one working day."), field="weekdays")
    for number, day in enumerate(week):
        try:
            check_day(day)
        except CalendarError as error:
            raise SettingError(N_("Opening ranges must not be empty or overlap."), field=f"hours_{number}") \
                from error
    if any(len(note) > MAX_NOTE for note in closed_days.values()):
        raise SettingError(N_("A note is at most %(limit)s characters."), field="closed", limit=MAX_NOTE)
    row = session.get(BusinessCalendarSetting, market.id)
    if row is None:
        row = BusinessCalendarSetting(market_id=market.id)
        session.add(row)
    ranges = [[[clock_text(start), clock_text(end)] for start, end in check_day(day)] for day in week]
    # The earliest opening and latest closing, for readers that only know one range a day.
    starts = [start for day in week for start, _end in day]
    ends = [min(end, MINUTES_A_DAY - 1) for day in week for _start, end in day]
    row.opens, row.closes = clock_text(min(starts)), clock_text(max(ends))
    row.week = ranges
    row.weekdays = [number for number, day in enumerate(week) if day]
    row.public_holidays = public
    row.closed_days = sorted(d.isoformat() for d in closed_days)
    row.closed_day_notes = {d.isoformat(): note for d, note in sorted(closed_days.items()) if note}
    row.updated_at, row.updated_by_id = utcnow(), actor.id
    session.flush()
    audit.record(session, "business_calendar.saved", "market", market.id, {
        "week": ranges, "public_holidays": public, "closed_days": row.closed_days,
        "closed_day_notes": row.closed_day_notes,
    }, actor=actor)
    return row
