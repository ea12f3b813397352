"""Examples written inside a policy, run as tests."""

from __future__ import annotations

import pytest

import rules
from rules import Action

POLICY = """if item.customized then reject "Personalised items cannot be returned"
if value < 10 and market == "US" then refund_without_return
else manual_review
on return_received:
  if inspection.result == "fail" then assign "qc"
on deadline "redelivery":
  if tracking.status != "delivered" then refund
example "cheap item": value = 5, market = "US" -> refund_without_return
example "engraved": item.customized = true, value = 5 -> reject "Personalised items cannot be returned"
example "qc fail" on return_received: inspection.result = "fail" -> assign "qc"
example "no facts": -> manual_review
example "deadline" on deadline "redelivery": tracking.status = "attempt_fail" -> refund
example "multi line": value = 5,
    market = "US" -> refund_without_return
"""


def test_run_examples_all_pass() -> None:
    results = rules.run_examples(POLICY)
    assert [(r.name, r.line, r.passed) for r in results] == [
        ("cheap item", 8, True),
        ("engraved", 9, True),
        ("qc fail", 10, True),
        ("no facts", 11, True),
        ("deadline", 12, True),
        ("multi line", 13, True),
    ]
    assert results[1].expected == [Action("reject", ("Personalised items cannot be returned",))]
    assert results[2].event == "return_received"


def test_run_examples_accepts_a_compiled_policy() -> None:
    assert all(r.passed for r in rules.run_examples(rules.compile_policy(POLICY)))


def test_failing_example_is_an_error_at_its_line_with_explanation() -> None:
    text = POLICY + 'example "wrong": value = 50, market = "US" -> refund_without_return\n'
    found = [d for d in rules.check(text) if d.severity == "error"]
    assert len(found) == 1
    diag = found[0]
    assert (diag.code, diag.line, diag.column) == ("example.failed", 15, 1)
    assert diag.message == (
        'example "wrong" expected refund_without_return but the policy decided manual_review (line 3)'
    )
    assert "value < 10 is false (value = 50)" in diag.detail
    with pytest.raises(rules.PolicyError):
        rules.compile_policy(text)
    assert rules.compile_policy(text, examples=False).name is None
    result = rules.run_examples(rules.compile_policy(text, examples=False))[-1]
    assert (result.passed, result.got) == (False, [Action("manual_review")])
    assert result.explanation["outcome"] == "else"


@pytest.mark.parametrize(
    "example, code",
    [
        ('example "x": valeu = 5 -> refund', "field.unknown"),
        ('example "x": value = "five" -> refund', "example.type"),
        ('example "x": market = "USA" -> refund', "value.unknown"),
        ('example "x": value = 5, value = 6 -> refund', "example.duplicate_field"),
        ('example "x": value = 5 -> refnd', "action.unknown"),
        ('example "x": value = 5 -> reject', "args.missing"),
        ('example "x" on nowhere: value = 5 -> refund', "event.unknown"),
        ('example "x": value = 5% -> refund', "type.arg_only"),
    ],
)
def test_examples_are_checked(example: str, code: str) -> None:
    found = [d for d in rules.check("if value < 10 then refund\n" + example) if d.severity == "error"]
    assert [d.code for d in found] == [code]
    assert found[0].line == 2


def test_duplicate_example_names() -> None:
    found = rules.check(
        'if value < 10 then refund\nexample "a": value = 1 -> refund\nexample "a": value = 2 -> refund'
    )
    assert [d.code for d in found] == ["example.duplicate"]


def test_example_with_percent_and_duration_arguments() -> None:
    text = (
        'if value > 1 then partial_refund 20%, set_deadline "d" 2 weeks\n'
        'example "x": value = 5 -> partial_refund 20%, set_deadline "d" 14 days'
    )
    assert rules.check(text) == [] or all(d.severity == "warning" for d in rules.check(text))
    assert rules.run_examples(text)[0].passed


def test_example_result_to_dict() -> None:
    data = rules.run_examples(POLICY)[0].to_dict()
    assert data["expected"] == [{"name": "refund_without_return", "args": []}]
    assert data["passed"] is True
