"""The compiled policy against a plain tree-walking evaluator, on random policies and random facts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import reference_evaluator as reference
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import rules
from rules import compiler
from rules.explain import expand
from rules.policy import analyse
from rules.vocabulary import BOOLEAN, FIELDS, NUMBER

NUMBERS = ["value", "value_usd", "days_since_delivery", "buyer.orders", "item.quantity"]
TEXTS = ["reason", "market", "channel", "sku", "campaign"]
BOOLEANS = ["item.customized", "buyer.first_order"]
FREE_TEXT = ["A1", "B2", "A"]


def text_choices(field: str) -> list[str]:
    return list(FIELDS[field].values[:4]) or FREE_TEXT


def quoted(text: str) -> str:
    return '"' + text + '"'


number_literal = st.sampled_from(["0", "1", "2", "9.99", "10", "30", "-1", "0.5"])


@st.composite
def number_expr(draw: st.DrawFn, depth: int = 0) -> str:
    choice = draw(st.integers(0, 5 if depth < 2 else 1))
    if choice == 0:
        return draw(number_literal)
    if choice == 1:
        return draw(st.sampled_from(NUMBERS))
    if choice == 2:
        return "-" + draw(st.sampled_from(NUMBERS))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    return f"({draw(number_expr(depth + 1))} {op} {draw(number_expr(depth + 1))})"


@st.composite
def atom(draw: st.DrawFn) -> str:
    # Mostly a field against a number, the commonest condition and the one with boundaries.
    kind = draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))
    if kind == 0:
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        right = draw(st.one_of(number_literal, number_literal, number_expr()))
        return f"{draw(st.sampled_from(NUMBERS))} {op} {right}"
    if kind == 1:
        return f"{draw(number_expr())} {draw(st.sampled_from(['<', '>=', '==']))} {draw(number_expr())}"
    if kind == 2:
        field = draw(st.sampled_from(TEXTS))
        op = draw(st.sampled_from(["==", "!="]))
        return f"{field} {op} {quoted(draw(st.sampled_from(text_choices(field))))}"
    if kind == 3:
        field = draw(st.sampled_from(TEXTS))
        items = draw(st.lists(st.sampled_from(text_choices(field)), min_size=1, max_size=3))
        op = draw(st.sampled_from(["in", "not in"]))
        return f"{field} {op} [{', '.join(quoted(i) for i in items)}]"
    if kind == 4:
        items = draw(st.lists(number_literal, min_size=1, max_size=3))
        op = draw(st.sampled_from(["in", "not in"]))
        return f"{draw(st.sampled_from(NUMBERS))} {op} [{', '.join(items)}]"
    if kind == 5:
        return draw(st.sampled_from(BOOLEANS))
    if kind == 6:
        return f"{draw(st.sampled_from(BOOLEANS))} == {draw(st.sampled_from(['true', 'false']))}"
    if kind == 7:
        field = draw(st.sampled_from(NUMBERS + TEXTS + BOOLEANS))
        return f"{field} is {draw(st.sampled_from(['missing', 'present']))}"
    if kind == 8:
        return f"sku contains {quoted(draw(st.sampled_from(FREE_TEXT)))}"
    if kind == 9:
        items = draw(st.lists(st.sampled_from(text_choices("reason")), min_size=1, max_size=3))
        return f"[{', '.join(quoted(i) for i in items)}] contains reason"
    if kind == 10:
        return "sku contains campaign"
    other = draw(st.sampled_from(BOOLEANS))
    return f"({draw(st.sampled_from(NUMBERS))} > {draw(number_literal)}) == {other}"


@st.composite
def condition(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(atom())
    kind = draw(st.sampled_from(["not", "and", "or"]))
    if kind == "not":
        return f"not ({draw(condition(depth + 1))})"
    parts = draw(st.lists(condition(depth + 1), min_size=2, max_size=3))
    return "(" + f" {kind} ".join(f"({p})" for p in parts) + ")"


@st.composite
def policy_text(draw: st.DrawFn) -> str:
    lines = []
    for section in draw(st.lists(st.sampled_from(["", "return_received", 'deadline "reply"']), min_size=1,
                                 max_size=2, unique=True)):
        if section:
            lines.append(f"on {section}:")
        for i in range(draw(st.integers(1, 5))):
            # A top-level `and` is what explanations split into parts.
            parts = draw(st.lists(condition(), min_size=1, max_size=3))
            name = f'rule "r{i}": ' if draw(st.booleans()) else ""
            lines.append(f"{name}if {' and '.join(parts)} then hold, notify \"t{i}\"")
        if draw(st.booleans()):
            lines.append("else manual_review")
    return "\n".join(lines)


def right_value(field: str) -> st.SearchStrategy[Any]:
    kind = FIELDS[field].type
    if kind == NUMBER:
        # Mostly the policies' own numbers, so that boundaries (`==`, `<` against `<=`) are hit.
        return st.sampled_from(
            [0, 1, 2, 10, 30, -1, 3, Decimal("9.99"), Decimal("10.00"), Decimal("0.5"), 9.99, 10.0, 2**70]
        )
    if kind == BOOLEAN:
        return st.booleans()
    return st.sampled_from([*text_choices(field), "zz", "A1B2"])


WRONG = st.sampled_from(
    ["ten", 7, True, False, [1, "a"], {"x": 1}, math.nan, math.inf, Decimal("NaN"), Decimal("-Infinity"), ""]
)


@st.composite
def facts(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in NUMBERS + TEXTS + BOOLEANS:
        how = draw(st.sampled_from(["missing", "right", "right", "wrong", "none"]))
        if how == "missing":
            continue
        value = None if how == "none" else draw(right_value(field) if how == "right" else WRONG)
        parent, _, child = field.partition(".")
        if child and draw(st.booleans()):
            holder = out.setdefault(parent, {})
            if isinstance(holder, dict):
                holder[child] = value
        else:
            out[field] = value
    if draw(st.integers(0, 9)) == 0:
        # A nested object that is not an object at all.
        out[draw(st.sampled_from(["item", "buyer"]))] = draw(WRONG)
    return out


EVENTS = st.sampled_from(
    ["case_opened", "return_received", "deadline:reply", 'deadline "reply"', "dispute_opened"]
)
CHECKS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compiled_or_skip(text: str) -> rules.CompiledPolicy:
    _, report = analyse(text)
    assume(report.error_count() == 0)
    return rules.compile_policy(text)


@CHECKS
@given(text=policy_text(), cases=st.lists(facts(), min_size=1, max_size=4), event=EVENTS)
def test_compiled_policy_agrees_with_the_reference(
    text: str, cases: list[dict[str, Any]], event: str
) -> None:
    policy = compiled_or_skip(text)
    for case in cases:
        got = policy.decide(case, event)
        want = reference.decide(policy.ast, case, event)
        assert (got.actions, got.rule) == (want["actions"], want["rule"]), (text, case)
        assert expand(got.explanation) == want["explanation"], (text, case)


class CountingFacts(Mapping[str, Any]):
    """Facts that count how often each key is asked for."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.asked: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        self.asked[key] = self.asked.get(key, 0) + 1
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@CHECKS
@given(text=policy_text(), case=facts())
def test_each_fact_is_read_once_per_decision(text: str, case: dict[str, Any]) -> None:
    policy = compiled_or_skip(text)
    counted = CountingFacts(case)
    decision = policy.decide(counted)
    assert all(n == 1 for n in counted.asked.values()), counted.asked
    # The explanation comes from what the decision read, not from the facts again.
    asked = dict(counted.asked)
    decision.explain_text()
    assert counted.asked == asked


