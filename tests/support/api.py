"""Helpers for the JSON API tests: a token per role and its Authorization header."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.domain.api_tokens import create_token
from portal.domain.enums import Role


def make_token(db: Session, role: Role, name: str | None = None) -> str:
    new = create_token(db, name or f"test {role.value}", role)
    db.commit()
    return new.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
