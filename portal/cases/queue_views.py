"""The CS agent's queue: named queues and views with counts, filters, search, paging, and bulk actions."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, request, url_for
from flask import session as session_store
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone, gettext, ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal.access import ALL_ROLES, STAFF, allow, can
from portal.cache import app_cache
from portal.cases.blueprint import bp
from portal.cases.queue_rows import queue_rows
from portal.db import db_session
from portal.domain import analytics_build, lifecycle
from portal.domain import operations as ops
from portal.domain.enums import CaseReason, CaseStatus, CaseType, Channel, Role
from portal.domain.lifecycle import Actor, LifecycleError
from portal.domain.lookups import market_codes, shop_names
from portal.domain.models import Case, OrderItem, User
from portal.domain.queue import (
    HAS,
    SORTS,
    VIEWS,
    CaseFilter,
    case_query,
    count_cases,
    queue_counts,
    sort_keys,
)
from portal.domain.queueflow import assignment, presence, saved_views
from portal.domain.text_limits import bounded
from portal.domain.types import utcnow
from portal.labels import label
from portal.pagination import keyset_page
from portal.rendering import next_page_url, render, wants_fragment

BULK_ACTIONS = ("assign", "approve_return", "request_evidence", "add_tag")
# The most cases one bulk action takes (selected one by one or "all matching").
BULK_LIMIT = 200
# Counting stops here: "more than 1,000 cases" is all an agent needs, and it keeps the count cheap.
COUNT_LIMIT = 1000
MAX_REFRESH_ROWS = 500


def _decimal(text: str | None) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    # Beyond any amount a case can hold; a 1e999999 filter would overflow the database's numeric type.
    return value if value.is_finite() and abs(value) < Decimal(10) ** 12 else None


def _day_start(text: str | None, zone: ZoneInfo, days: int = 0) -> datetime | None:
    """Midnight of a date in the viewer's time zone, as an aware datetime."""
    try:
        day = datetime.strptime((text or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=days), time(), tzinfo=zone)


def _local_days(args: Any) -> tuple[tuple[int, datetime, datetime], ...] | None:
    """With tz=market (links from analytics), from/to are days in each case's own market's zone."""
    if args.get("tz") != "market":
        return None
    first, last = _day_start(args.get("from"), ZoneInfo("UTC")), _day_start(args.get("to"), ZoneInfo("UTC"))
    if first is None or last is None:
        return None
    return analytics_build.local_windows(db_session(), first.date(), last.date())


def filter_from_args(args: Any) -> CaseFilter:
    q = args.get("q", "")[:100]
    local = _local_days(args)
    zone = ZoneInfo("UTC") if args.get("tz") == "UTC" else ZoneInfo(str(get_timezone()))
    return CaseFilter(
        q=q,
        # An agent who types an order id or tracking number wants the case whatever its status.
        status=args.get("status") or ("all" if q.strip() else "open"),
        view=args.get("view", "") if args.get("view", "") in VIEWS else "",
        queue=args.get("queue", "")[:40],
        type=args.get("type", ""),
        reason=args.get("reason", ""),
        market=args.get("market", "")[:2],
        shop=args.get("shop", "")[:12],
        channel=args.get("channel", ""),
        category=args.get("category", "")[:32],
        sku=args.get("sku", "")[:64],
        campaign=args.get("campaign", "")[:12],
        assignee=args.get("assignee", "")[:12],
        value_min=_decimal(args.get("value_min")),
        value_max=_decimal(args.get("value_max")),
        opened_from=None if local else _day_start(args.get("from"), zone),
        opened_to=None if local else _day_start(args.get("to"), zone, days=1),
        opened_local=local,
        has=args.get("has", "") if args.get("has", "") in HAS else "",
        sort=args.get("sort", "deadline") if args.get("sort", "deadline") in SORTS else "deadline",
        me=current_user.id,
        now=utcnow(),
    )


# The queue remembers the filters it was last shown with, so the case page's breadcrumb and the bulk
# pages lead back to the same list. Only the filters `filter_from_args` reads are kept (paging is not),
# each as long as it reads it, so a crafted link cannot fill the session cookie.
QUEUE_ARGS_KEY = "queue_args"
FILTER_ARGS = (
    "q", "status", "view", "queue", "type", "reason", "market", "shop", "channel", "category", "sku",
    "campaign", "assignee", "value_min", "value_max", "from", "to", "sort", "tz", "has",
)


