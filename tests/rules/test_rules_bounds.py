"""Bounded checking: linear shadowing search, a time budget, cancellation, and sane argument ranges."""

from __future__ import annotations

import random

import pytest

import rules
from rules import nodes as n
from rules.budget import Budget
from rules.diagnostics import Reporter
from rules.reach import find_unreachable, implies, normal
from rules.reader import read_policy


def _pairwise(found_rules: list[n.Rule]) -> list[tuple[int, int]]:
    """The plain quadratic search the index and staircases must agree with."""
    forms = [normal(r.condition) for r in found_rules]
    result = []
    for j, form in enumerate(forms):
        for i in range(j):
            if implies(form, forms[i]):
                result.append((found_rules[j].line, found_rules[i].line))
                break
    return result


def _rules_of(text: str) -> list[n.Rule]:
    policy = read_policy(text, Reporter(text))
    return [r for s in policy.sections for r in s.rules]


@pytest.mark.parametrize("seed", range(40))
def test_shadowing_search_finds_what_a_pairwise_search_finds(seed: int) -> None:
    pick = random.Random(seed)
    ops = ["<", "<=", ">", ">=", "==", "!="]
    lines = []
    for _ in range(80):
        shape = pick.randrange(7)
        a = f"value {pick.choice(ops)} {pick.randrange(8)}"
        b = f"days_since_delivery {pick.choice(ops)} {pick.randrange(8)}"
        market = f'market == "{pick.choice(["US", "DE"])}"'
        condition = [
            a,
            b,
            f"{a} and {b}",
            f'{a} or channel == "ad"',
            f"{a} and {market}",
            f"{market} and {b} and item.customized",
            f'{a} and market in ["{pick.choice(["US", "DE"])}"]',
        ][shape]
        lines.append(f"if {condition} then refund")
    found = _rules_of("\n".join(lines))
    shadowing = find_unreachable(found)
    assert [(r.line, e.line) for r, e in shadowing.found] == _pairwise(found)
    assert shadowing.unsearched_from is None


@pytest.mark.parametrize(
    "line",
    [
        "if value < {i} then refund_without_return",
        'if value >= {j} and market == "US" and channel == "ad" then refund',
        'if item.customized and days_since_delivery > {j} then reject "late"',
    ],
)
def test_five_thousand_one_line_rules_check_without_pairwise_work(line: str) -> None:
    text = "\n".join(line.format(i=i, j=5_000 - i) for i in range(4_999))
    shadowing = find_unreachable(_rules_of(text), checks=0)  # not one pairwise check may be needed
    assert shadowing.found == [] and shadowing.unsearched_from is None


def test_the_earliest_shadowing_rule_is_named() -> None:
    text = "if value < 10 then refund\nif value < 20 then refund\nif value < 5 then refund"
    warning = next(d for d in rules.check(text) if d.code == "rule.unreachable")
    assert (warning.line, warning.params["first"]) == (3, 1)


def test_a_section_past_the_search_budget_says_what_was_not_searched() -> None:
    text = "\n".join(f'if value > {i} or channel == "c{i}" then refund' for i in range(50))
    shadowing = find_unreachable(_rules_of(text), checks=100)
    assert shadowing.unsearched_from is not None
    assert shadowing.unsearched_from.line > 1


def test_a_check_over_its_time_budget_stops_with_an_error_in_both_languages() -> None:
    text = "\n".join(f"if value < {i} then refund_without_return" for i in range(2_000))
    found = rules.check(text, Budget(seconds=0.0))
    assert [d.code for d in found] == ["limit.time"]
    assert "longer than 0 seconds" in found[0].message
    assert "超过 0 秒" in found[0].render("zh")


def test_a_cancelled_check_stops() -> None:
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return True

    found = rules.check("\n".join(f"if value < {i} then refund" for i in range(500)), Budget(None, cancelled))
    assert [d.code for d in found] == ["limit.cancelled"]
    assert len(asked) == 1


@pytest.mark.parametrize(
    "action, code, english, chinese",
    [
        ('set_deadline "x" 600000 weeks', "args.duration_range", "at most 366 days; this one is 600000 weeks",
         "最多 366 天"),
        ('set_deadline "x" 367 days', "args.duration_range", "at most 366 days", "最多 366 天"),
        ("coupon 1e30", None, None, None),
        ("coupon 1000001", "args.amount_range", "at most 1,000,000", "最多 1,000,000"),
        ("partial_refund 2000000", "args.amount_range", "at most 1,000,000", "最多 1,000,000"),
        ("partial_refund 101%", "args.percent_range", "at most 100%", "不超过 100%"),
    ],
)
def test_action_arguments_stay_in_sane_ranges(
    action: str, code: str | None, english: str | None, chinese: str | None
) -> None:
    errors = [d for d in rules.check(f"if value > 1 then {action}") if d.severity == "error"]
    assert errors, action
    if code is None:
        return
    assert [d.code for d in errors] == [code]
    assert english in errors[0].message
    assert chinese in errors[0].render("zh")


@pytest.mark.parametrize("action", ['set_deadline "x" 366 days', "coupon 1000000", "partial_refund 100%"])
def test_the_largest_sane_arguments_are_accepted(action: str) -> None:
    assert [d for d in rules.check(f"if value > 1 then {action}") if d.severity == "error"] == []
