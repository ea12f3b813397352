"""People who sign in to the portal, and their preferences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.domain.enums import Role
from portal.domain.models.base import Base, CreatedAt
from portal.domain.types import str_enum


class User(CreatedAt, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    # Second factor (TOTP): the secret is set at enrolment and counts once confirmed (enabled_at). It is
    # kept encrypted in totp_sealed; totp_secret is the plain column of before, read until the secret is
    # sealed (at the user's next right code, or by `shops rotate-keys`) and empty after.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_sealed: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None]
    # The time step of the last accepted code, so one code cannot be used twice.
    totp_last_step: Mapped[int | None]

    # Flask-Login's protocol, kept here so the model needs no Flask import.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)