def _remember_filters() -> None:
    args = {key: request.args[key][:100] for key in FILTER_ARGS if request.args.get(key)}
    if session_store.get(QUEUE_ARGS_KEY) != args:
        session_store[QUEUE_ARGS_KEY] = args


def remembered_filters() -> dict[str, str]:
    """The filters the user last looked at the queue with ("next case" continues in that list)."""
    saved = session_store.get(QUEUE_ARGS_KEY)
    return {str(k): str(v) for k, v in saved.items()} if isinstance(saved, dict) else {}


def queue_url() -> str:
    """The queue with the filters the user last looked at it with."""
    args: dict[str, Any] = remembered_filters()
    return url_for("cases.queue", **args)


@bp.context_processor
def _queue_link() -> dict[str, Any]:
    return {"queue_url": queue_url}


@bp.get("")
@allow(ALL_ROLES)
def queue() -> ResponseReturnValue:
    session = db_session()
    case_filter = filter_from_args(request.args)
    if not request.args.get("after") and not request.args.get("shown"):
        _remember_filters()
    size = current_app.config["PAGE_SIZE"]
    shown = request.args.get("shown", "")
    refreshing = shown.isdigit() and not request.args.get("after")
    if refreshing:
        # The list refreshing itself keeps as many rows as the agent has loaded.
        size = max(size, min(int(shown), MAX_REFRESH_ROWS))
    # The row shows the market, buyer and assignee: many-to-one, so joined into the page's one query.
    query = case_query(case_filter).options(
        joinedload(Case.market), joinedload(Case.assignee), joinedload(Case.buyer)
    )
    page = keyset_page(session, query, sort_keys(case_filter.sort), request.args.get("after"), size)
    appending = bool(request.args.get("after")) and wants_fragment()
    present = presence.viewers(session, [c.id for c in page.items], current_user.id)
    context: dict[str, Any] = {
        "page": page,
        "rows": queue_rows(page.items, case_filter.now or utcnow(), present),
        "filter": case_filter,
        "more_url": next_page_url(page.next_cursor),
        "appending": appending,
        "now": case_filter.now,
        "can_bulk": can("cases.bulk"),
        "total": None if appending else count_cases(session, case_filter, limit=COUNT_LIMIT),
        "count_limit": COUNT_LIMIT,
        "matching_query": saved_views.clean_query(request.args),
        "bulk_limit": BULK_LIMIT,
    }
    if not wants_fragment():
        cache = app_cache(current_app)
        seconds = current_app.config["QUEUE_COUNTS_SECONDS"]
        context.update(
            counts=cache.get(
                ("queue_counts", current_user.id),
                seconds,
                lambda: queue_counts(session, current_user.id, case_filter.now or utcnow()),
            ),
            markets=cache.get(
                "markets", seconds, lambda: market_codes(session)
            ),
            shops=cache.get("shops", seconds, lambda: shop_names(session)),
            categories=cache.get(
                "categories",
                seconds * 20,
                lambda: sorted(set(session.scalars(select(OrderItem.category).distinct()))),
            ),
            agents=session.scalars(
                select(User).where(User.role.in_([Role.CS_AGENT, Role.OPS_MANAGER])).order_by(User.name)
            ).all(),
            statuses=list(CaseStatus),
            types=list(CaseType),
            reasons=list(CaseReason),
            channels=list(Channel),
            bulk_actions=BULK_ACTIONS,
            saved_views=saved_views.user_views(session, current_user.id),
            query_of=saved_views.parse_query,
            away=assignment.is_away(session, current_user.id),
        )
    return render("cases/queue.html", "cases/partials/_rows.html", **context)


def _bulk_agent(form: dict[str, str]) -> User:
    user_id = form.get("assignee", "")
    user = db_session().get(User, int(user_id)) if user_id.isdigit() else None
    if user is None or user.role not in (Role.CS_AGENT, Role.OPS_MANAGER) or not user.active:
        raise LifecycleError(lifecycle.N_("Choose the agent to assign the cases to."))
    return user


def _bulk_check(action: str, form: dict[str, str]) -> None:
    """What the agent chose, checked before the confirm step: nothing is applied with a missing choice."""
    if action == "assign":
        _bulk_agent(form)
    elif action == "request_evidence" and form.get("kind", "") not in ops.EVIDENCE_KINDS:
        raise LifecycleError(lifecycle.N_("Ask for a photo, a video or a document."))
    elif action == "add_tag":
        tag = bounded("tag", form.get("tag", ""))
        if not tag:
            raise LifecycleError(lifecycle.N_("Type the tag to add."))


