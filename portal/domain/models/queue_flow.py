"""The agents' queue flow: saved personal views, who has a case open, availability and auto-assignment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Market
from portal.domain.models.users import User
from portal.domain.types import utcnow


class SavedView(CreatedAt, Base):
    """A user's named set of queue filters and sort, kept as the queue's query string."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000))


class CasePresence(Base):
    """A user had a case open at `seen_at` (their page sends a heartbeat); stale rows mean gone."""

    __tablename__ = "case_presence"
    __table_args__ = (Index("ix_case_presence_seen", "seen_at"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class AgentAvailability(Base):
    """An agent's shift and away switch: on shift within their market's business hours unless away."""

    __tablename__ = "agent_availability"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    away: Mapped[bool] = mapped_column(default=False)
    # Whose business hours make the agent's shift; none: the agent works whenever the portal does.
    market_id: Mapped[int | None] = mapped_column(ForeignKey("markets.id"))
    # The round robin hands the next case to the available agent who got one longest ago.
    last_assigned_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    market: Mapped[Market | None] = relationship()


class AutoAssignQueue(Base):
    """Automatic assignment of a named queue's unassigned open cases, with a cap of open cases per agent."""

    __tablename__ = "auto_assign_queues"

    queue: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    cap: Mapped[int] = mapped_column(default=20)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
