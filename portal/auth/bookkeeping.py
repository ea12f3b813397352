"""A small connection pool of its own for sign-in bookkeeping: session touches and throttle counts.

These writes commit on their own, in the middle of requests that already hold a connection of the main
pool. Taking a second connection from that same pool could deadlock under load (every request holding
one and waiting for another); a separate pool cannot, since its connections are never held while
waiting for the main pool.
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

    def _dispose(_engine: Any) -> None:
        own.dispose()

    event.listen(main, "engine_disposed", _dispose)  # goes with the main pool (tests, forks)
    app.extensions["auth_bookkeeping"] = own
