"""Finding cases: the filters of the agent's queue as a query the view pages through."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from portal.domain.enums import OPEN_STATUSES, CaseStatus, CaseType
from portal.domain.models import Buyer, Case, Market, Order, ReturnShipment, Shipment


@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    status: str = "open"  # "open", "all" or one CaseStatus value
    type: str = ""
    market: str = ""
    assignee_id: int | None = None


def case_query(f: CaseFilter) -> Select[tuple[Case]]:
    query = select(Case)
    if f.status == "open":
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif f.status in CaseStatus._value2member_map_:
        query = query.where(Case.status == CaseStatus(f.status))
    if f.type in CaseType._value2member_map_:
        query = query.where(Case.type == CaseType(f.type))
    if f.market:
        query = query.where(Case.market_id.in_(select(Market.id).where(Market.code == f.market)))
    if f.assignee_id is not None:
        query = query.where(Case.assignee_id == f.assignee_id)
    term = f.q.strip()
    if term:
        like = f"%{term.lower()}%"
        query = query.where(or_(
            func.lower(Case.number).like(like),
            Case.order_id.in_(select(Order.id).where(func.lower(Order.external_order_id).like(like))),
            Case.buyer_id.in_(select(Buyer.id).where(or_(func.lower(Buyer.pseudonym).like(like),
                                                          func.lower(Buyer.display_name).like(like)))),
            exists(select(ReturnShipment.id).where(ReturnShipment.case_id == Case.id,
                                                   func.lower(ReturnShipment.rma_number).like(like))),
            Case.order_id.in_(select(Shipment.order_id).where(func.lower(Shipment.tracking_number).like(like))),
        ))
    return query


def count_cases(session: Session, f: CaseFilter) -> int:
    return session.scalar(select(func.count()).select_from(case_query(f).subquery())) or 0
