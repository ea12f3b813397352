"""Limits: hostile or runaway policies get a clear error, never a crash or a stall."""

from __future__ import annotations

import pytest

import rules
from rules import limits
from rules.messages import MESSAGES, render


def codes(text: str) -> list[str]:
    return [d.code for d in rules.check(text) if d.severity == "error"]


def test_policy_size_limit() -> None:
    text = "# padding\n" * (limits.MAX_SOURCE_BYTES // 10 + 10)
    found = rules.check(text)
    assert [d.code for d in found] == ["limit.size"]
    assert "KiB" in found[0].message


@pytest.mark.parametrize("depth", [limits.MAX_DEPTH + 1, 200, 5000])
def test_nesting_limit_with_brackets(depth: int) -> None:
    text = "if " + "(" * depth + "value > 1" + ")" * depth + " then refund"
    assert codes(text) == ["limit.depth"]


@pytest.mark.parametrize("depth", [limits.MAX_DEPTH + 1, 3000])
def test_nesting_limit_with_not(depth: int) -> None:
    assert codes("if " + "not " * depth + "item.customized then refund") == ["limit.depth"]


def test_nesting_limit_with_minus() -> None:
    assert codes("if " + "- " * 100 + "value > 1 then refund") == ["limit.depth"]


def test_deepest_allowed_nesting_compiles_and_decides() -> None:
    half = limits.MAX_DEPTH // 2
    text = "if " + "not (" * half + "value > 1" + ")" * half + " then refund"
    policy = rules.compile_policy(text)
    assert policy.decide({"value": 5}).actions == [rules.Action("refund")]


def test_long_flat_conditions_are_fine() -> None:
    text = "if " + " and ".join(f"value > {i}" for i in range(400)) + " then refund"
    policy = rules.compile_policy(text)
    assert policy.decide({"value": 1000}).actions == [rules.Action("refund")]


def test_token_limit_per_line() -> None:
    text = "if " + " + ".join(["value"] * limits.MAX_TOKENS_PER_STATEMENT) + " > 1 then refund"
    assert codes(text) == ["limit.tokens"]


def test_rule_count_limit() -> None:
    text = "\n".join(f"if value > {i} then refund" for i in range(limits.MAX_RULES + 2))
    found = [d for d in rules.check(text) if d.code == "limit.rules"]
    assert len(found) == 1
    assert found[0].line == limits.MAX_RULES + 1


def test_string_length_limit() -> None:
    text = f'if value > 1 then reject "{"x" * (limits.MAX_STRING_LENGTH + 1)}"'
    assert codes(text) == ["limit.string"]


def test_number_length_limit() -> None:
    assert codes("if value > " + "9" * 5000 + " then refund") == ["limit.number"]


def test_every_message_has_english_and_chinese() -> None:
    for code, (en, zh) in MESSAGES.items():
        assert en and zh and en != zh, code
        assert render(code, {}, "zh")


def test_diagnostics_render_in_chinese() -> None:
    diag = rules.check("if valeu < 10 then refund")[0]
    assert diag.render("zh") == "未知字段 `valeu`；您是不是要写 `value`？"
    assert diag.render("en") == diag.message
    diag = rules.check('if value < "x" then refund')[0]
    assert diag.render("zh") == "`<` 只能比较数字，但这里是文字"
    assert diag.to_dict()["params"] == {"op": "<", "type": "text"}


@pytest.mark.parametrize("terms", [limits.MAX_EXPRESSION_DEPTH + 1, 200, 300, 600])
def test_long_arithmetic_chain_is_refused_not_crashed(terms: int) -> None:
    # 300 chained `+` once passed the check and then crashed compiling (Python's parser nesting limit).
    text = "if " + " + ".join(["value"] * terms) + " > 1 then refund"
    assert codes(text) == ["limit.expression"]
    with pytest.raises(rules.PolicyError) as refused:
        rules.compile_policy(text)
    assert "operations inside one another" in str(refused.value)


def test_longest_allowed_arithmetic_chain_compiles_and_decides() -> None:
    # The comparison is one operation, so the chain may have one sign fewer than the limit.
    text = "if " + " + ".join(["value"] * limits.MAX_EXPRESSION_DEPTH) + " > 1 then refund"
    policy = rules.compile_policy(text)
    assert policy.decide({"value": 1}).actions == [rules.Action("refund")]
    assert policy.decide({}).actions == [rules.Action("manual_review")]  # unknown value: a person decides


def test_deepest_brackets_around_a_long_chain_compile() -> None:
    half = limits.MAX_DEPTH // 2
    chain = " * ".join(["value"] * (limits.MAX_EXPRESSION_DEPTH - half - 1))
    text = "if " + "not (" * half + chain + " > 1" + ")" * half + " then refund"
    assert codes(text) == []
    rules.compile_policy(text)
