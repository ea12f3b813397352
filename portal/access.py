"""Who may open which page: every endpoint declares its roles, and anything undeclared is denied."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, redirect, url_for
from flask_login import current_user
from htmx_flask import make_response as htmx_response
from htmx_flask import request

from portal.domain.enums import Role

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.OPS_MANAGER, Role.CS_AGENT, Role.ADMIN})


def allow(*roles: Role | Iterable[Role]) -> Callable[[F], F]:
    """Let signed-in users with one of these roles in; everyone else gets 403."""
    allowed: set[Role] = set()
    for role in roles:
        allowed.update([role] if isinstance(role, Role) else role)

    def decorate(view: F) -> F:
        view._allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: F) -> F:
    """Open to anonymous visitors (login page, health check, signed webhooks)."""
    view._public = True  # type: ignore[attr-defined]
    return view


def allowed_roles(endpoint: str) -> frozenset[Role] | None:
    """The roles an endpoint admits; None when it is public."""
    view = current_app.view_functions[endpoint]
    if getattr(view, "_public", False):
        return None
    return getattr(view, "_allowed_roles", frozenset())


def can(endpoint: str) -> bool:
    """Whether the current user may open an endpoint; templates use it to build navigation."""
    roles = allowed_roles(endpoint)
    if roles is None:
        return True
    return bool(current_user.is_authenticated and current_user.role in roles)


def _enforce() -> Any:
    if request.endpoint is None:
        return None  # 404 or 405 follows from routing
    if request.endpoint == "static":
        return None
    roles = allowed_roles(request.endpoint)
    if roles is None:
        return None
    if not current_user.is_authenticated:
        login_url = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
        if request.htmx:
            return htmx_response("", 401, redirect=login_url)
        return redirect(login_url)
    if current_user.role not in roles:
        abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(_enforce)
    app.jinja_env.globals["can"] = can
