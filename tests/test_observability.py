"""Operating the portal: request ids in and out, JSON log lines, Prometheus metrics behind a token, the
scheduler's restarts on its health page, and error reporting only when configured."""

from __future__ import annotations

import json
import logging
import sys
import types
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from support.factories import make_case, shop_with_market

from portal.domain.enums import DeadlineKind, DeadlineState, MessageDirection, MessageStatus, Role
from portal.domain.models import Deadline, Message, SchedulerHeartbeat
from portal.domain.types import utcnow
from portal.observability import logs, reporting
from portal.supervision import Supervision


def test_a_request_id_is_kept_from_the_caller_or_made_and_always_returned(client: FlaskClient) -> None:
    given = client.get("/login", headers={"X-Request-Id": "lb-7f3a.42"})
    assert given.headers["X-Request-Id"] == "lb-7f3a.42"
    made = client.get("/login")
    assert len(made.headers["X-Request-Id"]) == 32
    hostile = client.get("/login", headers={"X-Request-Id": "x\u202e" + "y" * 300})
    assert hostile.headers["X-Request-Id"].isalnum() and len(hostile.headers["X-Request-Id"]) == 32
    assert client.get("/no-such-page", headers={"X-Request-Id": "abc"}).headers["X-Request-Id"] == "abc"


def test_each_request_writes_one_json_line_with_its_id(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portal.requests")
    client.get("/login", headers={"X-Request-Id": "req-1"})
    [record] = [r for r in caplog.records if r.name == "portal.requests"]
    line = json.loads(logs.JsonFormatter("web").format(record))
    assert line["request_id"] == "req-1" and line["process"] == "web" and line["level"] == "info"
    assert line["method"] == "GET" and line["path"] == "/login" and line["status"] == 200
    assert line["endpoint"] == "auth.login" and line["duration_ms"] >= 0


def test_json_lines_carry_exceptions_and_the_current_id() -> None:
    logs.stamp_records()
    formatter = logs.JsonFormatter("scheduler")
    with logs.correlated("tick-9"):
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("portal.scheduler").makeRecord(
                "portal.scheduler", logging.ERROR, __file__, 1, "sweep %s", ("failed",), sys.exc_info()
            )
    line = json.loads(formatter.format(record))  # formatted later, elsewhere: the id stays with it
    assert line["message"] == "sweep failed" and line["request_id"] == "tick-9"
    assert "ValueError: boom" in line["exception"]


def test_metrics_need_the_token(app: Flask, client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 401  # no token configured: no metrics at all
    app.config["METRICS_TOKEN"] = "s3cret-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics?token=s3cret-token").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200


def test_metrics_count_requests_and_read_the_backlog_from_the_database(
    app: Flask, db: Session, client: FlaskClient
) -> None:
    now = utcnow()
    _shop, market = shop_with_market(db)
    case = make_case(db, market)
    db.add_all([
        Deadline(case=case, name="chase", kind=DeadlineKind.POLICY, due_at=now - timedelta(minutes=5),
                 state=DeadlineState.PENDING),
        Deadline(case=case, name="done", kind=DeadlineKind.POLICY, due_at=now - timedelta(hours=1),
                 state=DeadlineState.FIRED, fired_at=now - timedelta(minutes=50), fired_late=True),
        *(Message(case=case, direction=MessageDirection.OUTBOUND, status=status, language="en", body="hi")
          for status in (MessageStatus.QUEUED, MessageStatus.FAILED, MessageStatus.FAILED)),
        SchedulerHeartbeat(name="host:9:scheduler", pid=9, started_at=now, last_sweep_at=now,
                           last_lag_seconds=1.5, restarts=2, last_exit_code=-9, last_exit_at=now),
    ])
    db.commit()
    app.config["METRICS_TOKEN"] = "t"
    client.get("/login")
    body = client.get("/metrics", headers={"Authorization": "Bearer t"}).get_data(as_text=True)
    samples = dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
    assert float(samples['portal_http_requests_total{endpoint="auth.login",method="GET",status="200"}']) >= 1
    bucket = 'portal_http_request_duration_seconds_bucket{endpoint="auth.login",le="0.5",method="GET"}'
    assert float(samples[bucket]) >= 1
    assert float(samples["portal_deadlines_due"]) == 1
    assert float(samples["portal_deadlines_fired_late_24h"]) == 1
    assert float(samples['portal_outbox_messages{state="queued"}']) == 1
    assert float(samples['portal_outbox_messages{state="failed"}']) == 2
    assert float(samples['portal_scheduler_lag_seconds{scheduler="host:9:scheduler"}']) == 1.5
    assert float(samples['portal_scheduler_restarts{scheduler="host:9:scheduler"}']) == 2
    assert float(samples["portal_schedulers_alive"]) == 1
    assert any(key.startswith("portal_queue_open_cases{") for key in samples)


def test_health_page_shows_restarts_and_how_the_last_run_ended(
    db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    now = utcnow()
    db.add(SchedulerHeartbeat(name="host:4:scheduler", pid=4, started_at=now, last_sweep_at=now,
                              restarts=3, last_exit_code=-9, last_exit_at=now - timedelta(minutes=1)))
    db.commit()
    html = login(Role.ADMIN).get("/admin/scheduler").get_data(as_text=True)
    assert "Restarts" in html and ">3<br>" in html and "last exit SIGKILL at" in html


def test_supervision_round_trips_through_the_environment() -> None:
    now = utcnow().replace(microsecond=0)
    told = Supervision("host:1:scheduler", 4, -9, now)
    assert Supervision.from_environ(told.environ()) == told
    assert Supervision.from_environ({}) is None
    garbled = {"PORTAL_PROCESS_NAME": "x", "PORTAL_RESTARTS": "lots", "PORTAL_LAST_EXIT_AT": "?"}
    assert Supervision.from_environ(garbled) == Supervision("x")


def test_error_reporting_starts_only_with_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []
    fake = types.ModuleType("sentry_sdk")
    fake.init = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentry_sdk", fake)
    monkeypatch.setattr(reporting, "_initialised", None)
    assert reporting.init("") is False and calls == []
    assert reporting.init("https://key@sentry.example.test/1", "staging") is True
    assert reporting.init("https://key@sentry.example.test/1") is True  # once per process
    assert len(calls) == 1 and calls[0]["dsn"] == "https://key@sentry.example.test/1"
    assert calls[0]["environment"] == "staging" and calls[0]["send_default_pii"] is False
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # not installed: a warning, no crash
    monkeypatch.setattr(reporting, "_initialised", None)
    assert reporting.init("https://key@sentry.example.test/1") is False
