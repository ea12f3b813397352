"""Parsing: every piece of syntax reads into the expected tree."""

from __future__ import annotations

from decimal import Decimal

import pytest

import rules
from rules import nodes as n
from rules.policy import analyse


def parse(text: str) -> n.Policy:
    policy, report = analyse(text)
    errors = [d for d in report.items if d.severity == "error"]
    assert not errors, [d.message for d in errors]
    return policy


CONTRACT = """# A comment runs to the end of the line.
policy "North America returns"          # optional header, first non-comment line

if item.customized then reject "Personalised items cannot be returned"
if days_since_delivery > 30 then reject "Outside the 30-day return window"
if value < 10 then refund_without_return
rule "high value": if value >= 500 then request_evidence "video", assign "senior"
if reason in ["size", "changed_mind"] and channel != "ad" then approve_return, notify "return_approved"
else manual_review

on return_received:
  if inspection.result == "pass" then refund
  else assign "qc"

on delivery_failed:
  if value >= 50 then notify "confirm_address", set_deadline "redelivery" 12 days
"""


def test_contract_example_parses_into_sections() -> None:
    policy = parse(CONTRACT)
    assert policy.name == "North America returns"
    assert [s.event.key for s in policy.sections] == ["case_opened", "return_received", "delivery_failed"]
    first = policy.sections[0]
    assert [r.line for r in first.rules] == [4, 5, 6, 7, 8]
    assert first.rules[3].name == "high value"
    assert first.elses[0].line == 9


def test_header_is_optional() -> None:
    assert parse("if value < 10 then refund").name is None


@pytest.mark.parametrize(
    "text",
    [
        'rule "cheap": if value < 10 then refund',
        'rule "cheap":\nif value < 10 then refund',
        'rule "cheap":   # a comment\n\n  if value < 10 then refund',
    ],
)
def test_rule_name_on_same_line_or_line_above(text: str) -> None:
    rule = parse(text).sections[0].rules[0]
    assert rule.name == "cheap"
    assert rule.line == 1


@pytest.mark.parametrize(
    "text",
    [
        'if value < 10 and\n   market == "US" then refund',
        'if value < 10 or\n   market == "US" then refund',
        'if market in ["US",\n  "UK"] then refund',
        'if (value < 10\n  and market == "US") then refund',
        'if value < 10 then refund,\n   notify "x"',
        "if value < 10 then\n   refund",
    ],
)
def test_continuation_lines(text: str) -> None:
    policy = parse(text)
    assert len(policy.sections[0].rules) == 1
    assert policy.sections[0].rules[0].line == 1


def test_comments_and_blank_lines_are_ignored() -> None:
    text = "# top\n\n   # indented comment\nif value < 10 then refund # trailing\n# end"
    assert parse(text).sections[0].rules[0].line == 4


@pytest.mark.parametrize(
    "raw, value",
    [
        ('"退货"', "退货"),
        ('"Ñandú 🚚"', "Ñandú 🚚"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_strings_hold_unicode_and_escapes(raw: str, value: str) -> None:
    action = parse(f"if value < 10 then reject {raw}").sections[0].rules[0].actions[0]
    assert action.args[0].value == value


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12 days", 12 * 86400),
        ("1 day", 86400),
        ("3 hours", 3 * 3600),
        ("1 hour", 3600),
        ("30 minutes", 1800),
        ("1 minute", 60),
        ("2 weeks", 2 * 604800),
        ("1 week", 604800),
        ("1.5 hours", 5400),
    ],
)
def test_durations(text: str, expected: int) -> None:
    rule = parse(f'if value < 10 then set_deadline "d" {text}').sections[0].rules[0]
    assert rule.actions[0].args[1].seconds == expected


@pytest.mark.parametrize(
    "text, op",
    [
        ("value == 1", "=="),
        ("value != 1", "!="),
        ("value < 1", "<"),
        ("value <= 1", "<="),
        ("value > 1", ">"),
        ("value >= 1", ">="),
        ('market in ["US"]', "in"),
        ('market not in ["US"]', "not in"),
        ('sku contains "x"', "contains"),
    ],
)
def test_comparison_operators(text: str, op: str) -> None:
    cond = parse(f"if {text} then refund").sections[0].rules[0].condition
    assert isinstance(cond, n.Compare) and cond.op == op


def test_precedence_like_python() -> None:
    cond = (
        parse("if not value > 1 + 2 * 3 or value < 1 and value > 0 then refund")
        .sections[0]
        .rules[0]
        .condition
    )
    assert isinstance(cond, n.Or)
    assert isinstance(cond.parts[0], n.Not)
    inner = cond.parts[0].operand
    assert isinstance(inner, n.Compare) and isinstance(inner.right, n.Arith) and inner.right.op == "+"
    assert isinstance(inner.right.right, n.Arith) and inner.right.right.op == "*"
    assert isinstance(cond.parts[1], n.And)


def test_numbers_are_exact() -> None:
    cond = parse("if value < 9.99 then refund").sections[0].rules[0].condition
    assert cond.right.value == Decimal("9.99")


def test_presence_tests() -> None:
    rules_ = parse("if campaign is missing then hold\nif campaign is present then escalate").sections[0].rules
    assert [r.condition.present for r in rules_] == [False, True]


def test_deadline_section_and_indentation_is_free() -> None:
    policy = parse('on deadline "redelivery":\nif value > 1 then refund\n      else hold')
    assert policy.sections[0].event.key == "deadline:redelivery"


def test_positions_carry_line_and_column() -> None:
    rule = parse("\n\n   if value < 10 then refund").sections[0].rules[0]
    assert (rule.line, rule.column) == (3, 4)
    assert (rule.condition.right.line, rule.condition.right.column) == (3, 15)


def test_nodes_are_frozen() -> None:
    rule = parse("if value < 10 then refund").sections[0].rules[0]
    with pytest.raises(AttributeError):
        rule.line = 5  # type: ignore[misc]


def test_unparse_round_trips_conditions() -> None:
    text = 'not value > 1 + 2 and market in ["US", "UK"] or campaign is missing'
    cond = parse(f"if {text} then refund").sections[0].rules[0].condition
    assert n.unparse(cond) == text


def test_compile_policy_exposes_name_sections_and_examples() -> None:
    policy = rules.compile_policy(
        CONTRACT + '\nexample "x" on delivery_failed: value = 60 -> notify "confirm_address", '
        'set_deadline "redelivery" 12 days\n'
    )
    assert policy.name == "North America returns"
    assert policy.sections == ("case_opened", "return_received", "delivery_failed")
    assert [e.name for e in policy.examples] == ["x"]
    assert len(policy.source_hash) == 64
