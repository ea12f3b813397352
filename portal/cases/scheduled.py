"""The scheduler's automatic assignment of waiting cases, and the clean-up of old presence heartbeats."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from portal.domain.queueflow.assignment import assign_waiting
from portal.domain.queueflow.presence import forget_expired
from portal.scheduler import periodic


@periodic("automatic assignment")
def automatic_assignment(app: Flask, factory: sessionmaker[Session]) -> int:
    with factory() as session:
        assigned = assign_waiting(session)
        session.commit()
    return assigned


@periodic("presence clean-up", seconds=300)
def presence_cleanup(app: Flask, factory: sessionmaker[Session]) -> int:
    with factory() as session:
        removed = forget_expired(session)
        session.commit()
    return removed
