"""Language and time zone of the person looking at the page, and the filters that use them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, available_timezones

from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user

from portal import formatting
from portal.actor_labels import actor_label
from portal.domain.types import utcnow
from portal.formatting import duration, format_dt, format_money, time_tag
from portal.labels import action_label, event_label, label, origin_label, purpose_label

__all__ = ["duration", "format_dt", "format_money", "format_number", "in_zone", "init_app", "time_tag"]

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


def format_number(value: float | int | None) -> str:
    """A count in the viewer's locale (1,234 / 1,234)."""
    if value is None:
        return "—"
    from babel.numbers import format_decimal

    return format_decimal(value, locale=str(get_locale()))


def in_zone(value: datetime, zone: str) -> datetime:
    return value.astimezone(ZoneInfo(zone))


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # Flask-Babel's callables, except that `_()` remembers each message per language (portal.formatting).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=formatting.gettext,
        ngettext=lambda s, p, n: get_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: get_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: get_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["countdown_html"] = formatting.countdown
    app.jinja_env.filters["dt"] = format_dt
    app.jinja_env.filters["time"] = time_tag
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["actor"] = actor_label
    app.jinja_env.filters["purpose"] = purpose_label
    app.jinja_env.filters["action"] = action_label
    app.jinja_env.filters["event"] = event_label
    app.jinja_env.filters["origin"] = origin_label
    app.jinja_env.filters["number"] = format_number
    app.jinja_env.globals["money"] = format_money
    app.jinja_env.globals["duration"] = duration
    app.jinja_env.globals["now"] = utcnow
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
