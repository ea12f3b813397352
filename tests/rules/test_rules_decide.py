"""Deciding cases: three-valued logic, facts of every shape, hit policy, JSON and explanations."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

import rules
from rules import Action, RuleRef
from rules.explain import expand


def decide(condition: str, facts: dict[str, Any]) -> bool:
    """Whether a rule with `condition` fires (True) or not for these facts."""
    policy = rules.compile_policy(f"if {condition} then hold")
    return policy.decide(facts).rule is not None


def truth(condition: str, facts: dict[str, Any]) -> str:
    policy = rules.compile_policy(f"if {condition} then hold")
    decision = policy.decide(facts)
    if decision.rule is not None:
        return "true"
    return expand(decision.explanation)["earlier"][0]["result"]


# Facts giving each truth value to `value > 10` (A) and `buyer.orders > 1` (B).
VALUES = {"true": {"value": 20, "orders": 5}, "false": {"value": 1, "orders": 0}, "unknown": {}}


def _facts(a: str, b: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if "value" in VALUES[a]:
        facts["value"] = VALUES[a]["value"]
    if "orders" in VALUES[b]:
        facts["buyer"] = {"orders": VALUES[b]["orders"]}
    return facts


KLEENE_AND = {
    ("true", "true"): "true",
    ("true", "false"): "false",
    ("true", "unknown"): "unknown",
    ("false", "true"): "false",
    ("false", "false"): "false",
    ("false", "unknown"): "false",
    ("unknown", "true"): "unknown",
    ("unknown", "false"): "false",
    ("unknown", "unknown"): "unknown",
}
KLEENE_OR = {
    ("true", "true"): "true",
    ("true", "false"): "true",
    ("true", "unknown"): "true",
    ("false", "true"): "true",
    ("false", "false"): "false",
    ("false", "unknown"): "unknown",
    ("unknown", "true"): "true",
    ("unknown", "false"): "unknown",
    ("unknown", "unknown"): "unknown",
}


@pytest.mark.parametrize("a, b", list(KLEENE_AND))
def test_and_follows_three_valued_logic(a: str, b: str) -> None:
    assert truth("value > 10 and buyer.orders > 1", _facts(a, b)) == KLEENE_AND[(a, b)]


@pytest.mark.parametrize("a, b", list(KLEENE_OR))
def test_or_follows_three_valued_logic(a: str, b: str) -> None:
    assert truth("(value > 10 or buyer.orders > 1)", _facts(a, b)) == KLEENE_OR[(a, b)]


@pytest.mark.parametrize("a, expected", [("true", "false"), ("false", "true"), ("unknown", "unknown")])
def test_not_of_unknown_is_unknown(a: str, expected: str) -> None:
    assert truth("not value > 10", _facts(a, "unknown")) == expected


@pytest.mark.parametrize(
    "condition",
    [
        "value < 10",
        "value >= 10",
        "value == 0",
        "value != 0",
        'market == "US"',
        'market != "US"',
        'market in ["US"]',
        'market not in ["US"]',
        'sku contains "x"',
        "not item.customized",
        "item.customized",
        "value + 1 > 0",
        "value * 0 == 0",
        "-value < 0",
    ],
)
def test_a_missing_field_never_makes_a_condition_true(condition: str) -> None:
    assert decide(condition, {}) is False
    assert decide(f"not ({condition})", {}) is False


@pytest.mark.parametrize(
    "facts",
    [
        {"value": "5"},
        {"value": True},
        {"value": None},
        {"value": [5]},
        {"value": {"x": 5}},
        {"value": float("nan")},
        {"value": float("inf")},
        {"value": Decimal("NaN")},
    ],
)
def test_wrong_type_counts_as_missing_and_is_said_so(facts: dict[str, Any]) -> None:
    policy = rules.compile_policy("if value < 10 then hold\nif value is missing then escalate")
    decision = policy.decide(facts)
    assert decision.actions == [Action("escalate")]
    part = expand(decision.explanation)["earlier"][0]["part"]
    assert part["result"] == "unknown"
    expected = "missing" if facts["value"] is None else "wrong type"
    assert part["values"][0]["status"] == expected
    assert expected in decision.explain_text()


@pytest.mark.parametrize(
    "facts, missing",
    [
        ({}, True),
        ({"campaign": "summer"}, False),
        ({"campaign": None}, True),
        ({"campaign": 3}, True),
    ],
)
def test_is_missing_and_is_present(facts: dict[str, Any], missing: bool) -> None:
    assert decide("campaign is missing", facts) is missing
    assert decide("campaign is present", facts) is not missing


@pytest.mark.parametrize("value", [5, 5.0, Decimal("5"), Decimal("5.00")])
def test_numbers_of_every_kind_compare_correctly(value: Any) -> None:
    assert decide("value == 5", {"value": value})
    assert decide("value < 5.01", {"value": value})
    assert not decide("value > 5", {"value": value})


def test_float_facts_compare_like_written_decimals() -> None:
    assert decide("value == 9.99", {"value": 9.99})
    assert decide("value + 0.1 == 10.09", {"value": 9.99})
    assert decide("value_usd == 0.3", {"value_usd": 0.1 + 0.2}) is False  # a real float sum stays inexact


@pytest.mark.parametrize(
    "condition, facts, fires",
    [
        ("value / 2 == 2.5", {"value": 5}, True),
        ("value - 10 < 0", {"value": 5}, True),
        ("value * 3 == 15", {"value": Decimal("5")}, True),
        ("value / buyer.orders > 1", {"value": 5, "buyer": {"orders": 0}}, False),
        ("not (value / buyer.orders > 1)", {"value": 5, "buyer": {"orders": 0}}, False),
        ("value + buyer.orders > 1", {"value": 5}, False),
        ("-value < 0", {"value": 5}, True),
    ],
)
def test_arithmetic(condition: str, facts: dict[str, Any], fires: bool) -> None:
    assert decide(condition, facts) is fires


def test_division_by_zero_is_unknown_not_an_exception() -> None:
    assert truth("value / buyer.orders > 1", {"value": 5, "buyer": {"orders": 0}}) == "unknown"


@pytest.mark.parametrize(
    "condition, facts, fires",
    [
        ('sku contains "RING"', {"sku": "GOLD-RING-01"}, True),
        ('sku contains "ring"', {"sku": "GOLD-RING-01"}, False),
        ('["A1", "B2"] contains sku', {"sku": "B2"}, True),
        ('["A1", "B2"] contains sku', {"sku": "C3"}, False),
        ('market in ["US", "UK"]', {"market": "UK"}, True),
        ('market in ["US", "UK"]', {"market": "DE"}, False),
        ('market not in ["US", "UK"]', {"market": "DE"}, True),
        ('market not in ["US", "UK"]', {"market": "US"}, False),
        ("value in [1, 2.5]", {"value": 2.5}, True),
        ("value in [1, 2.5]", {"value": Decimal("1.0")}, True),
    ],
)
def test_contains_and_in(condition: str, facts: dict[str, Any], fires: bool) -> None:
    assert decide(condition, facts) is fires


@pytest.mark.parametrize(
    "facts",
    [
        {"item": {"customized": True}},
        {"item.customized": True},
    ],
)
def test_nested_and_dotted_facts(facts: dict[str, Any]) -> None:
    assert decide("item.customized", facts)


def test_nested_path_through_a_non_object_is_missing() -> None:
    assert truth("item.customized", {"item": "ring"}) == "unknown"


POLICY = """if item.customized then reject "Personalised items cannot be returned"
if value < 10 then refund_without_return
rule "high value": if value >= 500 then request_evidence "video", assign "senior"
if value >= 100 then partial_refund 20%, coupon 5
else manual_review

