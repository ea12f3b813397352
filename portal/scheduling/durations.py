"""Deadline lengths as people write them: "12 d", "2 d 4 h", "36" (hours); stored as hours."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.domain.enums import DeadlineClock

MAX_TEXT = 40
HOURS_A_DAY = Decimal(24)
# At most six digits before and four after the point: longer numbers are typos, and Decimal's context
# would refuse to round them.
_PART = re.compile(
    r"\s*(?P<number>\d{1,6}(?:[.,]\d{1,4})?)\s*(?P<unit>days?|d|天|hours?|hrs?|h|小时|时)?\s*", re.I
)
_DAY_UNITS = {"d", "day", "days", "天"}


def format_number(value: Decimal) -> str:
    return format_decimal(value, locale=str(get_locale()))


class DurationError(ValueError):
    """The text is not a length; the message says why in the reader's language."""


def parse_length(text: str, clock: DeadlineClock) -> Decimal:
    """Hours from "12 d", "2 d 4 h", "1.5 h" or a bare number of hours.

    Days are 24 hours, so they only make sense on the calendar clock: a business-hours target written
    in days would silently mean three working days, so it is refused with a message instead.
    """
    text = (text or "").strip()
    if not text:
        raise DurationError(_("Enter a length, such as 36 h, 12 d or 2 d 4 h."))
    if len(text) > MAX_TEXT:
        raise DurationError(_("Enter a length, such as 36 h, 12 d or 2 d 4 h."))
    total, position, has_days, parts, bare = Decimal(0), 0, False, 0, False
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or match.end() == position:
            raise DurationError(_("Enter a length, such as 36 h, 12 d or 2 d 4 h."))
        number = Decimal(match["number"].replace(",", "."))  # the pattern lets only digits through
        parts += 1
        bare = bare or not match["unit"]
        unit = (match["unit"] or "h").lower()
        if unit in _DAY_UNITS:
            has_days = True
            number *= HOURS_A_DAY
        total += number
        position = match.end()
    if bare and parts > 1:  # "12 4" or "1234567": only a lone number may leave out its unit
        raise DurationError(_("Enter a length, such as 36 h, 12 d or 2 d 4 h."))
    if has_days and clock == DeadlineClock.BUSINESS:
        raise DurationError(_("Business-hours targets are given in hours (a working day is not 24 hours)."))
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def length_text(hours: Decimal, clock: DeadlineClock | None = None) -> str:
    """12 d, 2 d 4 h or 36 h on the calendar clock; business time always in hours."""
    hours = Decimal(hours)
    if clock == DeadlineClock.BUSINESS or hours < HOURS_A_DAY:
        return _("%(hours)s h", hours=format_number(hours.normalize()))
    days, rest = divmod(hours, HOURS_A_DAY)
    if not rest:
        return _("%(days)s d", days=format_number(days))
    return _("%(days)s d %(hours)s h", days=format_number(days), hours=format_number(rest.normalize()))


def clock_text(clock: DeadlineClock) -> str:
    return _("business hours") if clock == DeadlineClock.BUSINESS else _("calendar hours")


def length_with_clock(hours: Decimal, clock: DeadlineClock) -> str:
    """"12 d · calendar hours", "8 h · business hours": the clock goes with every length shown."""
    return f"{length_text(hours, clock)} · {clock_text(clock)}"


def form_text(hours: Decimal, clock: DeadlineClock) -> str:
    """The length as the form shows it for editing ("12 d 4 h", "8 h"), in plain digits parse_length reads."""
    hours = Decimal(hours)
    if clock == DeadlineClock.BUSINESS or hours < HOURS_A_DAY:
        return f"{hours.normalize():f} h"
    days, rest = divmod(hours, HOURS_A_DAY)
    return f"{days:f} d" + (f" {rest.normalize():f} h" if rest else "")
