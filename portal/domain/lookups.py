"""Reading records the way several pages need them: a case with everything shown about it, market codes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal.domain.models import Case, EvidenceItem, Market, Order, Shipment, Shop


def load_case(session: Session, number: str | None = None, case_id: int | None = None) -> Case | None:
    """A case by number or id, with its order, parcels, records and timeline loaded in a few queries."""
    condition = Case.number == number if number is not None else Case.id == case_id
    return session.scalar(
        select(Case)
        .where(condition)
        .options(
            selectinload(Case.market),
            selectinload(Case.buyer),
            selectinload(Case.order).selectinload(Order.items),
            selectinload(Case.order).selectinload(Order.shipments).selectinload(Shipment.events),
            selectinload(Case.items),
            selectinload(Case.evidence).selectinload(EvidenceItem.attachment),
            selectinload(Case.messages),
            selectinload(Case.returns),
            selectinload(Case.inspections),
            selectinload(Case.refunds),
            selectinload(Case.exchanges),
            selectinload(Case.disputes),
            selectinload(Case.deadlines),
            selectinload(Case.decisions),
            selectinload(Case.events),
            selectinload(Case.tags),
        )
    )


def market_codes(session: Session) -> list[str]:
    return sorted(session.scalars(select(Market.code).distinct()))


def shop_names(session: Session) -> list[tuple[int, str]]:
    """Every shop's id and name, for filters (a single shop needs no filter: callers hide it then)."""
    rows = session.execute(select(Shop.id, Shop.name).order_by(Shop.name, Shop.id))
    return [(row.id, row.name) for row in rows]


def next_case_number(session: Session) -> str:
    """A free case number after the highest in use (numbers follow ids closely, as the demo numbers them).

    Every way a case arrives (marketplace, carrier, CSV import, API) numbers it here; the unique
    constraint on the number catches two writers that picked the same one at once.
    """
    candidate = 100001 + (session.scalar(select(func.max(Case.id))) or 0)
    while session.scalar(select(Case.id).where(Case.number == f"AS-{candidate}")) is not None:
        candidate += 1
    return f"AS-{candidate}"
