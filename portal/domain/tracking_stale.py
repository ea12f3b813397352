"""Stale tracking: a parcel of an open case that has said nothing for days raises `tracking_stale`, once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from portal.domain import events
from portal.domain.enums import OPEN_STATUSES, TrackingStatus
from portal.domain.lifecycle import Actor, record
from portal.domain.models import Case, Shipment, TrackingStaleMark
from portal.domain.types import utcnow

log = logging.getLogger("portal.tracking")

# Parcels still on their way; delivered, expired or failed ones are somebody else's business.
MOVING = (TrackingStatus.INFO_RECEIVED, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY)


def last_sign_of_life(shipment: Shipment) -> datetime:
    return shipment.last_event_at or shipment.shipped_at or shipment.created_at


def stale_candidates(session: Session, cutoff: datetime) -> list[int]:
    """Ids of moving parcels of open cases whose last sign of life is before `cutoff`."""
    quiet = or_(
        Shipment.last_event_at < cutoff,
        and_(Shipment.last_event_at.is_(None), Shipment.shipped_at < cutoff),
        and_(Shipment.last_event_at.is_(None), Shipment.shipped_at.is_(None), Shipment.created_at < cutoff),
    )
    open_case = select(Case.id).where(Case.order_id == Shipment.order_id, Case.status.in_(OPEN_STATUSES))
    query = (
        select(Shipment.id)
        .where(Shipment.status.in_(MOVING), Shipment.delivered_at.is_(None), quiet, open_case.exists())
        .order_by(Shipment.id)
    )
    return list(session.scalars(query))


def _raise_for(session: Session, shipment: Shipment, days: float, now: datetime) -> bool:
    since = last_sign_of_life(shipment)
    seen = session.scalar(
        select(TrackingStaleMark.id).where(
            TrackingStaleMark.shipment_id == shipment.id, TrackingStaleMark.since == since
        )
    )
    if seen is not None:
        return False
    # The mark is the claim: a second scheduler inserting the same one fails and leaves this episode alone.
    session.add(TrackingStaleMark(shipment_id=shipment.id, since=since, raised_at=now))
    session.flush()
    cases = session.scalars(
        select(Case)
        .where(Case.order_id == shipment.order_id, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.id)
    )
    actor = Actor.system("scheduler")
    details = {
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "since": since.isoformat(timespec="seconds"),
        "days": int((now - since).total_seconds() // 86400),
    }
    for case in cases:
        record(session, case, actor, "tracking_stale", details, now=now)
        events.handle_event(session, case, "tracking_stale", now)
    return True


def raise_stale(factory: sessionmaker[Session], days: float, now: datetime | None = None) -> int:
    """Raise `tracking_stale` for every parcel silent for `days`, once per silence; returns how many."""
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    with factory() as session:
        ids = stale_candidates(session, cutoff)
    raised = 0
    for shipment_id in ids:
        with factory() as session:
            shipment = session.get(Shipment, shipment_id)
            if shipment is None:
                continue
            try:
                if _raise_for(session, shipment, days, now):
                    session.commit()
                    raised += 1
            except IntegrityError:
                session.rollback()
            except Exception:
                session.rollback()
                log.exception("tracking_stale for shipment %s failed", shipment_id)
    return raised
