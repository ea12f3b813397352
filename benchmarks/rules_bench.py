"""Times the policy language: a 25-rule policy against the same rules by hand and against zen-engine."""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rules  # noqa: E402
from rules.policy import analyse  # noqa: E402

MARKETS = ["US", "UK", "DE", "FR", "IT", "ES", "MY", "SG", "TH", "VN", "PH", "ID", "MX", "JP"]

# A typical first-hit policy: 25 rules over most of the fields, with an `else`.
POLICY_25 = """policy "bench 25"
if item.customized then reject "Personalised items cannot be returned"
if days_since_delivery > 30 then reject "Outside the 30-day return window"
if type == "not_received" and tracking.status == "delivered" then request_evidence "document"
if type == "not_received" and days_since_order > 20 then refund
if type == "delivery_failed" and value_usd >= 50 then set_deadline "redelivery" 12 days
if value < 10 then refund_without_return
if value_usd < 15 and buyer.orders >= 3 then refund_without_return
rule "high value": if value_usd >= 500 then request_evidence "video", assign "senior"
if buyer.returns_90d > 5 then manual_review, assign "fraud"
if category == "electronics" and reason == "damaged" and evidence.photos < 1 then request_evidence "photo"
if category == "electronics" and reason in ["changed_mind", "size", "color"] then reject "Opened electronics"
if reason == "damaged" and evidence.photos >= 2 then approve_return
if reason == "wrong_item" then approve_return, notify "wrong_item"
if reason in ["size", "color"] and category == "apparel" and channel != "ad" then exchange
if reason in ["size", "color"] and category == "apparel" then approve_return
if reason == "quality" and value_usd < 40 then partial_refund 30%
if reason == "quality" and buyer.first_order then coupon 5
if reason == "not_as_described" and evidence.photos >= 1 then approve_return
if reason == "not_as_described" then request_evidence "photo"
if reason == "missing_parts" and value_usd < 80 then partial_refund 20%
if reason == "changed_mind" and days_since_delivery <= 7 and market in ["US", "UK", "DE"] then approve_return
if reason == "changed_mind" and channel == "live" then coupon 3
if category == "beauty" and reason != "damaged" then reject "Hygiene"
if hours_open > 48 then escalate
if market in ["MY", "SG", "TH", "VN", "PH", "ID"] and value_usd < 25 then refund_without_return
else manual_review
"""

TYPES = ["return_and_refund", "refund_only", "not_received", "delivery_failed", "exchange"]
REASONS = ["size", "color", "quality", "damaged", "missing_parts", "not_as_described", "wrong_item",
           "changed_mind", "not_received", "late_delivery"]
CATEGORIES = ["jewelry", "apparel", "electronics", "beauty", "home", "accessories"]
CHANNELS = ["organic", "live", "video", "ad", "affiliate"]
TRACKING = ["in_transit", "delivered", "exception", "attempt_fail"]


def sample_cases(count: int, seed: int = 17) -> list[dict[str, Any]]:
    """Cases shaped as the portal builds them: nested, Decimal money, unknown facts left out."""
    rnd = random.Random(seed)
    cases = []
    for _ in range(count):
        value = Decimal(rnd.randint(300, 90000)) / 100
        facts: dict[str, Any] = {
            "type": rnd.choice(TYPES),
            "reason": rnd.choice(REASONS),
            "value": value,
            "value_usd": value,
            "currency": "USD",
            "market": rnd.choice(MARKETS),
            "channel": rnd.choice(CHANNELS),
            "category": rnd.choice(CATEGORIES),
            "days_since_order": rnd.randint(1, 40),
            "hours_open": rnd.randint(0, 60),
            "item": {"customized": rnd.random() < 0.03, "quantity": 1},
            "buyer": {
                "orders": rnd.randint(1, 8),
                "returns_90d": rnd.randint(0, 6),
                "first_order": rnd.random() < 0.2,
            },
            "tracking": {"status": rnd.choice(TRACKING)},
            "evidence": {"photos": rnd.randint(0, 3), "videos": 0},
        }
        if rnd.random() < 0.8:
            facts["days_since_delivery"] = rnd.randint(0, 40)
        cases.append(facts)
    return cases


