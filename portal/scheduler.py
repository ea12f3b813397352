"""The scheduler process: fires due deadlines, sends queued messages and runs the other periodic work.

APScheduler is only its clock; database tables are the source of truth for everything it does.

Each process keeps its own in-memory job store. Sharing an APScheduler 3 job store between
processes is not supported by its maintainers, and is not needed: every periodic task claims rows in
the database, so any number of scheduler processes can run side by side and each deadline fires once.

Areas add their periodic work with `periodic(name, seconds)`; a task gets the app and a session
factory and returns how many things it did (for the log).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.db import get_db
from portal.domain.conversations.channels import Router
from portal.domain.conversations.outbox import dispatch
from portal.domain.deadlines import SweepResult, beat, sweep
from portal.domain.events import deadline_effect
from portal.domain.types import utcnow
from portal.jobs import run_next
from portal.observability import logs
from portal.supervision import Supervision

log = logging.getLogger("portal.scheduler")

Task = Callable[[Flask, sessionmaker[Session]], int]


@dataclass(frozen=True)
class Periodic:
    name: str
    task: Task
    # None: every tick of the scheduler (SCHEDULER_INTERVAL_SECONDS); otherwise its own interval.
    seconds: float | None


PERIODIC: list[Periodic] = []


def periodic(name: str, seconds: float | None = None) -> Callable[[Task], Task]:
    """Register a task the scheduler process runs every `seconds` (or every tick)."""

    def register(task: Task) -> Task:
        PERIODIC.append(Periodic(name, task, seconds))
        return task

    return register


@periodic("buyer messages")
def send_buyer_messages(app: Flask, factory: sessionmaker[Session]) -> int:
    from portal.intake.scheduled import shop_clients  # each shop's messages go out with its own credentials

    router = Router(app.config, app.config["SHOP_NAME"], shop_clients(app, factory))
    return dispatch(factory, router, app.extensions["attachments"])


@periodic("background jobs", seconds=1)
def run_jobs(app: Flask, factory: sessionmaker[Session]) -> int:
    """Imports, exports and simulations queued by the web pages, one after another (run
    `flask --app wsgi worker run` for more at once)."""
    ran = 0
    while run_next(app) is not None:
        ran += 1
    return ran


def _load_tasks() -> None:
    """Import the modules that register periodic tasks (each registers itself on import)."""
    import portal.scheduled  # noqa: F401


def run_scheduler(app: Flask) -> None:
    logs.configure("scheduler")
    # APScheduler reports every tick at INFO, and at WARNING each tick it skips because the previous
    # sweep is still busy (expected under load); the heartbeat shows the scheduler's health instead.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    with app.app_context():
        factory = get_db().sessionmaker
    supervision = Supervision.from_environ()
    name = supervision.name if supervision else f"{socket.gethostname()}:{os.getpid()}"
    started_at = utcnow()
    interval = app.config["SCHEDULER_INTERVAL_SECONDS"]
    _load_tasks()

    def run_task(item: Periodic) -> None:
        try:
            with logs.correlated(), app.app_context():
                done = item.task(app, factory)
            if done:
                log.info("%s: %d", item.name, done)
        except Exception:
            log.exception("%s failed", item.name)

    def tick() -> None:
        with logs.correlated():
            sweep_and_beat()

    def sweep_and_beat() -> None:
        try:
            result = sweep(factory, effect=deadline_effect)
        except Exception:
            log.exception("sweep failed")
            beat(factory, name, started_at, SweepResult(failures=1), traceback.format_exc()[-4000:],
                 supervision=supervision)
            return
        if result.processed or result.failures:
            log.info("fired %d deadlines, %d failures", result.processed, result.failures)
        beat(factory, name, started_at, result, supervision=supervision)
        for item in PERIODIC:
            if item.seconds is None:
                run_task(item)

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        tick, "interval", seconds=interval, id="sweep", max_instances=1, coalesce=True, next_run_time=utcnow()
    )
    for item in PERIODIC:
        if item.seconds is not None:
            scheduler.add_job(
                run_task, "interval", args=[item], seconds=item.seconds, id=item.name,
                max_instances=1, coalesce=True, next_run_time=utcnow(),
            )

    def stop(_signum: int, _frame: object) -> None:
        # Ctrl-C reaches the whole process group and the launcher then sends SIGTERM too: stop once.
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s started; sweeping every %s s", name, interval)
    scheduler.start()
    # Stopping: a second signal still on its way must not kill the exit (Python puts back the default
    # handlers while it shuts down, but leaves "ignore" in place).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log.info("scheduler %s stopped", name)