def _bulk_apply(case: Case, action: str, form: dict[str, str], actor: Actor) -> None:
    session = db_session()
    if action == "assign":
        ops.assign_to(session, case, actor, _bulk_agent(form))
    elif action == "approve_return":
        ops.approve_return(session, case, actor)
    elif action == "request_evidence":
        ops.request_evidence(session, case, actor, form.get("kind", ""))
    elif action == "add_tag":
        ops.add_tag(session, case, actor, form.get("tag", ""))


def _bulk_done(action: str, form: dict[str, str], done: int) -> str:
    if action == "assign":
        return ngettext(
            "Assigned %(num)d case to %(name)s.", "Assigned %(num)d cases to %(name)s.", done,
            name=_bulk_agent(form).name,
        )
    if action == "approve_return":
        return ngettext(
            "Approved the return of %(num)d case.", "Approved the returns of %(num)d cases.", done
        )
    if action == "request_evidence":
        return ngettext(
            "Asked %(num)d buyer for a %(kind)s.", "Asked %(num)d buyers for a %(kind)s.", done,
            kind=label(form.get("kind", "")),
        )
    return ngettext(
        "Tagged %(num)d case “%(tag)s”.", "Tagged %(num)d cases “%(tag)s”.", done, tag=form.get("tag", "")
    )


def _all_matching(query: str) -> tuple[list[str], str | None]:
    """The numbers of every case the queue's filters (its query string) match, or why not all of them."""
    f = filter_from_args(saved_views.parse_query(query[:2000]))
    keys = sort_keys(f.sort)
    ordering = [expression.desc() if descending else expression.asc() for expression, descending in keys]
    numbers = list(db_session().scalars(
        case_query(f).with_only_columns(Case.number).order_by(*ordering).limit(BULK_LIMIT + 1)
    ))
    if len(numbers) > BULK_LIMIT:
        return [], gettext(
            "More than %(limit)s cases match; narrow the filters to act on all of them at once.",
            limit=BULK_LIMIT,
        )
    return numbers, None


@bp.post("/bulk")
@allow(STAFF)
def bulk() -> ResponseReturnValue:
    """Confirm, then apply one action to the selected cases; each case succeeds or fails on its own.

    The choices are checked before the confirm step. After applying, the agent is sent back to the queue
    (post/redirect/get) with what was done and, per reason, the cases that were not.
    """
    session = db_session()
    numbers = list(dict.fromkeys(request.form.getlist("case")))[:BULK_LIMIT]
    action = request.form.get("action", "")
    form = {
        k: v for k, v in request.form.items() if k not in ("csrf_token", "case", "confirmed", "all_matching")
    }
    problem = None
    if request.form.get("all_matching"):
        numbers, problem = _all_matching(request.form["all_matching"])
    if problem is None and not numbers:
        problem = gettext("Select at least one case.")
    elif problem is None and action not in BULK_ACTIONS:
        problem = gettext("Choose an action.")
    elif problem is None:
        try:
            _bulk_check(action, form)
        except LifecycleError as error:
            problem = gettext(error.message, **error.params)
    cases = session.scalars(select(Case).where(Case.number.in_(numbers)).order_by(Case.number)).all()
    if problem or request.form.get("confirmed") != "1":
        agent = session.get(User, int(form["assignee"])) if form.get("assignee", "").isdigit() else None
        return render(
            "cases/bulk_confirm.html",
            cases=cases,
            action=action,
            form=form,
            problem=problem,
            agent=agent,
            status=422 if problem else 200,
        )
    actor = Actor.person(current_user)
    done = 0
    failed: dict[str, list[str]] = {}
    for case in cases:
        try:
            _bulk_apply(case, action, form, actor)
            session.commit()
            done += 1
        except LifecycleError as error:
            session.rollback()
            failed.setdefault(gettext(error.message, **error.params), []).append(case.number)
    missing = sorted(set(numbers) - {case.number for case in cases})
    if missing:
        failed.setdefault(gettext("No such case."), []).extend(missing)
    if done:
        flash(_bulk_done(action, form, done), "success")
    for reason, which in failed.items():
        flash(
            gettext("Not done for %(cases)s: %(reason)s", cases=", ".join(which), reason=reason),
            "error",
        )
    return redirect(queue_url())
