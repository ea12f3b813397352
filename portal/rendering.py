"""One helper decides whether a request gets the whole page or just its fragment."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, url_for
from htmx_flask import request


def wants_fragment() -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def render(page: str, fragment: str | None = None, /, status: int = 200, **context: Any) -> Response:
    """Render `page`, or only `fragment` for an htmx request that asked for a piece of the page."""
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def next_page_url(cursor: str | None) -> str | None:
    """The current view's address with the same filters, starting after `cursor`."""
    if cursor is None or request.endpoint is None:
        return None
    args = {key: value for key, value in request.args.items() if key != "after"}
    return url_for(request.endpoint, **(request.view_args or {}), **args, after=cursor)
