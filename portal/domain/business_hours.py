"""Business time for agent SLAs: a market's opening hours, working days and holidays.

Platform clocks run on calendar time; review targets only count the hours the team is at work.
Public holidays come from the `holidays` package for the market's country, plus the days a market
adds itself (a company day off, a peak-season closure).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# Our market codes that differ from ISO 3166 country codes.
COUNTRY_OF_MARKET = {"UK": "GB"}
# An add() that finds no opening hours within this many days has a calendar with none at all.
SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """The calendar cannot be used: it is never open."""


@lru_cache(maxsize=256)
def public_holidays(market_code: str, year: int) -> frozenset[date]:
    """The country's public holidays; none for a country the `holidays` package does not know."""
    country = COUNTRY_OF_MARKET.get(market_code.upper(), market_code.upper())
    if country not in holidays.list_supported_countries():
        return frozenset()
    return frozenset(holidays.country_holidays(country, years=year).keys())


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# One opening range of a day, in minutes after local midnight: (540, 720) is 09:00–12:00; 1440 is 24:00.
Range = tuple[int, int]
DayHours = tuple[Range, ...]
MINUTES_A_DAY = 24 * 60


def minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def clock_text(minute: int) -> str:
    """09:00; the end of the day reads 24:00."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def check_day(ranges: Iterable[Range]) -> DayHours:
    """The day's ranges sorted; overlapping, empty or out-of-day ranges raise CalendarError."""
    ordered = tuple(sorted(ranges))
    previous_end = 0
    for start, end in ordered:
        if not (0 <= start < end <= MINUTES_A_DAY):
            raise CalendarError("closing time must be after opening time")
        if start < previous_end:
            raise CalendarError("opening ranges overlap")
        previous_end = end
    return ordered


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and their opening ranges in the market's zone.

    `hours` gives each weekday (Monday first) its own ranges, several per day for a lunch break; without
    it every day in `weekdays` is open from `opens` to `closes`, as calendars were before ranges existed.
    """

    zone: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    market_code: str | None = None  # public holidays of this market's country, when set
    closed_days: frozenset[date] = field(default_factory=frozenset)
    hours: tuple[DayHours, ...] | None = None

    def __post_init__(self) -> None:
        if self.hours is None:
            if self.closes <= self.opens:
                raise CalendarError("closing time must be after opening time")
            day: DayHours = ((minutes(self.opens), minutes(self.closes)),)
            object.__setattr__(self, "hours", tuple(day if n in self.weekdays else () for n in range(7)))
        else:
            if len(self.hours) != 7:
                raise CalendarError("a week has seven days")
            object.__setattr__(self, "hours", tuple(check_day(day) for day in self.hours))
            object.__setattr__(self, "weekdays", frozenset(n for n, day in enumerate(self.week) if day))

    @property
    def week(self) -> tuple[DayHours, ...]:
        """Each weekday's opening ranges, Monday first (empty: closed that weekday)."""
        assert self.hours is not None  # filled in by __post_init__
        return self.hours

    def is_working_day(self, day: date) -> bool:
        if not self.week[day.weekday()] or day in self.closed_days:
            return False
        return not (self.market_code and day in public_holidays(self.market_code, day.year))

    def _at(self, day: date, minute: int) -> datetime:
        """A local wall-clock minute of `day` as a UTC instant (correct across daylight-saving changes)."""
        if minute >= MINUTES_A_DAY:
            day, minute = day + timedelta(days=1), minute - MINUTES_A_DAY
        return _utc(datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone))

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening ranges as UTC instants, in order."""
        return [(self._at(day, start), self._at(day, end)) for start, end in self.week[day.weekday()]]

    def _days_from(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        day = start.astimezone(self.zone).date()
        for offset in range(SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if self.is_working_day(current):
                yield from self._windows(current)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant `seconds` of business time after `start` (UTC in, UTC out)."""
        moment = _utc(start)
        left = max(0.0, seconds)
        for opens, closes in self._days_from(moment):
            if closes <= moment:
                continue
            begin = max(opens, moment)
            available = (closes - begin).total_seconds()
            if left <= available:
                return begin + timedelta(seconds=left)
            left -= available
            moment = closes
        raise CalendarError("the calendar has no working hours")

    def between(self, start: datetime, end: datetime) -> float:
        """Business seconds from `start` to `end` (0 when end is earlier)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        total = timedelta()  # whole microseconds: adding float seconds drifted (36000.00000000001)
        for opens, closes in self._days_from(start):
            if opens >= end:
                break
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += finish - begin
        return total.total_seconds()

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        if not self.is_working_day(local.date()):
            return False
        instant = _utc(moment)
        return any(opens <= instant < closes for opens, closes in self._windows(local.date()))


RANGE_TEXT = re.compile(
    r"(?P<h1>\d{1,2})(?::(?P<m1>\d{2}))?\s*(?:-|–|—|to|至|到)\s*(?P<h2>\d{1,2})(?::(?P<m2>\d{2}))?"
)


def parse_ranges(text: str) -> DayHours:
    """A day's ranges as typed: "09:00-12:00, 13:00-18:00" (empty: closed); ValueError if unreadable."""
    found: list[Range] = []
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        match = RANGE_TEXT.fullmatch(part)
        if match is None:
            raise ValueError(part)
        first, second = int(match["m1"] or 0), int(match["m2"] or 0)
        start, end = int(match["h1"]) * 60 + first, int(match["h2"]) * 60 + second
        if max(first, second) > 59 or max(start, end) > MINUTES_A_DAY:
            raise ValueError(part)
        found.append((start, end))
    return tuple(found)


def ranges_text(day: DayHours) -> str:
    return ", ".join(f"{clock_text(start)}–{clock_text(end)}" for start, end in day)
