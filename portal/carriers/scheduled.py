"""The scheduler's stale-tracking check."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.tracking_stale import raise_stale
from portal.scheduler import periodic


@periodic("tracking stale", seconds=600)
def tracking_stale(app: Flask, factory: sessionmaker[Session]) -> int:
    return raise_stale(factory, app.config["TRACKING_STALE_DAYS"])
