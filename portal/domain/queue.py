"""Finding cases: the agent's queues and filters as one query the view pages through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.orm import Session

from portal.domain.enums import (
    OPEN_STATUSES,
    CaseReason,
    CaseStatus,
    CaseType,
    Channel,
    DeadlineKind,
    DeadlineState,
    MessageDirection,
    RefundKind,
    RefundStatus,
)
from portal.domain.models import (
    Buyer,
    Case,
    CaseItem,
    Deadline,
    Decision,
    Dispute,
    Market,
    Message,
    Order,
    OrderItem,
    Refund,
    ReturnShipment,
    Shipment,
)

# "Due soon" is the next six hours: enough to act on before a platform deadline passes.
DUE_SOON = timedelta(hours=6)
VIEWS = ("mine", "due_soon", "overdue", "waiting", "replied", "undelivered")
SORTS = ("deadline", "newest", "oldest", "value")


@dataclass(frozen=True)
class CaseFilter:
    q: str = ""
    status: str = "open"  # "open", "all" or one CaseStatus value
    view: str = ""  # one of VIEWS, or "" for every case
    queue: str = ""
    type: str = ""
    reason: str = ""
    market: str = ""
    shop: str = ""  # a shop id: that shop's cases only
    channel: str = ""
    category: str = ""
    sku: str = ""  # cases with an item of this SKU
    campaign: str = ""  # a campaign id: cases whose order came through that ad campaign
    assignee: str = ""  # a user id, "none" for unassigned, or "" for anyone
    value_min: Decimal | None = None
    value_max: Decimal | None = None
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    # Opened on these days of each case's own market: (market id, first instant, end) per market.
    opened_local: tuple[tuple[int, datetime, datetime], ...] | None = None
    has: str = ""  # one of HAS: cases behind an analytics figure
    sort: str = "deadline"
    me: int | None = field(default=None, compare=False)
    now: datetime | None = field(default=None, compare=False)


def _overdue(now: datetime) -> ColumnElement[bool]:
    """A deadline has passed: one still waiting to fire, or a platform deadline that already ran out
    while the case is still open (firing it does not make the case any less late)."""
    ran_out = exists(
        select(Deadline.id).where(
            Deadline.case_id == Case.id,
            Deadline.kind == DeadlineKind.PLATFORM,
            Deadline.state == DeadlineState.FIRED,
        )
    )
    return or_(Case.next_deadline_at < now, ran_out)


def _view(f: CaseFilter, now: datetime) -> list[ColumnElement[bool]]:
    if f.view == "mine" and f.me is not None:
        return [Case.assignee_id == f.me]
    if f.view == "due_soon":
        return [Case.next_deadline_at >= now, Case.next_deadline_at < now + DUE_SOON]
    if f.view == "overdue":
        return [_overdue(now)]
    if f.view == "waiting":
        return [Case.waiting_for_buyer.is_(True)]
    if f.view == "replied":
        return [Case.unread_messages > 0]
    if f.view == "undelivered":
        return [Case.delivery_problem.is_not(None)]
    return []


def _deciding_decision() -> ColumnElement[bool]:
    """A decision of the policy with an action that decides the case (as analytics counts them)."""
    from portal.domain.analytics_build import DECIDING_ACTIONS

    # Actions are stored as JSON text written by json.dumps: match each deciding action's name.
    text = cast(Decision.actions, String)
    return exists(
        select(Decision.id).where(
            Decision.case_id == Case.id,
            Decision.automated.is_(True),
            or_(*[text.contains(f'"name": "{name}"', autoescape=True) for name in sorted(DECIDING_ACTIONS)]),
        )
    )


def _has(name: str) -> ColumnElement[bool] | None:
    """The cases behind each figure of the analytics dashboard that is not a plain count of cases."""
    live_refund = [Refund.case_id == Case.id, Refund.status != RefundStatus.FAILED]
    conditions: dict[str, Any] = {
        "refund": lambda: exists(select(Refund.id).where(*live_refund)),
        "money_refund": lambda: exists(
            select(Refund.id).where(*live_refund, Refund.kind != RefundKind.COUPON)
        ),
        "auto": _deciding_decision,
        "person_reply": lambda: exists(
            select(Message.id).where(
                Message.case_id == Case.id,
                Message.direction == MessageDirection.OUTBOUND,
                Message.author_id.is_not(None),
            )
        ),
        "reply": lambda: Case.first_response_at.is_not(None),
        "missed_deadline": lambda: exists(
            select(Deadline.id).where(
                Deadline.case_id == Case.id,
                Deadline.kind == DeadlineKind.PLATFORM,
                Deadline.state == DeadlineState.FIRED,
            )
        ),
        "dispute": lambda: exists(select(Dispute.id).where(Dispute.case_id == Case.id)),
        "resolved": lambda: Case.resolved_at.is_not(None),
    }
    found = conditions.get(name)
    return found() if found else None


HAS = ("refund", "money_refund", "auto", "person_reply", "reply", "missed_deadline", "dispute", "resolved")


def case_query(f: CaseFilter) -> Select[Case]:
    now = f.now or datetime.now().astimezone()
    query = select(Case)
    if f.status == "open" or f.view in VIEWS:
        query = query.where(Case.status.in_(OPEN_STATUSES))
    elif f.status in CaseStatus._value2member_map_:
        query = query.where(Case.status == CaseStatus(f.status))
    query = query.where(*_view(f, now))
    if f.queue:
        query = query.where(Case.queue == f.queue)
    if f.type in CaseType._value2member_map_:
        query = query.where(Case.type == CaseType(f.type))
    if f.reason in CaseReason._value2member_map_:
        query = query.where(Case.reason == CaseReason(f.reason))
    if f.market:
        query = query.where(Case.market_id.in_(select(Market.id).where(Market.code == f.market)))
    if f.shop.isdigit():
        query = query.where(Case.shop_id == int(f.shop))
    if f.channel in Channel._value2member_map_:
        query = query.where(Case.order_id.in_(select(Order.id).where(Order.channel == Channel(f.channel))))
    if f.category:
        query = query.where(
            exists(
                select(CaseItem.id)
                .join(OrderItem)
                .where(CaseItem.case_id == Case.id, OrderItem.category == f.category)
            )
        )
    if f.sku:
        query = query.where(
            exists(
                select(CaseItem.id)
                .join(OrderItem)
                .where(CaseItem.case_id == Case.id, OrderItem.sku == f.sku)
            )
        )
    if f.campaign.isdigit():
        query = query.where(Case.order_id.in_(select(Order.id).where(Order.campaign_id == int(f.campaign))))
    if f.assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    elif f.assignee.isdigit():
        query = query.where(Case.assignee_id == int(f.assignee))
    if f.value_min is not None:
        query = query.where(Case.value >= f.value_min)
    if f.value_max is not None:
        query = query.where(Case.value <= f.value_max)
    if f.opened_from is not None:
        query = query.where(Case.opened_at >= f.opened_from)
    if f.opened_to is not None:
        query = query.where(Case.opened_at < f.opened_to)
    if f.opened_local is not None:
        query = query.where(
            or_(
                false(),
                *[
                    and_(Case.market_id == market_id, Case.opened_at >= start, Case.opened_at < end)
                    for market_id, start, end in f.opened_local
                ],
            )
        )
    has = _has(f.has)
    if has is not None:
        query = query.where(has)
    term = f.q.strip()
    if term:
        query = query.where(_search(term))
    return query


def _prefix(column: Any, term: str) -> ColumnElement[bool]:
    """`column` starts with `term`, as a range a B-tree index serves on every backend (LIKE may not)."""
    return and_(column >= term, column < term + "\U0010ffff")


def _search(term: str) -> ColumnElement[bool]:
    """Identifiers match from their start, as typed or in capitals; buyer names match anywhere."""
    variants = {term, term.upper()}
    # The buyer typed text, not wildcards.
    literal = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    def starts(column: Any) -> ColumnElement[bool]:
        return or_(*(_prefix(column, v) for v in variants))

    # A union of small index lookups: an OR of subqueries makes PostgreSQL test every case row.
    matches = union(
        select(Case.id).where(starts(Case.number)),
        select(Case.id).join(Order, Case.order_id == Order.id).where(starts(Order.external_order_id)),
        select(Case.id)
        .join(Shipment, Case.order_id == Shipment.order_id)
        .where(starts(Shipment.tracking_number)),
        select(ReturnShipment.case_id).where(starts(ReturnShipment.rma_number)),
        select(Case.id)
        .join(Buyer, Case.buyer_id == Buyer.id)
        .where(
            or_(starts(Buyer.pseudonym), func.lower(Buyer.display_name).like(f"%{literal}%", escape="\\"))
        ),
    )
    return Case.id.in_(matches)


def sort_keys(sort: str) -> list[tuple[Any, bool]]:
    """The ORDER BY of a sort as (expression, descending) pairs, ending in the id so the order is total."""
    if sort == "newest":
        return [(Case.opened_at, True), (Case.id, True)]
    if sort == "oldest":
        return [(Case.opened_at, False), (Case.id, False)]
    if sort == "value":
        return [(Case.value, True), (Case.id, True)]
    # Cases without a deadline hold NO_DEADLINE and come last; the index on (next_deadline_at, id) serves it.
    return [(Case.next_deadline_at, False), (Case.id, False)]


def count_cases(session: Session, f: CaseFilter, limit: int | None = None) -> int:
    """How many cases match; with `limit`, counting stops at limit + 1 (shown as "more than limit")."""
    query = case_query(f).order_by(None).with_only_columns(Case.id)
    if limit is not None:
        query = query.limit(limit + 1)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


@dataclass(frozen=True)
class QueueCounts:
    queues: list[tuple[str, int]]
    views: dict[str, int]


def queue_counts(session: Session, me: int | None, now: datetime) -> QueueCounts:
    """Open cases per named queue, and in each of the agent's views, in one pass over the open cases."""

    def flag(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    rows = session.execute(
        select(
            Case.queue,
            func.count(),
            flag(Case.assignee_id == (me if me is not None else -1)),
            flag(and_(Case.next_deadline_at >= now, Case.next_deadline_at < now + DUE_SOON)),
            flag(_overdue(now)),
            flag(Case.waiting_for_buyer.is_(True)),
            flag(Case.unread_messages > 0),
            flag(Case.delivery_problem.is_not(None)),
        )
        .where(Case.status.in_(OPEN_STATUSES))
        .group_by(Case.queue)
        .order_by(Case.queue)
    ).all()
    views = {view: sum(int(row[i + 2] or 0) for row in rows) for i, view in enumerate(VIEWS)}
    return QueueCounts([(row[0], int(row[1])) for row in rows], views)
