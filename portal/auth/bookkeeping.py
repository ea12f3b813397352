"""A small connection pool of its own for sign-in bookkeeping: session touches and throttle counts.

These writes commit on their own, in the middle of requests that already hold a connection of the main
pool. Taking a second connection from that same pool could deadlock under load (every request holding
one and waiting for another); a separate pool cannot, since its connections are never held while
waiting for the main pool. Its commits also skip waiting for the disk (synchronous_commit off on
PostgreSQL, synchronous NORMAL in SQLite's WAL): a crash may forget the last second of counts or
last-seen times, never corrupt anything, and each count costs a fraction of a flush.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, event

from portal.db import make_engine


def engine() -> Engine:
    return current_app.extensions["auth_bookkeeping"]  # type: ignore[no-any-return]


def init_app(app: Flask) -> None:
    main: Engine = app.extensions["database"].engine
    own = make_engine(app.config["DATABASE_URL"], pool_size=2, max_overflow=8)

    @event.listens_for(own, "connect")
    def _no_flush_wait(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if own.dialect.name == "postgresql":
            cursor.execute("SET synchronous_commit TO off")
            dbapi_connection.commit()
        else:
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    def _dispose(_engine: Any) -> None:
        own.dispose()

    event.listen(main, "engine_disposed", _dispose)  # goes with the main pool (tests, forks)
    app.extensions["auth_bookkeeping"] = own
