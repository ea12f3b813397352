"""Business time for agent SLAs: a market's opening hours, working days and holidays.

Platform clocks run on calendar time; review targets only count the hours the team is at work.
Public holidays come from the `holidays` package for the market's country, plus the days a market
adds itself (a company day off, a peak-season closure).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class BusinessCalendar:
    zone: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    market_code: str | None = None  # public holidays of this market's country, when set
    closed_days: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise CalendarError("closing time must be after opening time")

    def is_working_day(self, day: date) -> bool:
        if day.weekday() not in self.weekdays or day in self.closed_days:
            return False
        return not (self.market_code and day in public_holidays(self.market_code, day.year))

    def _window(self, day: date) -> tuple[datetime, datetime]:
        """The day's opening hours as UTC instants (correct across daylight-saving changes)."""
        return (
            _utc(datetime.combine(day, self.opens, tzinfo=self.zone)),
            _utc(datetime.combine(day, self.closes, tzinfo=self.zone)),
        )

    def _days_from(self, start: datetime) -> Iterable[tuple[datetime, datetime]]:
        day = start.astimezone(self.zone).date()
        for offset in range(SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if self.is_working_day(current):
                yield self._window(current)

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
        total = 0.0
        for opens, closes in self._days_from(start):
            if opens >= end:
                break
            begin, finish = max(opens, start), min(closes, end)
            if finish > begin:
                total += (finish - begin).total_seconds()
        return total

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self.is_working_day(local.date()) and self.opens <= local.time() < self.closes


def parse_days(text: str) -> tuple[frozenset[date], list[str]]:
    """Dates written one per line (YYYY-MM-DD, optionally followed by a note); bad lines are returned."""
    days, bad = set(), []
    for line in text.splitlines():
        token = line.strip().split(" ", 1)[0].strip()
        if not token:
            continue
        try:
            days.add(date.fromisoformat(token))
        except ValueError:
            bad.append(line.strip())
    return frozenset(days), bad
