"""Stale tracking: a parcel of an open case that has said nothing for days raises `tracking_stale`, once.

Finding a silent parcel queues a mark (one per silence); raising the event is work claimed from the
marks like any other, retried with backoff and dead-lettered if it keeps failing.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from portal.domain import events
from portal.domain.enums import OPEN_STATUSES, TrackingStatus
from portal.domain.lifecycle import Actor, record
from portal.domain.models import Case, Shipment, TrackingStaleMark
from portal.domain.types import utcnow
from portal.domain.work import claims
from portal.domain.work.queues import TRACKING_STALE

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


def find_silent(session: Session, cutoff: datetime, now: datetime) -> int:
    """Queue a mark for every silent parcel not marked for this silence yet; returns how many were new.

    The mark is the claim on the episode: its (shipment, since) is unique, so a second scheduler finding
    the same silence adds nothing (INSERT ... ON CONFLICT DO NOTHING). The caller commits.
    """
    ids = stale_candidates(session, cutoff)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    added = 0
    for start in range(0, len(ids), 500):
        shipments = session.scalars(select(Shipment).where(Shipment.id.in_(ids[start : start + 500])))
        rows = [
            {"shipment_id": s.id, "since": last_sign_of_life(s), "state": "pending", "attempts": 0,
             "next_attempt_at": now, "raised_at": now}
            for s in shipments
        ]
        statement = insert(TrackingStaleMark).values(rows).on_conflict_do_nothing(
            index_elements=["shipment_id", "since"]
        )
        added += len(session.scalars(statement.returning(TrackingStaleMark.id)).all())
    return added


def _raise_for(session: Session, mark: TrackingStaleMark, now: datetime) -> bool:
    """Raise the event on the parcel's open cases; False when the parcel spoke again meanwhile."""
    shipment = session.get(Shipment, mark.shipment_id)
    if shipment is None or last_sign_of_life(shipment) != mark.since or shipment.status not in MOVING:
        mark.state = "skipped"
        return False
    cases = session.scalars(
        select(Case)
        .where(Case.order_id == shipment.order_id, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.id)
    )
    actor = Actor.system("scheduler")
    details = {
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "since": mark.since.isoformat(timespec="seconds"),
        "days": int((now - mark.since).total_seconds() // 86400),
    }
    for case in cases:
        record(session, case, actor, "tracking_stale", details, now=now)
        events.handle_event(session, case, "tracking_stale", now)
    return True


def raise_marked(factory: sessionmaker[Session], now: datetime, batch: int = 200) -> int:
    """Raise the event for every queued mark, `batch` to a transaction; failures back off, then give up."""
    raised = 0
    while True:
        with factory() as session:
            claimed = {"state": "raised", "raised_at": now}
            ids = claims.claim(session, TRACKING_STALE, now, batch, values=claimed)
            for mark_id in ids:
                mark = session.get(TrackingStaleMark, mark_id)
                assert mark is not None
                shipment_id = mark.shipment_id
                try:
                    with session.begin_nested():
                        raised += _raise_for(session, mark, now)
                except Exception:
                    log.exception("tracking_stale for shipment %s failed", shipment_id)
                    error = traceback.format_exc()
                    claims.fail(session, TRACKING_STALE, mark_id, now, error, holding="raised")
            session.commit()
        if len(ids) < batch:
            return raised


def raise_stale(factory: sessionmaker[Session], days: float, now: datetime | None = None) -> int:
    """Raise `tracking_stale` for every parcel silent for `days`, once per silence; returns how many."""
    now = now or utcnow()
    with factory() as session:
        find_silent(session, now - timedelta(days=days), now)
        session.commit()
    return raise_marked(factory, now)
