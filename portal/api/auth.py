"""Bearer-token sign-in for the API: the token stands in for a user of its role, for one request only.

The check runs as the blueprint's URL value preprocessor because Flask runs those before any
before_request function: the portal-wide role check (portal.access) then sees the token's role as the
current user's, so routes declare roles with @allow like every other page. The session cookie is never
consulted here, so a signed-in browser cannot reach the API (and CSRF does not apply to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, g, request
from flask_babel import gettext

from portal.access import allowed_roles
from portal.api.errors import ApiError
from portal.db import db_session
from portal.domain import api_tokens
from portal.domain.enums import Role
from portal.domain.lifecycle import Actor
from portal.domain.models import ApiToken


@dataclass(frozen=True)
class ApiClient:
    """The current user while a token's request runs (what Flask-Login and portal.access ask of a user)."""

    token_id: int
    name: str
    role: Role
    locale: str | None = None
    timezone: str | None = None
    is_authenticated: bool = field(default=True, init=False)
    is_active: bool = field(default=True, init=False)
    is_anonymous: bool = field(default=False, init=False)

    def get_id(self) -> str:
        return f"api-token:{self.token_id}"


def current_token() -> ApiToken:
    return g.api_token  # type: ignore[no-any-return]


def actor() -> Actor:
    """How the token's changes appear on case timelines and in the audit log."""
    token = current_token()
    return Actor.system(f"API token “{token.name}” ({token.prefix}…)"[:64])


def _authenticate(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if endpoint is None or allowed_roles(endpoint) is None:
        return  # public: the OpenAPI document
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401)
    token = api_tokens.find_active(db_session(), secret.strip())
    if token is None:
        raise ApiError(401, gettext("The API token is unknown or has been revoked."), code="invalid_token")
    g.api_token = token
    current_app.login_manager._update_request_context_with_user(  # type: ignore[attr-defined]
        ApiClient(token.id, token.name, token.role)
    )


def register(bp: Blueprint) -> None:
    bp.url_value_preprocessor(_authenticate)
