"""The scheduler's share of analytics: rebuild the rollups of days whose cases or orders changed."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.analytics_build import refresh_dirty
from portal.scheduler import periodic

BATCH = 500


@periodic("analytics rollups", seconds=30)
def refresh_analytics(app: Flask, factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return refresh_dirty(session, limit=BATCH)
