"""The CS agent's queue and the case page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import ALL_ROLES, allow
from portal.db import db_session
from portal.domain.enums import CaseStatus, CaseType
from portal.domain.models import Case, Market, Order, Shipment
from portal.domain.queue import CaseFilter, case_query, count_cases
from portal.pagination import newest_first
from portal.rendering import next_page_url, render, wants_fragment
from portal.timeline import build_timeline

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _filter_from_args() -> CaseFilter:
    args = request.args
    q = args.get("q", "")[:100]
    return CaseFilter(
        q=q,
        # An agent who types an order id or tracking number wants the case whatever its status.
        status=args.get("status") or ("all" if q.strip() else "open"),
        type=args.get("type", ""),
        market=args.get("market", "")[:2],
    )


@bp.get("")
@allow(ALL_ROLES)
def queue() -> ResponseReturnValue:
    session = db_session()
    case_filter = _filter_from_args()
    page = newest_first(session, case_query(case_filter).options(
        selectinload(Case.market), selectinload(Case.assignee), selectinload(Case.buyer),
        selectinload(Case.order)), Case.opened_at, Case.id, request.args.get("after"),
        current_app.config["PAGE_SIZE"])
    markets = sorted({m.code for m in session.scalars(select(Market))})
    return render(
        "cases/queue.html", "cases/partials/_rows.html",
        page=page, total=count_cases(session, case_filter), filter=case_filter, markets=markets,
        statuses=list(CaseStatus), types=list(CaseType), more_url=next_page_url(page.next_cursor),
        # htmx appends the next rows under the current ones; without JavaScript it is a new page.
        appending=bool(request.args.get("after")) and wants_fragment(),
    )


@bp.get("/<number>")
@allow(ALL_ROLES)
def show(number: str) -> ResponseReturnValue:
    session = db_session()
    case = session.scalar(
        select(Case).where(Case.number == number).options(
            selectinload(Case.order).selectinload(Order.items),
            selectinload(Case.order).selectinload(Order.shipments).selectinload(Shipment.events),
            selectinload(Case.items), selectinload(Case.evidence), selectinload(Case.messages),
            selectinload(Case.returns), selectinload(Case.inspections), selectinload(Case.refunds),
            selectinload(Case.exchanges), selectinload(Case.disputes), selectinload(Case.deadlines),
            selectinload(Case.decisions), selectinload(Case.events), selectinload(Case.tags),
        )
    )
    if case is None:
        abort(404)
    return render("cases/show.html", case=case, timeline=build_timeline(case))
