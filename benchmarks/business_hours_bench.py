"""Business-time arithmetic with several opening ranges a day, against one range a day.

Run by hand:  .venv/bin/python benchmarks/business_hours_bench.py [--runs 20000]

Times BusinessCalendar.add (a 40-hour resolution target) and .between (the same span back) from
starting points spread over a year, on a Monday-to-Friday 09:00-18:00 week (the baseline, measured
in the same run) and on a week with a lunch break and a Saturday morning, and prints microseconds per
call and the ratio. The scheduler calls these when a case opens and when a paused clock resumes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal.domain.business_hours import BusinessCalendar  # noqa: E402

ZONE = ZoneInfo("America/New_York")
ONE_RANGE = BusinessCalendar(ZONE, market_code="US")
LUNCH = ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
SEVERAL = BusinessCalendar(ZONE, market_code="US", hours=(LUNCH,) * 5 + (((10 * 60, 14 * 60),), ()))


def per_call(calendar: BusinessCalendar, starts: list[datetime], work: Callable[..., object]) -> float:
    begin = time.perf_counter()
    for start in starts:
        work(calendar, start)
    return (time.perf_counter() - begin) / len(starts) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [origin + timedelta(minutes=(n * 1571) % (365 * 24 * 60)) for n in range(args.runs)]
    seconds = 40 * 3600

    def add(calendar: BusinessCalendar, start: datetime) -> object:
        return calendar.add(start, seconds)

    def between(calendar: BusinessCalendar, start: datetime) -> object:
        return calendar.between(start, start + timedelta(days=7))

    for name, work in (("add 40 h", add), ("between 7 days", between)):
        per_call(ONE_RANGE, starts[:500], work)  # warm the holiday cache for both
        base = per_call(ONE_RANGE, starts, work)
        several = per_call(SEVERAL, starts, work)
        print(f"{name:15} one range a day {base:7.1f} µs/call   lunch break + Saturday {several:7.1f} µs/call"
              f"   ratio {several / base:.2f}")


if __name__ == "__main__":
    main()
