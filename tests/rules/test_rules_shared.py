"""Decisions as tuples, decide() for every shape of call, and explanation entries shared between decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

import rules
from rules import Action, RuleRef, compiler
from rules.explain import expand
from rules.shared import SharedEntries

POLICY = """policy "shared"
if reason == "damaged" and value > 100 then approve_return
if reason == "wrong_item" then refund
if buyer.orders > 5 then coupon 5
else manual_review
"""


class Facts(Mapping[str, Any]):
    """Facts that are a Mapping but not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@pytest.fixture
def policy() -> rules.CompiledPolicy:
    return rules.compile_policy(POLICY)


def test_decision_reads_like_before(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"reason": "wrong_item"})
    assert decision.event == "case_opened"
    assert decision.actions == [Action("refund")]
    assert decision.rule == RuleRef(3)
    assert decision == policy.decide({"reason": "wrong_item", "value": 1})
    assert decision != policy.decide({"reason": "size"})
    assert repr(decision) == "Decision(event='case_opened', actions=[Action(name='refund', args=())], " \
        "rule=RuleRef(line=3, name=None))"
    with pytest.raises(TypeError):
        hash(decision)
    with pytest.raises(TypeError):
        _ = decision < decision  # type: ignore[operator]
    assert decision.explanation is decision.explanation


def test_decision_made_by_hand_and_from_storage(policy: rules.CompiledPolicy) -> None:
    original = policy.decide({"reason": "damaged", "value": Decimal("150.50")})
    stored = json.loads(json.dumps(original.to_dict()))
    again = rules.Decision.from_dict(stored)
    assert again == original
    assert again.explanation == stored["explanation"]
    assert again.explain_text() == original.explain_text()
    made = rules.Decision("case_opened", [Action("hold")], None, lambda reason: {"why": reason}, ("late",))
    assert made.explanation == {"why": "late"}
    assert made.actions == [Action("hold")] and made.rule is None


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.decide({"reason": "wrong_item"}),
        lambda p: p.decide({"reason": "wrong_item"}, "case_opened"),
        lambda p: p.decide(facts={"reason": "wrong_item"}, event="case_opened"),
        lambda p: p.decide(Facts({"reason": "wrong_item"})),
        lambda p: p.decide(Facts({"reason": "wrong_item"}), " case_opened "),
    ],
)
def test_decide_takes_every_shape_of_call(policy: rules.CompiledPolicy, call: Any) -> None:
    decision = call(policy)
    assert decision.actions == [Action("refund")]
    assert decision.explanation["outcome"] == "rule"


def test_decide_other_events_and_odd_facts(policy: rules.CompiledPolicy) -> None:
    assert policy.decide(None).actions == [Action("manual_review")]
    assert policy.decide(None).explanation["outcome"] == "else"
    missing = policy.decide({"reason": "wrong_item"}, "return_received")
    assert missing.actions == [Action("manual_review")]
    assert missing.explanation["outcome"] == "no_section"
    with pytest.raises(TypeError):
        policy.decide(["reason"])  # type: ignore[arg-type]


def test_policy_without_a_default_section() -> None:
    policy = rules.compile_policy('on return_received:\nif inspection.result == "fail" then reject "Used"')
    assert policy.decide({"inspection": {"result": "fail"}}).explanation["outcome"] == "no_section"
    decided = policy.decide({"inspection": {"result": "fail"}}, "return_received")
    assert decided.actions == [Action("reject", ("Used",))]


def _flat(value: Any) -> list[Any]:
    """Every value inside nested tuples."""
    if isinstance(value, tuple):
        return [v for item in value for v in _flat(item)]
    return [value]


def test_entries_of_repeating_facts_are_shared_and_read_only(policy: rules.CompiledPolicy) -> None:
    first = policy.decide({"reason": "size", "buyer": {"orders": 2}}).explanation
    second = policy.decide({"reason": "size", "buyer": {"orders": 2}}).explanation
    assert first == second
    assert first is not second and first["earlier"] is not second["earlier"]
    assert all(a is b for a, b in zip(first["earlier"], second["earlier"], strict=True))
    entry = second["earlier"][0]
    # A shared entry is tuples all the way down, holding only texts, numbers and None: nobody can change it.
    assert type(entry) is tuple
    assert all(v is None or type(v) in (str, int, bool) for v in _flat(entry)), entry
    with pytest.raises(TypeError):
        entry[2] = "true"  # type: ignore[index]
    assert policy.decide({"reason": "size", "buyer": {"orders": 2}}).explanation == first
    # Its JSON form is the caller's own to change.
    plain = expand(second)["earlier"][0]
    plain["result"] = "changed"
    plain["part"]["values"].append({})
    assert expand(first)["earlier"][0]["result"] != "changed"
    # The explanation itself is the caller's own.
    second["earlier"].append("mine")
    assert "mine" not in policy.decide({"reason": "size", "buyer": {"orders": 2}}).explanation["earlier"]


def test_money_and_odd_values_are_never_shared(policy: rules.CompiledPolicy) -> None:
    for facts in ({"reason": "damaged", "value": Decimal("99.5")}, {"reason": ["damaged"], "value": 5.5}):
        first = policy.decide(facts).explanation["earlier"][0]
        second = policy.decide(facts).explanation["earlier"][0]
        assert first == second and first is not second and type(first) is tuple


def test_true_and_one_are_never_taken_for_each_other() -> None:
    policy = rules.compile_policy("if buyer.orders > 5 then hold\nif item.customized then hold")
    as_one = policy.decide({"buyer": {"orders": 1}, "item": {"customized": 1}}).explanation
    as_true = policy.decide({"buyer": {"orders": True}, "item": {"customized": True}}).explanation
    one = {"field": "buyer.orders", "value": 1, "status": "present"}
    as_one, as_true = expand(as_one), expand(as_true)
    assert as_one["earlier"][0]["part"]["values"][0] == one
    assert as_true["earlier"][0]["part"]["values"][0]["status"] == "wrong type"
    assert as_one["earlier"][1]["part"]["values"][0]["status"] == "wrong type"
    assert as_true["rule"] == {"line": 2, "name": None}


def test_room_bounds_what_a_section_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "SHARED_ENTRIES", 3)
    policy = rules.compile_policy(POLICY)
    first = [policy.decide({"reason": "size", "buyer": {"orders": n}}).explanation for n in range(-14, 6)]
    assert all(len(e["earlier"]) == 3 for e in first)
    again = [policy.decide({"reason": "size", "buyer": {"orders": n}}).explanation for n in range(-14, 6)]
    shared = [
        a for before, after in zip(first, again, strict=True)
        for a, b in zip(before["earlier"], after["earlier"], strict=True)
        if a is b
    ]
    assert len({id(e) for e in shared}) == 3
    reference = rules.compile_policy(POLICY)
    assert policy.decide({"reason": "size", "buyer": {"orders": 5}}).explanation == reference.decide(
        {"reason": "size", "buyer": {"orders": 5}}
    ).explanation


def test_shared_entries_keep_within_their_room() -> None:
    entries = SharedEntries(1)
    kept: dict[Any, Any] = {}
    first = entries.keep(kept, "a", ("x", 1))
    assert kept == {"a": first}
    second = entries.keep(kept, "b", ("x", 2))
    assert second == ("x", 2) and "b" not in kept
