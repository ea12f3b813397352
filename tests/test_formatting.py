"""The fast formatters give exactly what Flask-Babel and Babel give, in every language and zone we show."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import flask_babel
import pytest
from babel.dates import format_timedelta
from babel.numbers import format_currency
from flask import Flask, session
from support.app import make_test_app

from portal import formatting

# The countdown as the queue template wrote it before it moved into Python.
OLD_COUNTDOWN = """{%- if due and due.year < 9999 -%}
{%- set seconds = (due - now).total_seconds() -%}
<time datetime="{{ due.isoformat() }}" class="due {{ 'overdue' if seconds < 0 else ('soon' if seconds < 6 * 3600 else 'later') }}" title="{{ due|dt('short') }}">
{%- if seconds < 0 %}{{ _("%(time)s overdue", time=duration(-seconds)) }}{% else %}{{ _("in %(time)s", time=duration(seconds)) }}{% endif -%}
</time>
{%- else -%}<span class="meta">—</span>{%- endif -%}"""  # noqa: E501

VIEWERS = [("en", "UTC"), ("en", "America/New_York"), ("zh", "Asia/Shanghai"), ("zh", "Europe/London")]
MOMENTS = [
    datetime(2026, 11, 3, 10, 5, 7, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),  # New York springs forward at 07:00 UTC
    datetime(2026, 3, 8, 7, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # London falls back at 01:00 UTC
    datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2026, 7, 1, 12, 0),  # naive: UTC, as Flask-Babel takes it
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder: Path = tmp_path_factory.mktemp("formatting")
    application = make_test_app(f"sqlite:///{folder / 'f.db'}", folder)
    yield application


@pytest.fixture(params=VIEWERS, ids=[f"{lang}-{zone}" for lang, zone in VIEWERS])
def viewer(request: pytest.FixtureRequest, app: Flask) -> Iterator[tuple[str, str]]:
    lang, zone = request.param
    with app.test_request_context("/", headers={"Accept-Language": lang}):
        session["timezone"] = zone
        yield lang, zone


@pytest.mark.parametrize("fmt", ["short", "medium", "long", "full", "yyyy-MM-dd HH:mm zzzz"])
def test_times_match_flask_babel(viewer: tuple[str, str], fmt: str) -> None:
    for moment in MOMENTS:
        assert formatting.format_dt(moment, fmt) == flask_babel.format_datetime(moment, fmt), moment
    assert formatting.format_dt(None) == "—"


def test_time_tags_and_money_and_durations_match_babel(viewer: tuple[str, str]) -> None:
    lang, _zone = viewer
    moment = MOMENTS[0]
    assert formatting.time_tag(moment, "short") == (
        f'<time datetime="{moment.isoformat()}">{flask_babel.format_datetime(moment, "short")}</time>'
    )
    for amount in ("12.50", "0", "-3.10", "1234567.891", "99.995"):
        for currency in ("USD", "JPY", "EUR", "GBP", "MYR", "VND"):
            expected = format_currency(Decimal(amount), currency, locale=lang)
            assert formatting.format_money(Decimal(amount), currency) == expected, (amount, currency)
    boundaries = (0, 0.4, 29.9, 30, 59, 89.9, 90, 3599, 3600, 5399, 5400, 86399, 86400 * 3 + 7, -5000)
    for seconds in (*boundaries, *range(-200_000, 40_000_000, 9_973)):
        span = timedelta(seconds=seconds)
        expected = format_timedelta(span, granularity="minute", threshold=1.5, locale=lang)
        assert formatting.duration(seconds) == expected, seconds


def test_messages_and_countdowns_match_the_templates(app: Flask, viewer: tuple[str, str]) -> None:
    for message in ("escalated", "waiting", "in %(time)s", "Show more", "no such message"):
        assert formatting.gettext(message) == flask_babel.gettext(message)
    old = app.jinja_env.from_string(OLD_COUNTDOWN)
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    for due in [None, datetime(9999, 12, 31, tzinfo=UTC), *(now + timedelta(seconds=s) for s in
                (-90000, -61, -1, 0, 59, 3600, 6 * 3600 - 1, 6 * 3600, 86400 * 2 + 3600))]:
        assert formatting.countdown(due, now) == old.render(due=due, now=now), due


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_money_outside_a_request_follows_the_forced_language(app: Flask, lang: str) -> None:
    # PDF exports format amounts in an app context of their own, with no request and no signed-in user.
    with app.app_context(), flask_babel.force_locale(lang):
        expected = format_currency(Decimal("12.5"), "EUR", locale=lang)
        assert formatting.format_money(Decimal("12.5"), "EUR") == expected
        assert formatting.duration(7200) == format_timedelta(timedelta(hours=2), threshold=1.5, locale=lang)


def test_a_forced_language_is_followed(app: Flask) -> None:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        english = formatting.gettext("in %(time)s")
        with flask_babel.force_locale("zh"):
            assert formatting.gettext("in %(time)s") == flask_babel.gettext("in %(time)s") != english
            assert formatting.format_dt(MOMENTS[0]) == flask_babel.format_datetime(MOMENTS[0])
        assert formatting.gettext("in %(time)s") == english


def test_written_amounts_and_moments_are_kept_within_a_bound(
    viewer: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Amounts and moments are written once and kept, per language and zone, and the store stays bounded:
    the answers are Babel's whether they come from it or not."""
    lang, _zone = viewer
    monkeypatch.setattr(formatting, "_WRITTEN", {})
    monkeypatch.setattr(formatting, "_MAX_WRITTEN", 7)
    for _ in range(3):
        for cents in range(0, 2000, 97):
            amount = Decimal(cents) / 100
            assert formatting.format_money(amount, "EUR") == format_currency(amount, "EUR", locale=lang)
            assert len(formatting._WRITTEN) <= 7
        for moment in MOMENTS:
            assert formatting.format_dt(moment, "short") == flask_babel.format_datetime(moment, "short")
            assert len(formatting._WRITTEN) <= 7
    # The same amount in another currency, and the same moment in another format, are written anew.
    for currency in ("JPY", "USD"):
        expected = format_currency(Decimal("12.5"), currency, locale=lang)
        assert formatting.format_money(Decimal("12.5"), currency) == expected
    assert formatting.format_dt(MOMENTS[0], "long") == flask_babel.format_datetime(MOMENTS[0], "long")