ATOMS = [
    *(f"value {op} 10" for op in ("==", "!=", "<", "<=", ">", ">=")),
    *(f"10 {op} value" for op in ("<", ">=")),
    'reason in ["size"]',
    'reason not in ["size"]',
    "item.customized",
    "item.customized == false",
    'sku contains "A"',
    '["size"] contains reason',
    "value is missing",
    "value is present",
    "value * 2 > 20",
    "(value > 9) == item.customized",
]
FACTS = [
    {"value": v, "reason": r, "item": {"customized": c}, "sku": k}
    for v in (9, 10, 11, Decimal("10.0"), 10.0, None, "10")
    for r, c, k in (("size", True, "A1"), ("color", False, "B"), (None, "yes", 7))
]


def test_every_atom_and_its_negations_agree_with_the_reference() -> None:
    for atom_text in ATOMS:
        for shape in ("{a}", "not ({a})", "not (not ({a}))", "({a}) and value is present",
                      "({a}) or value > 10", "not (({a}) or value > 10)", "not (({a}) and sku is present)"):
            text = f"if {shape.format(a=atom_text)} then hold\nelse manual_review"
            policy = rules.compile_policy(text)
            for case in FACTS:
                want = reference.decide(policy.ast, case)
                got = policy.decide(case)
                explained = expand(got.explanation)
                assert (got.rule, explained) == (want["rule"], want["explanation"]), (text, case)


def test_the_reference_agrees_on_a_known_case() -> None:
    """The reference itself, on the contract's example, so a broken reference cannot pass silently."""
    text = 'if value < 10 then refund_without_return\nif reason in ["size"] and value is present then hold'
    got = reference.decide(analyse(text)[0], {"value": "ten", "reason": "size"})
    assert got["rule"] is None
    assert got["explanation"]["earlier"][0]["part"]["values"][0]["status"] == "wrong type"
    assert got["explanation"]["earlier"][1]["result"] == "false"


@CHECKS
@given(
    text=policy_text(),
    cases=st.lists(facts(), min_size=2, max_size=6),
    event=EVENTS,
    room=st.sampled_from([0, 2, 2048]),
)
def test_shared_explanation_entries_agree_with_the_reference(
    text: str, cases: list[dict[str, Any]], event: str, room: int
) -> None:
    """Cases decided twice over, so later explanations reuse the entries earlier ones kept (or, with
    no room left, build their own): every explanation is still the reference's."""
    shared = compiler.SHARED_ENTRIES
    compiler.SHARED_ENTRIES = room
    try:
        policy = compiled_or_skip(text)
    finally:
        compiler.SHARED_ENTRIES = shared
    for case in cases + cases:
        got = policy.decide(case, event)
        want = reference.decide(policy.ast, case, event)
        assert expand(got.explanation) == want["explanation"], (text, case)
        # The JSON form needs no help to be written out.
        assert json.dumps(expand(got.explanation)) == json.dumps(want["explanation"], default=str)
