"""Every error under /api/v1 as JSON: {"error": {"code", "message", "details"}}, never an HTML page."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    500: "internal_error",
}
MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Send a valid API token as “Authorization: Bearer <token>”."),
    403: _l("The token's role does not allow this."),
    404: _l("There is nothing at this address."),
    405: _l("This address does not accept that method."),
    409: _l("The case's state does not allow this."),
    412: _l("The case changed since the version given in If-Match."),
    413: _l("The request body is larger than the portal accepts."),
    415: _l("The request body has a media type this address does not accept."),
    422: _l("Some values are missing or not valid."),
    500: _l("The portal hit an unexpected error. It has been logged; try again in a moment."),
}


class ApiError(Exception):
    """An error answered as JSON with this status, machine-readable code and human message."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or CODES.get(status, "error"))
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message or str(MESSAGES.get(status, MESSAGES[500]))
        self.details = details
        self.headers = headers or {}


def invalid(fields: dict[str, list[str]]) -> ApiError:
    """A 422 naming what is wrong with each field."""
    return ApiError(422, details={"fields": fields})


def error_response(error: ApiError) -> Response:
    response = current_app.json.response(
        {"error": {"code": error.code, "message": error.message, "details": error.details}}
    )
    response.status_code = error.status
    response.headers.update(error.headers)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return cast(Response, response)


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return error_response(ApiError(status, headers=headers))


def _from_validation(error: ValidationError) -> Response:
    fields: dict[str, list[str]] = {}
    for problem in error.errors(include_url=False):
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        if problem["type"] in {"union_tag_not_found", "union_tag_invalid"}:
            where = "event"
        fields.setdefault(where, []).append(problem["msg"])
    return error_response(invalid(fields))


def _unrouted() -> ResponseReturnValue | None:
    """No route matched: under the API prefix that is a JSON 404 or 405 too.

    Blueprint error handlers never see these, as no route (hence no blueprint) was found.
    """
    failure = request.routing_exception
    prefix = current_app.blueprints["api"].url_prefix or ""
    if (
        isinstance(failure, HTTPException)
        and (failure.code or 0) >= 400
        and (request.path == prefix or request.path.startswith(prefix + "/"))
    ):
        return _from_http(failure)
    return None


def translated(message: str, params: dict[str, Any]) -> str:
    return gettext(message, **params)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(ApiError, error_response)
    bp.register_error_handler(ValidationError, _from_validation)
    bp.register_error_handler(HTTPException, _from_http)

    @bp.record_once
    def _on_app(state: Any) -> None:
        app: Flask = state.app
        app.before_request(_unrouted)
