"""Which cases the demo month holds: type, where each one stands, and the steps that brought it there."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from portal.domain.enums import CaseStatus as S
from portal.domain.enums import CaseType as T

TYPE_WEIGHTS: dict[T, float] = {
    T.RETURN_AND_REFUND: 0.40, T.REFUND_ONLY: 0.22, T.EXCHANGE: 0.12, T.NOT_RECEIVED: 0.135,
    T.DELIVERY_FAILED: 0.11, T.DISPUTE: 0.015,
}

# Where cases of each type stand at the end of the month; most are done, the recent ones are not.
STATUS_WEIGHTS: dict[T, dict[S, float]] = {
    T.REFUND_ONLY: {S.NEW: 4, S.IN_REVIEW: 5, S.AWAITING_BUYER: 5, S.ON_HOLD: 1, S.REFUND_PENDING: 5,
                    S.RESOLVED: 55, S.REJECTED: 12, S.CLOSED: 6},
    T.RETURN_AND_REFUND: {S.NEW: 4, S.IN_REVIEW: 5, S.AWAITING_BUYER: 3, S.ON_HOLD: 1, S.RETURN_APPROVED: 7,
                          S.RETURN_IN_TRANSIT: 10, S.RETURN_RECEIVED: 3, S.INSPECTED: 2, S.REFUND_PENDING: 4,
                          S.RESOLVED: 45, S.REJECTED: 8, S.CLOSED: 6},
    T.EXCHANGE: {S.NEW: 3, S.IN_REVIEW: 4, S.RETURN_APPROVED: 7, S.RETURN_IN_TRANSIT: 12,
                 S.RETURN_RECEIVED: 3, S.INSPECTED: 2, S.EXCHANGE_SHIPPED: 12, S.RESOLVED: 45, S.REJECTED: 5,
                 S.CLOSED: 5},
    T.NOT_RECEIVED: {S.NEW: 5, S.IN_REVIEW: 8, S.AWAITING_BUYER: 8, S.ON_HOLD: 4, S.REFUND_PENDING: 6,
                     S.RESOLVED: 40, S.REJECTED: 12, S.CLOSED: 10, S.DISPUTE_OPEN: 3},
    T.DELIVERY_FAILED: {S.NEW: 4, S.IN_REVIEW: 5, S.AWAITING_BUYER: 12, S.REDELIVERY_REQUESTED: 14,
                        S.REFUND_PENDING: 4, S.RESOLVED: 50, S.CLOSED: 8},
    T.DISPUTE: {S.DISPUTE_OPEN: 45, S.RESOLVED: 30, S.CLOSED: 25},
}

# Enough to show every type and every status even in a tiny demo.
COVERAGE: tuple[tuple[T, S], ...] = (
    (T.REFUND_ONLY, S.NEW), (T.REFUND_ONLY, S.REFUND_PENDING), (T.RETURN_AND_REFUND, S.IN_REVIEW),
    (T.RETURN_AND_REFUND, S.AWAITING_BUYER), (T.RETURN_AND_REFUND, S.RETURN_APPROVED),
    (T.RETURN_AND_REFUND, S.RETURN_IN_TRANSIT), (T.RETURN_AND_REFUND, S.RETURN_RECEIVED),
    (T.RETURN_AND_REFUND, S.INSPECTED), (T.RETURN_AND_REFUND, S.RESOLVED), (T.RETURN_AND_REFUND, S.REJECTED),
    (T.EXCHANGE, S.EXCHANGE_SHIPPED), (T.NOT_RECEIVED, S.ON_HOLD), (T.NOT_RECEIVED, S.CLOSED),
    (T.DELIVERY_FAILED, S.REDELIVERY_REQUESTED), (T.DISPUTE, S.DISPUTE_OPEN),
)

# Hours a step takes after the one before it: (low, high).
STEP_HOURS: dict[str, tuple[float, float]] = {
    "open": (0, 0), "review": (0.5, 28), "ask": (0.1, 2), "buyer_reply": (3, 40), "hold": (0.5, 6),
    "approve": (0.3, 10), "ship_return": (14, 90), "receive": (50, 120), "receive_far": (170, 330),
    "inspect": (3, 40), "refund": (0.2, 18), "refund_done": (24, 120), "reject": (0.5, 10),
    "close": (72, 90), "exchange_ship": (6, 40), "exchange_done": (70, 200), "redeliver_request": (0.5, 8),
    "redelivered": (24, 90), "dispute": (20, 90), "respond": (6, 40), "won": (70, 240), "lost": (70, 240),
}
# How long the case has sat in its last status by now, in hours.
OPEN_DWELL: dict[S, tuple[float, float]] = {
    S.NEW: (0.3, 30), S.IN_REVIEW: (1, 60), S.AWAITING_BUYER: (2, 70), S.ON_HOLD: (10, 120),
    S.RETURN_APPROVED: (3, 115), S.RETURN_IN_TRANSIT: (10, 160), S.RETURN_RECEIVED: (2, 40),
    S.INSPECTED: (1, 30), S.REFUND_PENDING: (2, 90), S.EXCHANGE_SHIPPED: (10, 140),
    S.REDELIVERY_REQUESTED: (5, 200), S.DISPUTE_OPEN: (6, 48),
}
CLOSED_DWELL = (12.0, 400.0)


@dataclass
class Plan:
    type: T
    status: S
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, hours after the previous one)
    dwell: float = 0.0
    pool: str = "delivered"
    consolidation: bool = False  # the return goes to the cross-border consolidation warehouse
    variant: str = ""

    @property
    def span_hours(self) -> float:
        return sum(hours for _, hours in self.steps) + self.dwell

    def scale(self, factor: float) -> None:
        self.steps = [(name, hours * factor) for name, hours in self.steps]
        self.dwell *= factor


def _path(rng: random.Random, plan: Plan) -> list[str]:
    """The steps from opening to the planned status."""
    kind, status = plan.type, plan.status
    head = ["open", "review"]
    detour = ["ask", "buyer_reply"] if rng.random() < 0.3 else []
    if kind == T.DISPUTE:
        return {S.DISPUTE_OPEN: ["dispute"] + (["respond"] if rng.random() < 0.4 else []),
                S.RESOLVED: ["dispute", "respond", "won"], S.CLOSED: ["dispute", "respond", "lost"]}[status]
    simple = {S.NEW: ["open"], S.IN_REVIEW: head, S.AWAITING_BUYER: [*head, "ask"],
              S.ON_HOLD: [*head, "hold"]}
    if status in simple:
        return simple[status]
    if kind == T.DELIVERY_FAILED:
        ask = [*head, "ask"]
        return {S.REDELIVERY_REQUESTED: [*ask, "buyer_reply", "redeliver_request"],
                S.RESOLVED: ([*ask, "buyer_reply", "redeliver_request", "redelivered"] if rng.random() < 0.7
                             else [*ask, "refund", "refund_done"]),
                S.REFUND_PENDING: [*ask, "refund"], S.CLOSED: [*ask, "close"]}[status]
    if kind == T.NOT_RECEIVED:
        return {S.REFUND_PENDING: [*head, "refund"], S.RESOLVED: [*head, "refund", "refund_done"],
                S.REJECTED: [*head, "ask", "reject"], S.CLOSED: [*head, "ask", "buyer_reply", "close"],
                S.DISPUTE_OPEN: [*head, "ask", "reject", "dispute"]}[status]
    if kind == T.REFUND_ONLY:
        return {S.REFUND_PENDING: [*head, *detour, "refund"],
                S.RESOLVED: [*head, *detour, "refund", "refund_done"],
                S.REJECTED: [*head, *detour, "reject"], S.CLOSED: [*head, "ask", "close"]}[status]
    # Returns and exchanges share the journey of the parcel back.
    back = [*head, *detour, "approve", "ship_return", "receive_far" if plan.consolidation else "receive"]
    if status == S.RESOLVED and kind == T.RETURN_AND_REFUND and rng.random() < 0.2:
        plan.variant = "no_return"
        return [*head, "refund", "refund_done"]
    if status == S.REFUND_PENDING and rng.random() < 0.4:
        plan.variant = "refund_on_scan"  # "return = refund" on the warehouse's first scan
        return [*back, "refund"]
    if status == S.REJECTED:
        plan.variant = "inspection_failed" if rng.random() < 0.6 else "declined"
        return [*back, "inspect", "reject"] if plan.variant == "inspection_failed" else [*head, "reject"]
    steps = {S.RETURN_APPROVED: back[:-2], S.RETURN_IN_TRANSIT: back[:-1], S.RETURN_RECEIVED: back,
             S.INSPECTED: [*back, "inspect"], S.REFUND_PENDING: [*back, "inspect", "refund"],
             S.EXCHANGE_SHIPPED: [*back, "inspect", "exchange_ship"], S.CLOSED: [*head, "approve", "close"]}
    if status == S.RESOLVED:
        tail = ["exchange_ship", "exchange_done"] if kind == T.EXCHANGE else ["refund", "refund_done"]
        return [*back, "inspect", *tail]
    return steps[status]


def _pool(rng: random.Random, plan: Plan, steps: list[str]) -> str:
    if plan.type == T.DELIVERY_FAILED:
        return "failed"
    if plan.type == T.NOT_RECEIVED:
        # A refund or a carrier investigation means the parcel really went missing; a rejection means
        # the carrier's proof of delivery says otherwise.
        if "refund" in steps or "hold" in steps:
            return "lost"
        if "reject" in steps or "close" in steps:
            return "delivered"
        return "lost" if rng.random() < 0.6 else "delivered"
    if plan.type == T.DISPUTE:
        return "lost" if rng.random() < 0.3 else "delivered"
    return "delivered"


def _hours(step: str, previous: str) -> tuple[float, float]:
    if step == "close":
        # Closing waits for whatever ran out: the ship-by date, the buyer's time to answer, a depot pickup.
        return {"approve": (121, 128), "ask": (72, 76), "buyer_reply": (0.5, 6)}.get(previous, (20, 100))
    return STEP_HOURS[step]


def make_plan(rng: random.Random, kind: T, status: S) -> Plan:
    # Replacements come from local stock, so exchanges rarely go to the consolidation warehouse.
    plan = Plan(kind, status, consolidation=rng.random() < (0.1 if kind == T.EXCHANGE else 0.3))
    names = _path(rng, plan)
    plan.pool = _pool(rng, plan, names)
    plan.steps = [(name, rng.uniform(*_hours(name, names[i - 1])) if i else 0.0)
                  for i, name in enumerate(names)]
    low, high = OPEN_DWELL.get(status, CLOSED_DWELL)
    plan.dwell = rng.uniform(low, high)
    return plan


def plan_cases(rng: random.Random, count: int) -> list[Plan]:
    wanted = list(COVERAGE)
    kinds, kind_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    while len(wanted) < count:
        kind = rng.choices(kinds, kind_weights)[0]
        statuses = STATUS_WEIGHTS[kind]
        wanted.append((kind, rng.choices(list(statuses), list(statuses.values()))[0]))
    plans = [make_plan(rng, kind, status) for kind, status in wanted]
    # The longest stories pick their orders first, while old enough orders are still free.
    plans.sort(key=lambda plan: plan.span_hours, reverse=True)
    return plans
