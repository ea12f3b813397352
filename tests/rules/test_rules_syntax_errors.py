"""Syntax errors: a sentence an ops manager understands, the right position, and no parser jargon."""

from __future__ import annotations

import random
import re

import pytest

import rules
from rules.syntax import parser

GOOD = """policy "p"
if item.customized then reject "Personalised items cannot be returned"
rule "cheap": if value < 10 and market in ["US", "UK"] then refund_without_return
if not (value >= 500) or campaign is missing then request_evidence "video", partial_refund 20%
else manual_review
on delivery_failed:
  if value >= 50 then notify "confirm_address", set_deadline "redelivery" 12 days
example "cheap": value = 5, market = "US" -> refund_without_return
"""


def errors(text: str) -> list[rules.Diagnostic]:
    return [d for d in rules.check(text) if d.severity == "error"]


@pytest.mark.parametrize(
    "text, line, column, code, words",
    [
        ("if value > 3 refund", 1, 14, "syntax.missing_then", "`then` is missing"),
        ("if value = 3 then refund", 1, 10, "syntax.single_equals", "use `==`"),
        ("if then refund", 1, 4, "syntax.missing_condition", "needs a condition"),
        ("if value > 3 then", 1, 14, "syntax.missing_action", "at least one action"),
        ("else", 1, 1, "syntax.else_action", "`else` needs"),
        ("if value > 3 then refund,", 1, 25, "syntax.action_expected", "action name"),
        ('rule "x" if value > 3 then refund', 1, 10, "syntax.rule_name_colon", "colon after the rule name"),
        ("on return_received", 1, 4, "syntax.section_colon", "ends with a colon"),
        ("on deadline redelivery:", 1, 13, "syntax.deadline_name", "double quotes"),
        ("if value < 1 < 2 then refund", 1, 14, "syntax.chained", "can't be chained"),
        ("if (value > 3 then refund", 1, 4, "syntax.unclosed_bracket", "never closed"),
        ("if value > 3) then refund", 1, 13, "syntax.unmatched_bracket", "closes nothing"),
        ('if market == "US then refund', 1, 14, "syntax.unclosed_string", "closing double quote"),
        ("if market == 'US' then refund", 1, 14, "syntax.single_quote", "double quotes"),
        ("if value > 3 && value < 9 then refund", 1, 14, "syntax.bad_character", "`and`"),
        ("if value and then refund", 1, 14, "syntax.missing_after", "missing after `and`"),
        ("if value +", 1, 10, "syntax.dangling", "ends after `+`"),
        ("value > 3 then refund", 1, 1, "syntax.missing_if", "starts with `if`"),
        ("refund everything", 1, 1, "syntax.unknown_start", "a line starts with"),
        ('if value > 3 then refund\npolicy "late"', 2, 1, "syntax.header_not_first", "first line"),
        ('rule "lonely":\nelse refund', 1, 1, "syntax.lone_rule_name", "followed by its rule"),
        ('if market == "a\\nb" then refund', 1, 14, "syntax.bad_escape", "unknown escape"),
        ("if market in [campaign] then refund", 1, 15, "syntax.list_item", "fixed values"),
        ("example x: value = 1 -> refund", 1, 9, "syntax.example_shape", "example reads"),
        ('example "x": value = campaign -> refund', 1, 22, "syntax.example_value", "fixed value"),
    ],
)
def test_error_class_position_and_sentence(text: str, line: int, column: int, code: str, words: str) -> None:
    found = errors(text)
    assert found, text
    first = found[0]
    assert (first.code, first.line, first.column) == (code, line, column), first
    assert words in first.message


def test_missing_then_reported_on_its_line_among_others() -> None:
    text = 'if value < 10 then refund\nif value > 30 reject "late"\nif value > 50 then hold'
    found = errors(text)
    assert [(d.line, d.code) for d in found] == [(2, "syntax.missing_then")]


def test_every_broken_line_gets_its_own_error() -> None:
    text = "\n".join(
        [
            "if value > 3 refund",
            "if value < 2 then refund",
            "if value = 3 then refund",
            "on return_received",
            "if valeu > 3 then refund",
            "if (value > 1 then refund",
            "if value > 5 then hold",
        ]
    )
    found = errors(text)
    assert [d.line for d in found] == [1, 3, 4, 5, 6]
    assert found[3].code == "field.unknown"


def test_unclosed_bracket_does_not_swallow_the_next_rule() -> None:
    found = errors('if market in ["US", "UK" then refund\nif valeu > 3 then hold')
    assert [d.line for d in found] == [1, 2]


def test_caret_excerpt_points_at_the_column() -> None:
    diag = errors("  if value = 3 then refund")[0]
    source, caret = diag.excerpt.splitlines()
    assert source == "  if value = 3 then refund"
    assert caret == " " * 11 + "^"


def test_caret_excerpt_handles_wide_characters() -> None:
    diag = errors('if sku == "退货" and valeu > 3 then refund')[0]
    caret = diag.excerpt.splitlines()[1]
    assert caret.index("^") == len('if sku == "') + 4 + len('" and ')


def _terminal_names() -> set[str]:
    return {t.name for t in parser().terminals if t.name.isupper() and len(t.name) > 2}


JARGON = re.compile(r"__ANON|\$END|_NL\b|Token\(|Tree\(|UnexpectedToken|Traceback")


def _mutations(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    pieces = [
        "if",
        "then",
        "else",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        ",",
        '"',
        "'",
        "==",
        "=",
        "<",
        ">",
        "value",
        "market",
        "refund",
        "12",
        "days",
        "%",
        ":",
        "->",
        "on",
        "rule",
        "example",
        "policy",
        "\n",
        "#",
        "\\",
        "in",
        "contains",
        "is",
        "missing",
        "-",
        "+",
        "*",
        "/",
        "退货",
        "@",
        "deadline",
    ]
    base = GOOD.splitlines()
    out = []
    for _ in range(count):
        lines = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(lines))
            words = lines[i].split(" ")
            op = rng.random()
            j = rng.randrange(len(words))
            if op < 0.3 and len(words) > 1:
                del words[j]
            elif op < 0.6:
                words.insert(j, rng.choice(pieces))
            elif op < 0.8:
                words[j] = rng.choice(pieces)
            else:
                k = rng.randrange(len(lines[i]) + 1)
                words = [lines[i][:k] + rng.choice(pieces) + lines[i][k:]]
            lines[i] = " ".join(words)
        out.append("\n".join(lines))
    for _ in range(count // 2):
        out.append(" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 15))))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_policies_never_leak_parser_jargon_or_raise(seed: int) -> None:
    names = _terminal_names()
    for text in _mutations(seed, 80):
        for diag in rules.check(text):
            for lang in ("en", "zh"):
                message = diag.render(lang)
                assert not JARGON.search(message), (text, message)
                leaked = [
                    name for name in names if re.search(rf"(?<![`\w]){re.escape(name)}(?![`\w])", message)
                ]
                assert not leaked, (text, message, leaked)
            assert diag.line >= 1 and diag.column >= 1
            assert diag.excerpt.count("^") >= 1 or diag.code.startswith("limit.")


def test_check_never_raises_on_odd_input() -> None:
    for text in ["", "\n\n", "\ufeffif value < 1 then refund", "\x00", "if", "]" * 50, b"\xff\xfe", 42]:
        assert isinstance(rules.check(text), list)  # type: ignore[arg-type]


def test_good_policy_has_no_errors() -> None:
    assert errors(GOOD) == []
