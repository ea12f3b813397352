"""Error pages in the portal's own layout, and short answers for htmx requests."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

TITLES = {
    400: _l("Bad request"),
    401: _l("Please sign in"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    405: _l("Not allowed"),
    409: _l("Changed by someone else"),
    413: _l("File too large"),
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


def _render(code: int, detail: str | None = None) -> tuple[str, int]:
    template = "errors/_error.html" if request.headers.get("HX-Request") == "true" else "errors/error.html"
    return render_template(
        template,
        code=code,
        title=TITLES.get(code, TITLES[500]),
        explanation=detail or EXPLANATIONS.get(code, EXPLANATIONS[500]),
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return _render(
            400, str(_l("The form expired or did not come from this portal. Reload the page and try again."))
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
        if error.code is None or error.code < 400:
            return error
        return _render(error.code)

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> tuple[str, int]:
        return _render(500)