def by_hand(f: dict[str, Any]) -> str:
    """The 25 rules as a careful Python developer would write them: each fact read once, None checked."""
    item = f.get("item") or {}
    buyer = f.get("buyer") or {}
    evidence = f.get("evidence") or {}
    customized = item.get("customized")
    if customized is True:
        return "reject"
    dsd = f.get("days_since_delivery")
    if dsd is not None and dsd > 30:
        return "reject"
    kind = f.get("type")
    tracking = (f.get("tracking") or {}).get("status")
    if kind == "not_received" and tracking == "delivered":
        return "request_evidence"
    dso = f.get("days_since_order")
    if kind == "not_received" and dso is not None and dso > 20:
        return "refund"
    usd = f.get("value_usd")
    if kind == "delivery_failed" and usd is not None and usd >= 50:
        return "set_deadline"
    value = f.get("value")
    if value is not None and value < 10:
        return "refund_without_return"
    orders = buyer.get("orders")
    if usd is not None and usd < 15 and orders is not None and orders >= 3:
        return "refund_without_return"
    if usd is not None and usd >= 500:
        return "request_evidence"
    returns = buyer.get("returns_90d")
    if returns is not None and returns > 5:
        return "manual_review"
    category = f.get("category")
    reason = f.get("reason")
    photos = evidence.get("photos")
    if category == "electronics" and reason == "damaged" and photos is not None and photos < 1:
        return "request_evidence"
    if category == "electronics" and reason in ("changed_mind", "size", "color"):
        return "reject"
    if reason == "damaged" and photos is not None and photos >= 2:
        return "approve_return"
    if reason == "wrong_item":
        return "approve_return"
    channel = f.get("channel")
    if reason in ("size", "color") and category == "apparel" and channel is not None and channel != "ad":
        return "exchange"
    if reason in ("size", "color") and category == "apparel":
        return "approve_return"
    if reason == "quality" and usd is not None and usd < 40:
        return "partial_refund"
    if reason == "quality" and buyer.get("first_order") is True:
        return "coupon"
    if reason == "not_as_described" and photos is not None and photos >= 1:
        return "approve_return"
    if reason == "not_as_described":
        return "request_evidence"
    if reason == "missing_parts" and usd is not None and usd < 80:
        return "partial_refund"
    market = f.get("market")
    if reason == "changed_mind" and dsd is not None and dsd <= 7 and market in ("US", "UK", "DE"):
        return "approve_return"
    if reason == "changed_mind" and channel == "live":
        return "coupon"
    if category == "beauty" and reason is not None and reason != "damaged":
        return "reject"
    hours = f.get("hours_open")
    if hours is not None and hours > 48:
        return "escalate"
    if market in ("MY", "SG", "TH", "VN", "PH", "ID") and usd is not None and usd < 25:
        return "refund_without_return"
    return "manual_review"


# Five of the 25 conditions, as zen-engine compiled expressions (zen refuses missing operands and
# Decimal, so it gets the facts it reads, always present, as floats).
ZEN_CONDITIONS = [
    'item.customized == true',
    'type == "not_received" and tracking.status == "delivered"',
    'value_usd < 15 and buyer.orders >= 3',
    'category == "electronics" and reason in ["changed_mind", "size", "color"]',
    'reason in ["size", "color"] and category == "apparel" and channel != "ad"',
]


def per_call(fn: Callable[[Any], Any], cases: list[Any], repeat: int) -> float:
    """Microseconds per call, the best of `repeat` passes over the cases."""
    return min(interleaved({"fn": fn}, cases, repeat)["fn"])


def interleaved(
    fns: dict[str, Callable[[Any], Any]],
    cases: list[Any],
    repeat: int,
    inputs: dict[str, list[Any]] | None = None,
) -> dict[str, list[float]]:
    """Microseconds per call of each function in each of `repeat` rounds, the functions taking turns
    within a round so that a busy machine slows every contender alike, in an order that turns from
    round to round (what ran just before, and left the caches, matters). `inputs` gives a function
    its own cases.

    Timed in CPU time of this process: other programs on a shared machine count for less.
    """
    rounds: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for turn in range(repeat):
        # Each round starts with the next contender: none always runs after the same one.
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            fn = fns[name]
            mine = (inputs or {}).get(name, cases)
            start = time.process_time()
            for facts in mine:
                fn(facts)
            rounds[name].append((time.process_time() - start) / len(mine) * 1e6)
    return rounds


def ratio(top: list[float], bottom: list[float]) -> str:
    """The ratio of two contenders, round by round: median and spread."""
    each = sorted(a / b for a, b in zip(top, bottom, strict=True))
    return f"{statistics.median(each):.2f}x (rounds {each[0]:.2f}-{each[-1]:.2f}x)"


def zen_five(cases: list[dict[str, Any]]) -> tuple[Callable[[Any], Any], list[dict[str, Any]]] | None:
    """zen-engine evaluating five of the conditions, and the cases as it can take them."""
    try:
        import zen
    except ImportError:
        return None
    compiled = [zen.compile_expression(c) for c in ZEN_CONDITIONS]
    floats = [
        {k: (float(v) if isinstance(v, Decimal) else v) for k, v in f.items() if k != "value"} for f in cases
    ]

    def five(facts: dict[str, Any]) -> None:
        for expression in compiled:
            expression.evaluate(facts)

    return five, floats


# The shapes that made checking quadratic: no rule shadows another, so each was compared with all before it.
ONE_LINE_RULES = {
    "value < N": lambda i: f"if value < {i} then refund_without_return",
    "value >= N and market": lambda i: f'if value >= {5_000 - i} and market == "US" then refund',
    "value > N or channel": lambda i: f'if value < {i} or channel == "c{i}" then refund',
}


def big_policy(count: int) -> str:
    lines = ['policy "bench"']
    for i in range(count):
        market = MARKETS[i % len(MARKETS)]
        lines.append(
            f'rule "r{i}": if value >= {count - i} and market == "{market}" and channel != "ad" '
            f'then partial_refund {i % 90 + 1}%, notify "t{i}"'
        )
    lines.append("else manual_review")
    return "\n".join(lines)


