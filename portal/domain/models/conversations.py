"""Message templates as ops managers edit them, and macros: one click that acts and tells the buyer."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.users import User


class MessageTemplateVersion(CreatedAt, Base):
    """One saved text of a template for one purpose and language; the newest version is in force.

    An empty `body` means the ops manager went back to the shipped default text.
    """

    __tablename__ = "message_template_versions"
    __table_args__ = (UniqueConstraint("purpose", "language", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8))
    number: Mapped[int]
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()


class Macro(CreatedAt, Base):
    """A named list of actions in the policy language's action syntax, applied to a case in one step."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str | None] = mapped_column(String(200))
    actions: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User | None] = relationship()
