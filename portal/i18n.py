"""Language and time zone of the person looking at the page, and the filters that use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from flask import Flask, current_app, request, session
from flask_babel import Babel, format_datetime, get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from portal.domain.types import utcnow
from portal.labels import label, purpose_label

babel = Babel()


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    return request.accept_languages.best_match(list(languages)) or "en"


def select_timezone() -> str:
    if current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return session.get("timezone") or current_app.config["BABEL_DEFAULT_TIMEZONE"]


def valid_timezone(name: str) -> bool:
    return name in _timezones()


_TIMEZONES: frozenset[str] | None = None


def _timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    return _TIMEZONES


def timezone_choices() -> list[str]:
    return sorted(name for name in _timezones() if "/" in name and not name.startswith(("Etc/", "SystemV/")))


def format_dt(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return format_datetime(value, fmt)


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return "—"
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=str(get_locale()))


def duration(seconds: float) -> str:
    """A span of time in the viewer's language, to the minute ("3 hours", "2 天")."""
    from babel.dates import format_timedelta

    return format_timedelta(
        timedelta(seconds=seconds), granularity="minute", threshold=1.5, locale=str(get_locale())
    )


def format_number(value: float | int | None) -> str:
    """A count in the viewer's locale (1,234 / 1,234)."""
    if value is None:
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(value, locale=str(get_locale()))


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def time_tag(value: datetime | None, fmt: str = "medium") -> Markup:
    """A <time> element whose text is in the viewer's zone and whose attribute is exact UTC."""
    if value is None:
        return Markup("—")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), escape(format_dt(value, fmt)))


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.filters["dt"] = format_dt
    app.jinja_env.filters["time"] = time_tag
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["purpose"] = purpose_label
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.globals["money"] = format_money
    app.jinja_env.globals["duration"] = duration
    app.jinja_env.globals["now"] = utcnow
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
