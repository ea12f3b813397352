"""Dates written the way each demo buyer's language writes them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def date_text(when: datetime, timezone: str, language: str) -> str:
    local = when.astimezone(ZoneInfo(timezone))
    if language == "de":
        return local.strftime("%d.%m.%Y")
    if language == "zh":
        return f"{local.year}年{local.month}月{local.day}日"
    if language == "ms":
        return local.strftime("%d/%m/%Y")
    return local.strftime("%d %b %Y")
