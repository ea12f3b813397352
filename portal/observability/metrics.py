"""Prometheus metrics at `/metrics`, for a scraper holding METRICS_TOKEN.

Request counts and latencies are counted in each web worker; under gunicorn (`portal.gunicorn_conf`)
every worker writes them to PROMETHEUS_MULTIPROC_DIR and a scrape adds them up, whichever worker
answers. Everything else (queue depths, deadlines due and late, the outbox, scheduler lag and
restarts, background jobs) is read from the database at scrape time, so it is the same from every
worker and counts the scheduler's and the workers' work without their having to serve metrics.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.access import public

REQUESTS = Counter("portal_http_requests", "HTTP requests served", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "portal_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def observe_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, endpoint, str(status)).inc()
    LATENCY.labels(method, endpoint).observe(seconds)


class DatabaseCollector(Collector):
    """Gauges read from the database when scraped."""

    def __init__(self, session: Session, interval_seconds: float,
                 queue_counts: Callable[[], list[tuple[str, int]]]) -> None:
        self.session = session
        self.interval_seconds = interval_seconds
        self.queue_counts = queue_counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from portal.domain import deadlines
        from portal.domain.enums import MessageDirection, MessageStatus
        from portal.domain.models import Job, MarketplaceCommand, MarketplaceEvent, Message
        from portal.domain.types import utcnow

        session, now = self.session, utcnow()
        queues = GaugeMetricFamily("portal_queue_open_cases", "Open cases per queue", labels=["queue"])
        for queue, count in self.queue_counts():
            queues.add_metric([str(queue)], count)
        yield queues

        health = deadlines.health(session, now, self.interval_seconds)
        yield GaugeMetricFamily("portal_deadlines_pending", "Deadlines waiting to fire", value=health.pending)
        yield GaugeMetricFamily("portal_deadlines_due", "Pending deadlines already due (not fired yet)",
                                value=health.backlog)
        oldest = (now - health.oldest_due).total_seconds() if health.oldest_due else 0.0
        yield GaugeMetricFamily("portal_deadlines_oldest_due_seconds",
                                "How long the oldest due deadline has waited", value=oldest)
        yield GaugeMetricFamily("portal_deadlines_fired_late_24h",
                                "Deadlines fired late in the last 24 hours", value=health.late_last_day)
        yield GaugeMetricFamily("portal_deadlines_retrying", "Deadlines that failed and will be retried",
                                value=health.retrying)

        lag = GaugeMetricFamily("portal_scheduler_lag_seconds", "Lag of each scheduler's last sweep",
                                labels=["scheduler"])
        since = GaugeMetricFamily("portal_scheduler_seconds_since_sweep",
                                  "Seconds since each scheduler's last sweep", labels=["scheduler"])
        restarts = GaugeMetricFamily("portal_scheduler_restarts", "Restarts of each supervised scheduler",
                                     labels=["scheduler"])
        for status in health.schedulers:
            lag.add_metric([status.beat.name], status.beat.last_lag_seconds or 0.0)
            since.add_metric([status.beat.name], status.seconds_since if status.seconds_since is not None
                             else float("inf"))
            restarts.add_metric([status.beat.name], status.beat.restarts or 0)
        yield from (lag, since, restarts)
        yield GaugeMetricFamily("portal_schedulers_alive", "Schedulers that swept recently",
                                value=sum(1 for s in health.schedulers if s.alive))

        def grouped(column: Any, *where: Any) -> dict[str, int]:
            rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
            return {str(value): int(count) for value, count in rows}

        outbox = GaugeMetricFamily("portal_outbox_messages", "Outbound buyer messages by state",
                                   labels=["state"])
        messages = grouped(Message.status, Message.direction == MessageDirection.OUTBOUND,
                           Message.status.in_([MessageStatus.QUEUED, MessageStatus.FAILED]))
        for state in ("queued", "failed"):
            outbox.add_metric([state], messages.get(state, 0))
        yield outbox
        commands = GaugeMetricFamily("portal_marketplace_commands", "Decisions for the marketplace by state",
                                     labels=["state"])
        found = grouped(MarketplaceCommand.state, MarketplaceCommand.state != "sent")
        for state in sorted({"pending", "sending", "failed"} | set(found)):
            commands.add_metric([state], found.get(state, 0))
        yield commands
        inbox = grouped(MarketplaceEvent.state, MarketplaceEvent.state == "pending")
        yield GaugeMetricFamily("portal_marketplace_inbox_pending", "Marketplace notifications to process",
                                value=inbox.get("pending", 0))
        jobs = GaugeMetricFamily("portal_jobs", "Background jobs queued or running", labels=["status"])
        running = grouped(Job.status, Job.status.in_(["queued", "running"]),
                          Job.created_at >= now - timedelta(days=7))
        for state in ("queued", "running"):
            jobs.add_metric([state], running.get(state, 0))
        yield jobs


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN", "")
    if not token:
        return False  # metrics are off until a token is configured
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


@public  # guarded by METRICS_TOKEN instead of a signed-in user
def metrics_view() -> Response:
    if not _authorised():
        return Response("A valid metrics token is required.\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    from portal.cache import app_cache
    from portal.db import db_session
    from portal.domain.queue import queue_counts
    from portal.domain.types import utcnow

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        process_metrics = generate_latest(registry)
    else:
        process_metrics = generate_latest(REGISTRY)
    database = CollectorRegistry()
    session, app = db_session(), current_app._get_current_object()  # type: ignore[attr-defined]

    def queues() -> list[tuple[str, int]]:
        # Counting open cases per queue is the one costly query: as old as the queue page's counts may be.
        return app_cache(app).get(("metrics", "queue_counts"), app.config["QUEUE_COUNTS_SECONDS"],
                                  lambda: queue_counts(session, None, utcnow()).queues)

    database.register(DatabaseCollector(session, app.config["SCHEDULER_INTERVAL_SECONDS"], queues))
    body = process_metrics + generate_latest(database)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])
