"""How long each deadline runs in each market, and when each market's team is at work."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.enums import CaseType, DeadlineClock
from portal.domain.models.base import Base
from portal.domain.types import str_enum, utcnow


class DeadlineSetting(Base):
    """A market's (and optionally a case type's) own length for one of the portal's deadlines.

    The deadlines themselves, and when they start and stop, are defined in code
    (portal.domain.deadline_rules); a row here only changes how long one runs, on which clock,
    or switches it off. The most specific row wins: market and type, then market, then type, then none.
    """

    __tablename__ = "deadline_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    market_id: Mapped[int | None] = mapped_column(ForeignKey("markets.id"), index=True)
    case_type: Mapped[CaseType | None] = mapped_column(str_enum(CaseType))
    name: Mapped[str] = mapped_column(String(64))
    hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    clock: Mapped[DeadlineClock] = mapped_column(str_enum(DeadlineClock))
    enabled: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class BusinessCalendarSetting(Base):
    """A market's opening hours, working days and closed days; markets without a row use the default."""

    __tablename__ = "business_calendars"

    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"), primary_key=True)
    opens: Mapped[str] = mapped_column(String(5))  # "09:00", in the market's time zone
    closes: Mapped[str] = mapped_column(String(5))
    weekdays: Mapped[list[int]] = mapped_column(JSON)  # Monday = 0
    public_holidays: Mapped[bool] = mapped_column(default=True)
    closed_days: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ISO dates
    # Each weekday's opening ranges, Monday first: [[["09:00", "12:00"], ["13:00", "18:00"]], [], ...].
    # Empty (rows saved before ranges existed): every weekday in `weekdays` runs from `opens` to `closes`,
    # which are still kept as the earliest opening and the latest closing.
    week: Mapped[list[Any] | None] = mapped_column(JSON)
    closed_day_notes: Mapped[dict[str, str] | None] = mapped_column(JSON)  # ISO date -> why it is closed
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
