"""A request id for every request (`X-Request-Id` in and out), and one log line per request served."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from portal.observability import logs, metrics

log = logging.getLogger("portal.requests")

HEADER = "X-Request-Id"
# A caller's id is kept when it is short and plain (a proxy's or a load balancer's); anything else is
# replaced, so nothing hostile reaches the logs or the response headers.
_ACCEPTED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    rid = given if _ACCEPTED.fullmatch(given) else uuid.uuid4().hex
    g.request_id = rid
    g.request_started = time.perf_counter()
    g.request_id_token = logs.request_id.set(rid)


def _finish(response: Response) -> Response:
    rid = g.get("request_id")
    if rid:
        response.headers[HEADER] = rid
    started = g.get("request_started")
    if started is not None:
        seconds = time.perf_counter() - started
        endpoint = request.endpoint or "unmatched"
        metrics.observe_request(request.method, endpoint, response.status_code, seconds)
        if endpoint != "static":
            log.info("%s %s %s", request.method, request.path, response.status_code, extra={
                "method": request.method, "path": request.path, "endpoint": endpoint,
                "status": response.status_code, "duration_ms": round(seconds * 1000, 1),
            })
    return response


def _end(_error: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
