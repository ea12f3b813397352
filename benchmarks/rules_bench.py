"""Times the policy language by hand: parse+check, compile, and decide() against a hand-written if-chain."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import rules  # noqa: E402
from rules.policy import analyse  # noqa: E402

MARKETS = ["US", "UK", "DE", "FR", "IT", "ES", "MY", "SG", "TH", "VN", "PH", "ID", "MX", "JP"]


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


SMALL = """if item.customized then reject "Personalised items cannot be returned"
if days_since_delivery > 30 then reject "Outside the 30-day return window"
if value < 10 then refund_without_return
rule "high value": if value >= 500 then request_evidence "video", assign "senior"
if reason in ["size", "changed_mind"] and channel != "ad" then approve_return, notify "return_approved"
else manual_review
"""


# The shapes that made checking quadratic: no rule shadows another, so each was compared with all before it.
ONE_LINE_RULES = {
    "value < N": lambda i: f"if value < {i} then refund_without_return",
    "value >= N and market": lambda i: f'if value >= {5_000 - i} and market == "US" then refund',
    "value > N or channel": lambda i: f'if value < {i} or channel == "c{i}" then refund',
}


def by_hand(f: dict[str, Any]) -> str:
    item = f.get("item") or {}
    if item.get("customized") is True:
        return "reject"
    d = f.get("days_since_delivery")
    if d is not None and d > 30:
        return "reject"
    v = f.get("value")
    if v is not None and v < 10:
        return "refund_without_return"
    if v is not None and v >= 500:
        return "request_evidence"
    if f.get("reason") in ("size", "changed_mind") and f.get("channel") not in (None, "ad"):
        return "approve_return"
    return "manual_review"


def per_call(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
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
        f"check+compile {compile_all * 1000:.0f} ms;"
        f" {len(big.warnings)} warnings"
    )
    for shape, line in ONE_LINE_RULES.items():
        many = "\n".join(line(i) for i in range(4_999))
        start = time.perf_counter()
        found = rules.check(many)
        print(
            f"4,999 one-line rules ({shape}): check {time.perf_counter() - start:.2f} s, "
            f"{len(found)} findings"
        )
    facts_big = {"value": 1, "market": "JP", "channel": "live"}
    print(f"  decide, deciding rule near the end: {per_call(lambda: big.decide(facts_big), 2000):.1f} us")

    small = rules.compile_policy(SMALL)
    facts = {
        "value": 50,
        "reason": "size",
        "channel": "organic",
        "item": {"customized": False},
        "days_since_delivery": 3,
    }
    assert small.decide(facts).actions[0].name == by_hand(facts)
    n = 100_000
    print(
        f"5-rule policy, 5th rule decides: decide() {per_call(lambda: small.decide(facts), n):.2f} us; "
        f"hand-written if-chain {per_call(lambda: by_hand(facts), n):.2f} us"
    )
    print(
        f"  decide() + explanation: {per_call(lambda: small.decide(facts).explanation, n // 10):.2f} us; "
        f"+ explain_text: {per_call(lambda: small.decide(facts).explain_text(), n // 10):.2f} us"
    )


if __name__ == "__main__":
    main()
