"""Times, money, durations and messages in the viewer's language and zone, as Babel writes them, but fast.

A queue page formats a few hundred values; through Flask-Babel each one parses the locale again,
looks the request up through several proxies and parses its pattern. Here the locale and zone are
read once per value, Babel's own patterns are parsed once per (locale, zone, format) and kept, and
the output is exactly what Flask-Babel's functions give (tests/test_formatting.py holds them equal).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Literal, cast

from babel import Locale
from babel.dates import (
    TIMEDELTA_UNITS,
    format_timedelta,
    get_date_format,
    get_datetime_format,
    get_time_format,
    parse_pattern,
)
from babel.dates import (
    format_datetime as babel_datetime,
)
from babel.numbers import format_currency
from flask.globals import _cv_app
from flask_babel import get_locale, get_timezone, get_translations
from markupsafe import Markup, escape

_NAMED = ("full", "long", "medium", "short")
_FORMATTERS: dict[tuple[tuple[str | None, ...], tzinfo, str], Callable[[datetime], str]] = {}
_MESSAGES: dict[tuple[tuple[str | None, ...], str], str] = {}
_MAX_MESSAGES = 20_000
_DURATIONS: dict[tuple[object, ...], str] = {}
# Amounts and moments already written, by everything their text depends on: a queue shows the same
# rows to every agent and again on each refresh. Emptied when full, so it holds the recent ones.
# (An amount's key has five parts and a moment's four, so the two never meet.)
_WRITTEN: dict[tuple[object, ...], str] = {}
_MAX_WRITTEN = 20_000
_THRESHOLD = 1.5
_ENGLISH = Locale.parse("en")


def _babel_state() -> object | None:
    """Flask-Babel's per-request namespace, where it keeps the locale and zone once it has chosen them."""
    app_context = _cv_app.get(None)
    return None if app_context is None else app_context.g.__dict__.get("_flask_babel")


def viewer_locale() -> Locale:
    """The locale Flask-Babel chose for this request (force_locale included), without its proxies."""
    state = _babel_state()
    locale = state.__dict__.get("babel_locale") if state is not None else None
    return locale if locale is not None else (get_locale() or _ENGLISH)


def viewer() -> tuple[Locale, tzinfo]:
    """The locale and the zone Flask-Babel chose for this request; reading them where it keeps them
    skips the proxies of get_locale() and get_timezone(), which choose and keep them the first time."""
    state = _babel_state()
    if state is not None:
        locale, zone = state.__dict__.get("babel_locale"), state.__dict__.get("babel_tzinfo")
        if locale is not None and zone is not None:
            return locale, zone
    return get_locale() or _ENGLISH, get_timezone() or UTC


def locale_key(locale: Locale) -> tuple[str | None, ...]:
    """A cheap dictionary key for a locale (Babel's Locale compares slowly)."""
    return (locale.language, locale.territory, locale.script, locale.variant)


def _datetime_formatter(locale: Locale, zone: tzinfo, fmt: str) -> Callable[[datetime], str]:
    """Babel's format_datetime(value, fmt, tzinfo=zone, locale=locale) with its patterns parsed once."""
    if fmt not in _NAMED:
        return lambda value: babel_datetime(value, fmt, tzinfo=zone, locale=locale)
    named = cast(Literal["full", "long", "medium", "short"], fmt)
    glue = str(get_datetime_format(named, locale=locale)).replace("'", "")
    time_pattern = parse_pattern(get_time_format(named, locale=locale))
    date_pattern = parse_pattern(get_date_format(named, locale=locale))
    normalize = getattr(zone, "normalize", None)

    def apply(value: datetime) -> str:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(zone)
        if normalize is not None:  # a pytz zone, as Flask-Babel gives
            value = normalize(value)
        time_text = time_pattern.apply(value.timetz(), locale, reference_date=value.date())
        date_text = date_pattern.apply(value.date(), locale)
        return glue.replace("{0}", time_text).replace("{1}", date_text)

    return apply


def format_dt(value: datetime | None, fmt: str = "medium") -> str:
    """A moment in the viewer's zone and language ("Nov 3, 2026, 10:05:00 AM"); "—" for none."""
    if value is None:
        return "—"
    locale, zone = viewer()
    language = locale_key(locale)
    # Equal moments are the same instant (an aware one equals no naive one), written the same.
    written_key = (language, zone, fmt, value)
    text = _WRITTEN.get(written_key)
    if text is None:
        key = (language, zone, fmt)
        formatter = _FORMATTERS.get(key)
        if formatter is None:
            formatter = _FORMATTERS[key] = _datetime_formatter(locale, zone, fmt)
        text = _remember(written_key, formatter(value))
    return text


def _remember(key: tuple[object, ...], text: str) -> str:
    if len(_WRITTEN) >= _MAX_WRITTEN:
        _WRITTEN.clear()
    _WRITTEN[key] = text
    return text


def time_tag(value: datetime | None, fmt: str = "medium") -> Markup:
    """A <time> element whose text is in the viewer's zone and whose attribute is exact UTC."""
    if value is None:
        return Markup("—")
    return Markup(f'<time datetime="{escape(value.isoformat())}">{escape(format_dt(value, fmt))}</time>')


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    locale = viewer_locale()
    # Equal amounts are written alike whatever their exponent (Babel rounds to the currency's digits).
    key = ("money", locale_key(locale), currency, type(amount), amount)
    text = _WRITTEN.get(key)
    if text is None:
        # The Locale object itself: given its name, Babel would parse it again for every amount.
        text = _remember(key, format_currency(amount, currency, locale=locale))
    return text


def duration(seconds: float) -> str:
    """A span of time in the viewer's language, to the minute ("3 hours", "2 天").

    Babel's words depend only on the unit it picks and the rounded count; that choice is made here
    as Babel makes it, and Babel writes each (language, unit, count) once.
    """
    locale = viewer_locale()
    magnitude = abs(seconds)
    key: tuple[object, ...] = ()
    for unit, size in TIMEDELTA_UNITS:
        value = magnitude / size
        if value >= _THRESHOLD or unit == "minute":
            if unit == "minute" and value > 0:
                value = max(1, value)
            key = (locale_key(locale), unit, int(round(value)))
            break
    text = _DURATIONS.get(key)
    if text is None:
        text = format_timedelta(
            timedelta(seconds=seconds), granularity="minute", threshold=_THRESHOLD, locale=locale
        )
        if len(_DURATIONS) < _MAX_MESSAGES:
            _DURATIONS[key] = text
    return text


def gettext(message: str) -> str:
    """The message in the viewer's language; each (language, message) is looked up once."""
    key = (locale_key(viewer_locale()), message)
    text = _MESSAGES.get(key)
    if text is None:
        text = get_translations().ugettext(message)
        if len(_MESSAGES) < _MAX_MESSAGES:
            _MESSAGES[key] = text
    return text


def countdown(due: datetime | None, now: datetime) -> Markup:
    """How long until a deadline (or how long overdue), with the exact moment as the tooltip."""
    if not due or due.year >= 9999:
        return Markup('<span class="meta">—</span>')
    seconds = (due - now).total_seconds()
    kind = "overdue" if seconds < 0 else ("soon" if seconds < 6 * 3600 else "later")
    if seconds < 0:
        text = Markup(gettext("%(time)s overdue")) % {"time": duration(-seconds)}
    else:
        text = Markup(gettext("in %(time)s")) % {"time": duration(seconds)}
    moment, title = escape(due.isoformat()), escape(format_dt(due, "short"))
    return Markup(f'<time datetime="{moment}" class="due {kind}" title="{title}">{text}</time>')