on return_received:
  if inspection.result == "pass" then refund

on delivery_failed:
  if value >= 50 then notify "confirm_address", set_deadline "redelivery" 12 days

on deadline "redelivery":
  if tracking.status != "delivered" then refund
"""


@pytest.fixture(scope="module")
def policy() -> rules.CompiledPolicy:
    return rules.compile_policy(POLICY)


def test_first_matching_rule_decides(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"item": {"customized": True}, "value": 5})
    assert decision.actions == [Action("reject", ("Personalised items cannot be returned",))]
    assert decision.rule == RuleRef(1, None)


def test_named_rule_reference(policy: rules.CompiledPolicy) -> None:
    assert policy.decide({"value": 600}).rule == RuleRef(3, "high value")


def test_else_is_the_deciding_rule_with_its_line_and_no_name(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"value": 50})
    assert decision.actions == [Action("manual_review")]
    assert decision.rule == RuleRef(5, None)


def test_no_match_and_no_else_decides_manual_review_with_no_rule(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"inspection": {"result": "fail"}}, "return_received")
    assert decision.to_dict(explanation=False) == {
        "event": "return_received",
        "actions": [{"name": "manual_review", "args": []}],
        "rule": None,
    }


@pytest.mark.parametrize("event", ["inspection_done", "dispute_opened", "deadline:unknown", "no_such_event"])
def test_event_without_a_section_decides_manual_review(policy: rules.CompiledPolicy, event: str) -> None:
    decision = policy.decide({"value": 5}, event)
    assert (decision.event, decision.actions, decision.rule) == (event, [Action("manual_review")], None)


@pytest.mark.parametrize("event", ["deadline:redelivery", 'deadline "redelivery"'])
def test_deadline_sections(policy: rules.CompiledPolicy, event: str) -> None:
    decision = policy.decide({"tracking": {"status": "attempt_fail"}}, event)
    assert decision.event == event
    assert decision.actions == [Action("refund")]


def test_json_argument_encoding(policy: rules.CompiledPolicy) -> None:
    assert policy.decide({"value": 60}, "delivery_failed").to_dict(explanation=False)["actions"] == [
        {"name": "notify", "args": ["confirm_address"]},
        {"name": "set_deadline", "args": ["redelivery", {"seconds": 1036800}]},
    ]
    assert policy.decide({"value": 200}).to_dict(explanation=False)["actions"] == [
        {"name": "partial_refund", "args": [{"percent": 20}]},
        {"name": "coupon", "args": [5]},
    ]


def test_decimal_arguments_become_json_numbers() -> None:
    policy = rules.compile_policy("if value > 1 then coupon 2.5, partial_refund 12.5%")
    data = policy.decide({"value": 2}).to_dict()
    assert data["actions"] == [
        {"name": "coupon", "args": [2.5]},
        {"name": "partial_refund", "args": [{"percent": 12.5}]},
    ]
    json.dumps(data)


def test_decision_is_json_serialisable_with_explanation(policy: rules.CompiledPolicy) -> None:
    data = policy.decide({"value": Decimal("600.50"), "item": {"customized": "yes"}}).to_dict()
    text = json.dumps(data)
    assert set(data) == {"event", "actions", "rule", "explanation"}
    assert "wrong type" in text


def test_explanation_of_deciding_rule_and_earlier_rules(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"value": 600, "item": {"customized": False}})
    info = expand(decision.explanation)
    assert info["outcome"] == "rule"
    assert info["parts"] == [
        {
            "text": "value >= 500",
            "result": "true",
            "values": [{"field": "value", "value": 600, "status": "present"}],
        }
    ]
    assert [(e["line"], e["part"]["text"], e["part"]["result"]) for e in info["earlier"]] == [
        (1, "item.customized", "false"),
        (2, "value < 10", "false"),
    ]


def test_explanation_names_the_first_failing_part() -> None:
    policy = rules.compile_policy(
        'if value > 1 and market == "US" and channel == "ad" then hold\nelse refund'
    )
    info = expand(policy.decide({"value": 5, "market": "UK"}).explanation)
    assert info["outcome"] == "else"
    assert info["earlier"][0]["part"]["text"] == 'market == "US"'
    assert info["earlier"][0]["part"]["result"] == "false"


def test_explanation_of_each_part_of_the_deciding_rule() -> None:
    policy = rules.compile_policy('if value > 1 and market == "US" then hold')
    parts = expand(policy.decide({"value": 5, "market": "US"}).explanation)["parts"]
    assert [(p["text"], p["result"]) for p in parts] == [("value > 1", "true"), ('market == "US"', "true")]


@pytest.mark.parametrize(
    "lang, words",
    [
        (
            "en",
            ["the rule on line 3", "high value", "value >= 500: true", "value = 600", "line 1", "is missing"],
        ),
        ("zh", ["第 3 行", "high value", "value >= 500: 真", "value = 600", "第 1 行", "缺失"]),
    ],
)
def test_explain_text_in_two_languages(policy: rules.CompiledPolicy, lang: str, words: list[str]) -> None:
    text = policy.decide({"value": 600}).explain_text(lang)
    for word in words:
        assert word in text


def test_explanation_is_lazy_and_cached(policy: rules.CompiledPolicy) -> None:
    decision = policy.decide({"value": 600})
    assert decision.explanation is decision.explanation


def test_facts_may_be_none_but_not_a_list(policy: rules.CompiledPolicy) -> None:
    assert policy.decide(None).actions == [Action("manual_review")]
    with pytest.raises(TypeError):
        policy.decide([1, 2])  # type: ignore[arg-type]


def test_literals_are_never_evaluated_as_code() -> None:
    evil = '__import__("os").system("echo hacked")'
    policy = rules.compile_policy(
        f'if sku == "{evil.replace(chr(34), chr(92) + chr(34))}" then reject "x\\" + 1 + \\""'
    )
    assert policy.decide({"sku": evil}).actions == [Action("reject", ('x" + 1 + "',))]
    assert policy.decide({"sku": "other"}).actions == [Action("manual_review")]


def test_stored_decision_explains_again_in_both_languages() -> None:
    import json

    from rules import compile_policy
    from rules.decision import Decision

    policy = compile_policy(
        'if value < 10 then partial_refund 20%, set_deadline "x" 2 days\nelse manual_review'
    )
    original = policy.decide({"value": 5})
    stored = json.loads(json.dumps(original.to_dict()))
    again = Decision.from_dict(stored)
    assert again == original
    assert again.explain_text("en") == original.explain_text("en")
    assert "第 1 行" in again.explain_text("zh")


def test_explanation_keeps_facts_as_read_and_its_json_form_has_numbers() -> None:
    """Deciding keeps the amount as read (a Decimal); the stored JSON form has a number, and the text shows
    the same amount either way."""
    policy = rules.compile_policy("if value < 10 then refund")
    decision = policy.decide({"value": Decimal("12.50")})
    _line, _name, result, part = decision.explanation["earlier"][0]
    assert (result, part) == ("false", ("value < 10", False, (("value", Decimal("12.50"), "present"),)))
    data = decision.to_dict()
    shown = data["explanation"]["earlier"][0]["part"]["values"][0]["value"]
    assert shown == 12.5 and type(shown) is float
    stored = json.loads(json.dumps(data))
    assert stored == data
    # The stored (JSON) form goes through `expand` unchanged, and explains the same.
    assert expand(stored["explanation"]) == stored["explanation"]
    again = rules.Decision.from_dict(stored)
    assert again.explain_text() == decision.explain_text()
    assert "value = 12.5" in decision.explain_text()
