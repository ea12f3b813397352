"""The scheduler process: fires due deadlines and sends queued buyer messages.

APScheduler is only its clock; the deadlines and messages tables are the source of truth.

Each process keeps its own in-memory job store. Sharing an APScheduler 3 job store between
processes is not supported by its maintainers, and is not needed: every sweep claims rows in the
database, so any number of scheduler processes can run side by side and each deadline fires once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import traceback

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from portal.db import get_db
from portal.domain.deadlines import SweepResult, beat, sweep
from portal.domain.events import deadline_effect
from portal.domain.outbox import CHANNELS, dispatch
from portal.domain.types import utcnow

log = logging.getLogger("portal.scheduler")


def run_scheduler(app: Flask) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    # APScheduler reports every tick at INFO; only its problems are worth a line.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with app.app_context():
        factory = get_db().sessionmaker
    name = f"{socket.gethostname()}:{os.getpid()}"
    started_at = utcnow()
    interval = app.config["SCHEDULER_INTERVAL_SECONDS"]

    def tick() -> None:
        try:
            result = sweep(factory, effect=deadline_effect)
            sent = dispatch(factory, CHANNELS[app.config["MESSAGE_CHANNEL"]])
            if sent:
                log.info("sent %d buyer messages", sent)
        except Exception:
            log.exception("sweep failed")
            beat(factory, name, started_at, SweepResult(failures=1), traceback.format_exc()[-4000:])
            return
        if result.processed or result.failures:
            log.info("fired %d deadlines, %d failures", result.processed, result.failures)
        beat(factory, name, started_at, result)

    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(
        tick, "interval", seconds=interval, id="sweep", max_instances=1, coalesce=True, next_run_time=utcnow()
    )

    def stop(_signum: int, _frame: object) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s started; sweeping every %s s", name, interval)
    scheduler.start()
    log.info("scheduler %s stopped", name)
