"""Error pages in the portal's own layout, and short answers for htmx requests."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from htmx_flask import request
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.domain.attachments import StorageError
from portal.pagination import BadCursor

TITLES = {
    400: _l("Bad request"),
    401: _l("Please sign in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    409: _l("Changed by someone else"),
    413: _l("File too large"),
    503: _l("Not saved"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
}
EXPLANATIONS = {
    400: _l("The request could not be understood. Go back and try again."),
    401: _l("Your session has ended. Sign in again to continue."),
    403: _l("Your role does not give access to this page. Ask an administrator if you need it."),
    404: _l("There is nothing at this address. It may have been moved or never existed."),
    405: _l("This address does not accept that kind of request."),
    409: _l("Someone else changed this record while you were working on it. Reload to see their change."),
    413: _l("The file is larger than the portal accepts."),
    500: _l("The portal hit an unexpected error. It has been logged; try again in a moment."),
}


STORES = {
    "attachments": _l("the attachment store (evidence files, PDFs and imported files)"),
    "exports": _l("the exports folder"),
}
REASONS = {
    "full": _l("the disk is full"),
    "read_only": _l("the portal may not write there"),
    "other": _l("the disk reported an error"),
}


def storage_message(error: StorageError) -> str:
    """What could not be saved and why, for the person who tried and for whoever fixes the server."""
    return str(
        _l(
            "Nothing was saved: %(store)s could not be written (%(reason)s). "
            "Tell your administrator; the details are in the portal's log.",
            store=STORES.get(error.what, error.what),
            reason=REASONS[error.reason],
        )
    )


def error_page(code: int, detail: str | None = None) -> Any:
    """The error page (or its fragment for htmx) with this status and an explanation."""
    return _render(code, detail)


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _render(code: int, detail: str | None = None) -> Any:
    if _wants_json():
        # Whatever failed before the API's own handlers could answer, an API client still gets JSON.
        from portal.api.errors import ApiError, error_response

        return error_response(ApiError(code, detail)), code
    template = "errors/_error.html" if request.htmx else "errors/error.html"
    return render_template(
        template,
        code=code,
        title=TITLES.get(code, TITLES[500]),
        explanation=detail or EXPLANATIONS.get(code, EXPLANATIONS[500]),
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Any:
        return _render(
            400, str(_l("The form expired or did not come from this portal. Reload the page and try again."))
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if error.code is None or error.code < 400:
            return error
        return _render(error.code)

    @app.errorhandler(StorageError)
    def storage_error(error: StorageError) -> Any:
        return _render(503, storage_message(error))

    @app.errorhandler(BadCursor)
    def bad_cursor(error: BadCursor) -> Any:
        return _render(
            400,
            str(_l("This page link is damaged or out of date (its “after” or “cursor” value). "
                   "Start again from the first page.")),
        )

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Any:
        return _render(500)