def large_policy() -> None:
    text = big_policy(1000)
    start = time.perf_counter()
    _, report = analyse(text)
    parse_check = time.perf_counter() - start
    assert report.error_count() == 0, report.sorted()[:3]
    start = time.perf_counter()
    big = rules.compile_policy(text)
    compile_all = time.perf_counter() - start
    print(
        f"1,000-rule policy: parse+check {parse_check * 1000:.0f} ms; "
        f"check+compile {compile_all * 1000:.0f} ms; {len(big.warnings)} warnings"
    )
    facts = [{"value": 1, "market": "JP", "channel": "live"}]
    print(f"  decide, deciding rule near the end: {per_call(big.decide, facts * 2000, 3):.1f} us")
    start = time.perf_counter()
    big.decide(facts[0]).to_dict()
    first = (time.perf_counter() - start) * 1000
    print(f"  first explanation (compiles the explanation code): {first:.0f} ms")
    for shape, line in ONE_LINE_RULES.items():
        many = "\n".join(line(i) for i in range(4_999))
        start = time.perf_counter()
        found = rules.check(many)
        print(
            f"4,999 one-line rules ({shape}): check {time.perf_counter() - start:.2f} s, "
            f"{len(found)} findings"
        )


def rendered_by(policy: rules.CompiledPolicy, facts: dict[str, Any]) -> Any:
    return policy.decide(facts).explanation


def stored_by(policy: rules.CompiledPolicy, facts: dict[str, Any]) -> Any:
    """What the portal stores with each decision: its JSON form, explanation included."""
    return policy.decide(facts).to_dict()


def main() -> None:
    repeat = 51
    cases = sample_cases(2000)
    policy = rules.compile_policy(POLICY_25)
    decisions = [policy.decide(facts) for facts in cases]
    for facts, decision in zip(cases, decisions, strict=True):
        assert decision.actions[0].name == by_hand(facts), facts
    by_rule = sum(d.rule is not None and d.explanation["outcome"] == "rule" for d in decisions) / len(cases)
    earlier = sum(len(d.explanation["earlier"]) for d in decisions) / len(cases)
    del decisions
    # The sample cases and the compiled policy live for the whole run: keep the collector off them.
    gc.collect()
    gc.freeze()

    def rendered(facts: dict[str, Any]) -> Any:
        return rendered_by(policy, facts)

    def stored(facts: dict[str, Any]) -> Any:
        return stored_by(policy, facts)

    times = interleaved(
        {"decide": policy.decide, "hand": by_hand, "rendered": rendered, "stored": stored}, cases, repeat
    )
    decide, hand, explained, json_form = (
        statistics.median(times[k]) for k in ("decide", "hand", "rendered", "stored")
    )
    print(
        f"25-rule policy, {len(cases)} sample cases: {by_rule:.0%} decided by a rule (the rest by `else`), "
        f"{earlier:.1f} earlier rules on average; median of {repeat} interleaved rounds, CPU time"
    )
    print(f"  hand-written Python chain      {hand:6.2f} us")
    print(f"  decide()                       {decide:6.2f} us   decide / hand = "
          f"{ratio(times['decide'], times['hand'])} (target <= 2x)")
    # What deciding records is all an explanation needs (the deciding rule and the facts read, in the
    # Decision): there is no cheaper decide() without it, so "recorded" is decide() itself.
    print("  decide(), explanation recorded   the same: every decision records what its explanation needs")
    # Rendered: `.explanation` read, every record of it built (or shared with earlier decisions that
    # showed the same facts), as a caller that shows it gets it.
    print(f"  decide() + .explanation        {explained:6.2f} us   rendered / decide = "
          f"{ratio(times['rendered'], times['decide'])} (target <= 3x)")
    # Stored: the whole decision in its JSON form (actions, rule, explanation with an object for each
    # record and every amount a JSON number), as the portal stores it with each case.
    print(f"  decide() + .to_dict()          {json_form:6.2f} us   JSON form / decide = "
          f"{ratio(times['stored'], times['decide'])}")
    fresh = rules.compile_policy(POLICY_25)
    start = time.process_time()
    for facts in cases:
        rendered_by(fresh, facts)
    cold = (time.process_time() - start) / len(cases) * 1e6
    print(f"  the same, first pass of a newly compiled policy (nothing shared yet, explanation code compiled)"
          f" {cold:6.2f} us")
    zen = zen_five(cases)
    if zen is None:
        print("  zen-engine not installed (pip install -e '.[bench]')")
    else:
        five, floats = zen
        both = interleaved({"zen": five, "decide": policy.decide}, cases, repeat, inputs={"zen": floats})
        zen_us = statistics.median(both["zen"])
        print(f"  zen-engine, five conditions    {zen_us:6.2f} us   zen / decide = "
              f"{ratio(both['zen'], both['decide'])} (target >= 10x)")
    text_us = per_call(lambda f: policy.decide(f).explain_text(), cases, 3)
    print(f"  decide() + explain_text()      {text_us:6.2f} us")
    large_policy()


if __name__ == "__main__":
    main()
