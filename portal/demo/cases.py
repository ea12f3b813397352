"""Opening the demo's cases on the month's orders and playing each one forward to where it stands today."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from portal.demo.case_ctx import SELLER_FAULT, Ctx, agent_for
from portal.demo.case_plan import Plan
from portal.demo.decisions import decide_on_opening
from portal.demo.orders import OrderRecord, Pool
from portal.demo.steps import STEPS
from portal.demo.texts import buyer_note
from portal.demo.world import World, money
from portal.domain.enums import OPEN_STATUSES, CaseReason, CaseStatus, CaseType, DeadlineState
from portal.domain.models import Case, CaseItem, CaseTag, OrderItem
from portal.domain.types import NO_DEADLINE

R = CaseReason
REASONS: dict[CaseType, dict[CaseReason, float]] = {
    CaseType.RETURN_AND_REFUND: {
        R.SIZE: 28,
        R.COLOR: 12,
        R.QUALITY: 14,
        R.DAMAGED: 8,
        R.NOT_AS_DESCRIBED: 10,
        R.WRONG_ITEM: 5,
        R.CHANGED_MIND: 18,
        R.MISSING_PARTS: 5,
    },
    CaseType.REFUND_ONLY: {
        R.DAMAGED: 25,
        R.QUALITY: 25,
        R.MISSING_PARTS: 15,
        R.NOT_AS_DESCRIBED: 15,
        R.WRONG_ITEM: 8,
        R.LATE_DELIVERY: 12,
    },
    CaseType.EXCHANGE: {R.SIZE: 55, R.COLOR: 20, R.DAMAGED: 12, R.WRONG_ITEM: 13},
    CaseType.DISPUTE: {R.NOT_AS_DESCRIBED: 35, R.DAMAGED: 25, R.QUALITY: 25, R.WRONG_ITEM: 15},
}
# Reasons that only make sense for some categories: nobody returns a serum for its size.
REASON_CATEGORIES: dict[CaseReason, frozenset[str]] = {
    R.SIZE: frozenset({"apparel", "jewelry"}),
    R.COLOR: frozenset({"apparel", "beauty", "home", "accessories", "jewelry"}),
    R.MISSING_PARTS: frozenset({"electronics", "home", "beauty"}),
}
# Days between the order's anchor (delivery, failed attempt, or when a lost parcel gets worrying) and opening.
GAP_DAYS: dict[str, tuple[float, float]] = {"delivered": (0.1, 12), "lost": (0, 8), "failed": (0.02, 0.4)}
GAP_DAYS_BY_TYPE: dict[CaseType, tuple[float, float]] = {
    CaseType.NOT_RECEIVED: (0.3, 5),
    CaseType.DISPUTE: (3, 18),
}


def _gap(plan: Plan) -> tuple[float, float]:
    if plan.pool == "delivered" and plan.type in GAP_DAYS_BY_TYPE:
        return GAP_DAYS_BY_TYPE[plan.type]
    return GAP_DAYS[plan.pool]


def _preference(world: World, plan: Plan) -> Callable[[OrderRecord], bool] | None:
    # Exchanges and many returns are about fit, which is mostly clothes (and rings).
    wearable = {"apparel"} if plan.type == CaseType.EXCHANGE else {"apparel", "jewelry"}
    fit_return = plan.type == CaseType.RETURN_AND_REFUND and world.rng.random() < 0.5
    if plan.type == CaseType.EXCHANGE or fit_return:
        return lambda record: any(item.category in wearable for item in record.order.items)
    return None


def _pick_order(world: World, pools: dict[str, Pool], plan: Plan) -> tuple[datetime, OrderRecord] | None:
    if not pools[plan.pool] and plan.pool == "lost":
        plan.pool = "delivered"
    if not pools[plan.pool]:
        return None
    now, rng = world.now, world.rng
    span = timedelta(hours=plan.span_hours)
    opened = now - span
    low, high = _gap(plan)
    taken = pools[plan.pool].take(
        world, opened - timedelta(days=high), opened - timedelta(days=low), _preference(world, plan)
    )
    assert taken is not None
    anchor, record = taken
    earliest = min(anchor + timedelta(days=low), anchor + (now - anchor) / 2)
    if earliest > opened:
        # No order old enough is left: squeeze this case's story into the time since its order.
        plan.scale(max((now - earliest) / span, 0.01))
        opened = earliest
    elif anchor < opened - timedelta(days=high) and plan.status not in OPEN_STATUSES:
        opened = anchor + timedelta(days=rng.uniform(low, high))
    return opened, record


def _reason(world: World, kind: CaseType, category: str, plan: Plan, customized: bool) -> CaseReason:
    parcel_missing = kind in (CaseType.NOT_RECEIVED, CaseType.DELIVERY_FAILED)
    if parcel_missing or (kind, plan.pool) == (CaseType.DISPUTE, "lost"):
        return R.NOT_RECEIVED
    weights = {r: w for r, w in REASONS[kind].items() if category in REASON_CATEGORIES.get(r, {category})}
    if customized and plan.status != CaseStatus.REJECTED:
        # Made-to-order items come back only when the shop got something wrong.
        weights = {r: w for r, w in weights.items() if r in SELLER_FAULT}
    if not weights:
        return R.QUALITY
    return world.rng.choices(list(weights), list(weights.values()))[0]


def _start(world: World, plan: Plan, record: OrderRecord, opened: datetime) -> Ctx:
    rng, order = world.rng, record.order
    items: list[OrderItem] = list(order.items)
    whole_order = plan.type in (CaseType.NOT_RECEIVED, CaseType.DELIVERY_FAILED) or plan.pool == "lost"
    if whole_order or (len(items) > 1 and rng.random() < 0.15):
        lines = [(item, item.quantity) for item in items]
    else:
        wearable = [i for i in items if i.category == "apparel"] if plan.type == CaseType.EXCHANGE else []
        item = rng.choice(wearable or items)
        lines = [(item, item.quantity if rng.random() < 0.7 else 1)]
    main = max(lines, key=lambda line: line[0].unit_price * line[1])[0]
    reason = _reason(world, plan.type, main.category, plan, any(i.customized for i, _ in lines))
    value = money(sum((i.unit_price * q for i, q in lines), Decimal(0)))
    buyer = order.buyer
    note = None
    if plan.type != CaseType.DELIVERY_FAILED:
        note = buyer_note(buyer.language, reason.value, main.category, rng)
    external = None
    if plan.type != CaseType.DELIVERY_FAILED and rng.random() < 0.9:
        while (number := f"577{rng.randrange(10**14, 10**15)}") in world.issued:
            pass
        world.issued.add(number)
        external = number
    value_usd = value * world.rates.get(order.currency, Decimal(1))
    queue = (
        "disputes"
        if plan.type == CaseType.DISPUTE
        else "logistics"
        if plan.type in (CaseType.NOT_RECEIVED, CaseType.DELIVERY_FAILED)
        else "senior"
        if value_usd >= 400
        else "jewelry"
        if main.category == "jewelry"
        else "general"
    )
    case = Case(
        id=world.new_id(Case),
        shop_id=world.shop_id,
        market=order.market,
        order=order,
        buyer=buyer,
        type=plan.type,
        reason=reason,
        status=CaseStatus.NEW,
        queue=queue,
        value=value,
        currency=order.currency,
        buyer_note=note,
        requested_amount=None if plan.type == CaseType.EXCHANGE else value,
        external_id=external,
        opened_at=opened,
        updated_at=opened,
    )
    times, t = [], opened
    for _, hours in plan.steps:
        t += timedelta(hours=hours)
        times.append(t)
    ctx = Ctx(world, plan, record, case, record.spec, lines, times, agent=agent_for(world, queue))
    ctx.rows.append(case)
    ctx.rows.extend(
        CaseItem(id=world.new_id(CaseItem), case=case, order_item=item, quantity=q) for item, q in lines
    )
    world.counts["case_items"] += len(lines)
    return ctx


def _finish(world: World, c: Ctx) -> None:
    c.settle_deadlines()
    c.case.updated_at = c.last or c.case.opened_at
    pending = [d.due_at for d in c.deadlines.values() if d.state == DeadlineState.PENDING]
    c.case.next_deadline_at = min(pending, default=NO_DEADLINE)
    c.rows.extend(row for row in (c.refund, c.exchange, c.inspection) if row is not None)


def _tags(world: World, c: Ctx) -> list[CaseTag]:
    case, buyer = c.case, c.case.buyer
    tags = []
    if buyer.orders_count >= 8 or case.value * world.rates.get(case.currency, Decimal(1)) >= 300:
        tags.append("vip")
    if buyer.returns_90d >= 3:
        tags.append("repeat_returner")
    if case.reason == R.SIZE:
        tags.append("size_issue")
    if case.reason == R.DAMAGED and c.main_item.category in ("home", "electronics", "beauty"):
        tags.append("fragile")
    return [CaseTag(case=case, tag=tag) for tag in tags]


def build_cases(world: World, pools: dict[str, Pool], plans: list[Plan], first_number: int) -> list[Ctx]:
    built: list[Ctx] = []
    for plan in plans:
        picked = _pick_order(world, pools, plan)
        if picked is None:
            continue
        opened, record = picked
        c = _start(world, plan, record, opened)
        STEPS[plan.steps[0][0]](c)
        decide_on_opening(world, c)  # may take over the next step, so the plan is read afresh below
        for index in range(1, len(plan.steps)):
            c.index = index
            STEPS[plan.steps[index][0]](c)
        _finish(world, c)
        built.append(c)
    built.sort(key=lambda ctx: ctx.case.opened_at)
    for offset, c in enumerate(built):
        c.case.number = f"AS-{first_number + offset}"
        if c.case.type in (CaseType.RETURN_AND_REFUND, CaseType.EXCHANGE):
            c.case.buyer.returns_90d += 1
    for c in built:
        tags = _tags(world, c)
        c.rows.extend(tags)
        world.counts["case_tags"] += len(tags)
    world.counts["cases"] = len(built)
    return built
