"""Parses a policy statement by statement with Lark and turns syntax errors into plain sentences."""

from __future__ import annotations

import threading
from dataclasses import fields, is_dataclass
from importlib import resources
from typing import Any

from lark import Lark, Token, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import PatternStr

from . import nodes as n
from .diagnostics import Reporter
from .limits import MAX_DEPTH, MAX_EXPRESSION_DEPTH, MAX_TOKENS_PER_STATEMENT
from .scanner import STARTERS, Statement
from .transform import ToNodes
from .vocabulary import DURATION_UNITS, KEYWORDS

_lock = threading.Lock()
_parser: Lark | None = None
_examples: dict[tuple[Any, str], str] = {}

# Terminals with a regex pattern get a described kind; string terminals are shown as written.
_KINDS = {"WORD": "@name", "NUMBER": "@number", "STRING": "@text", "$END": "@end"}
_OPERATORS = {"==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"}
_DANGLING = {"and", "or", "not", "in", "contains", "is", "=", "->", ","} | _OPERATORS
# Reserved words: the language's keywords and the duration units.
_KEYWORD_WORDS = set(KEYWORDS) | set(DURATION_UNITS)
_UNITS = set(DURATION_UNITS)
# Preferred order when an error lists what could come next; the rest are left out as noise.
_EXPECTED_ORDER = [
    "`then`",
    "`:`",
    "`,`",
    "`->`",
    "`=`",
    "`)`",
    "`]`",
    "`(`",
    "`[`",
    "@name",
    "@text",
    "@number",
    "@value",
    "@operator",
    "@unit",
    "`and`",
    "`or`",
    "@end",
]


def parser() -> Lark:
    """The Lark parser, built once per process."""
    global _parser
    if _parser is None:
        with _lock:
            if _parser is None:
                grammar = resources.files(__package__).joinpath("grammar.lark").read_text(encoding="utf-8")
                built = Lark(
                    grammar, parser="lalr", lexer="basic", propagate_positions=True, maybe_placeholders=False
                )
                _examples.update(_learn_examples(built))
                _parser = built
    return _parser


# ---- classifying syntax errors by example (Lark's match_examples idea) -----------------------------

_CONDITIONS = [
    "a",
    "a > 3",
    "a > b",
    'a == "x"',
    "a == true",
    "a == false",
    "(a)",
    "a in [1]",
    "a is missing",
    "a is present",
    "a > 3%",
    "a > 3 days",
    'a contains "x"',
    "not a",
    "a + 1 > 2",
    "a and b",
    "a or b",
    "-a > 1",
]
_ERROR_EXAMPLES: dict[str, list[str]] = {
    "syntax.missing_then": [f"if {c} {tail}" for c in _CONDITIONS for tail in ("refund", '"x"', "3")],
    "syntax.single_equals": [
        "if a = 1 then x",
        "if (a = 1) then x",
        "if a > 1 and b = 2 then x",
        "if 1 + a = 3 then x",
        "if -a = 3 then x",
    ],
    "syntax.missing_condition": ["if then x"],
    "syntax.missing_action": ["if a then", "if a then ,", 'if a then "x"', "if a then 3"],
    "syntax.else_action": ["else", 'else "x"', "else ,", "else 3"],
    "syntax.action_expected": [
        "if a then x,",
        'if a then x, "y"',
        "if a then x, 3",
        "else x,",
        'else x, "y"',
    ],
    "syntax.rule_name_colon": ['rule "x" if a then b', 'rule "x"', 'rule "x" x'],
    "syntax.section_colon": ["on case_opened", "on case_opened if", 'on deadline "x"', 'on deadline "x" x'],
    "syntax.section_event": ["on :", 'on "x":', "on", "on 3:"],
    "syntax.deadline_name": [
        "on deadline x:",
        "on deadline:",
        "on deadline",
        'example "e" on deadline x: -> y',
        'example "e" on deadline: -> y',
    ],
    "syntax.chained": [
        "if a < 1 < 2 then x",
        "if a == 1 == 2 then x",
        "if a in [1] in [2] then x",
        'if a contains "x" contains "y" then x',
        "if a < b > c then x",
    ],
    "syntax.example_shape": [
        "example x: a = 1 -> y",
        "example: a = 1 -> y",
        'example "x" a = 1 -> y',
        'example "x": a 1 -> y',
        'example "x": a = 1 y',
        'example "x": a = 1',
        'example "x": a = 1 ->',
        'example "x": a -> y',
        'example "x" on y a = 1 -> y',
        'example "x": 3 -> y',
        'example "x"',
        "example",
    ],
    "syntax.example_value": ['example "x": a = b -> y', 'example "x": a = (1) -> y', 'example "x": a = -> y'],
    "syntax.list_item": [
        "if a in [b] then x",
        "if a in [1, b] then x",
        "if a in [[1]] then x",
        "if a in [(1)] then x",
        'example "x": a = [b] -> y',
        "if a in [1 2] then x",
    ],
}


def _state_key(state: Any) -> Any:
    # Lark's own match_examples also compares stack depth; the top state alone generalises better.
    return getattr(state, "position", state)


def _learn_examples(lark: Lark) -> dict[tuple[Any, str], str]:
    """Parse each bad example once and remember (parser state, token kind) -> error class."""
    learned: dict[tuple[Any, str], str] = {}
    for label, examples in _ERROR_EXAMPLES.items():
        for text in examples:
            try:
                lark.parse(text)
            except UnexpectedToken as e:
                learned.setdefault((_state_key(e.state), e.token.type), label)
            except UnexpectedInput:
                pass
    return learned


def parse_statement(
    st: Statement, lines: list[str], report: Reporter, builder: ToNodes
) -> n.Statement | None:
    """One statement to a node, or None after reporting why it could not be read."""
    if st.depth > MAX_DEPTH:
        report.add(st.first_line, st.tokens[0].column, "limit.depth", limit=MAX_DEPTH)
        return None
    if len(st.tokens) > MAX_TOKENS_PER_STATEMENT:
        report.add(st.first_line, st.tokens[0].column, "limit.tokens", limit=MAX_TOKENS_PER_STATEMENT)
        return None
    first = st.tokens[0]
    if not (first.kind == "word" and first.text in STARTERS):
        code = "syntax.missing_if" if any(t.text == "then" for t in st.tokens) else "syntax.unknown_start"
        report.add(first.line, first.column, code, found=_show(first.text))
        return None
    text = st.text(lines)
    try:
        tree = parser().parse(text)
    except UnexpectedInput as error:
        line, column, code, params = _explain(error, st)
        report.add(line + st.first_line - 1, column, code, **params)
        return None
    builder.line_offset = st.first_line - 1
    builder.problems = []
    node = builder.transform(tree)
    for line, column, code, params in builder.problems:
        report.add(line, column, code, **params)
    if _depth(node) > MAX_EXPRESSION_DEPTH:
        report.add(st.first_line, first.column, "limit.expression", limit=MAX_EXPRESSION_DEPTH)
        return None
    return node


_OPERATIONS = (n.Neg, n.Arith, n.Compare, n.Not, n.And, n.Or)


def _depth(root: object) -> int:
    """How many operations deep the statement goes; iterative, so a long chain cannot overflow."""
    deepest = 0
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _OPERATIONS):
            depth += 1
            deepest = max(deepest, depth)
        for field in fields(node):  # type: ignore[arg-type]
            value = getattr(node, field.name)
            children = value if isinstance(value, tuple) else (value,)
            stack.extend((child, depth) for child in children if is_dataclass(child))
    return deepest


def _show(text: str) -> str:
    return "`" + (text if len(text) <= 30 else text[:27] + "...") + "`"


def _explain(error: UnexpectedInput, st: Statement) -> tuple[int, int, str, dict[str, Any]]:
    """(line within the statement, column, message code, params) for a Lark error."""
    line, column = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
    if isinstance(error, UnexpectedCharacters):
        ch = error.char
        if ch == '"':
            return line, column, "syntax.unclosed_string", {}
        if ch == "'":
            return line, column, "syntax.single_quote", {}
        suggestion = {"&": "and", "|": "or", "!": "not"}.get(ch)
        return line, column, "syntax.bad_character", {"char": ch, "suggestion": suggestion}
    if not isinstance(error, UnexpectedToken):  # pragma: no cover - LALR raises only the two kinds above
        return line, column, "syntax.unexpected", {"found": "@end", "expected": []}
    token: Token = error.token
    at_end = token.type == "$END"
    if at_end:
        last = st.tokens[-1]
        line, column = last.line - st.first_line + 1, last.column
    if at_end and st.open_brackets:
        bracket = st.open_brackets[-1]
        return (
            bracket.line - st.first_line + 1,
            bracket.column,
            "syntax.unclosed_bracket",
            {"bracket": bracket.text},
        )
    if (
        st.open_brackets
        and ({"RPAR", "RSQB"} & set(error.expected))
        and token.type in ("THEN", "$END", "COLON")
    ):
        bracket = st.open_brackets[-1]
        return (
            bracket.line - st.first_line + 1,
            bracket.column,
            "syntax.unclosed_bracket",
            {"bracket": bracket.text},
        )
    if token.type in ("RPAR", "RSQB") and token.type not in error.expected:
        return line, column, "syntax.unmatched_bracket", {"bracket": str(token)}
    label = _examples.get((_state_key(error.state), token.type))
    if label is not None:
        return line, column, label, {}
    if at_end and st.tokens[-1].text in _DANGLING:
        return line, column, "syntax.dangling", {"word": st.tokens[-1].text}
    if token.type == "EQUAL" and st.first_word in ("if", "rule"):
        return line, column, "syntax.single_equals", {}
    previous = _token_before(st, line + st.first_line - 1, column)
    if previous in _DANGLING and token.type in ("THEN", "$END", "COMMA", "RPAR", "RSQB"):
        return line, column, "syntax.missing_after", {"word": previous}
    if token.type != "WORD" and "WORD" in error.expected and str(token) in _KEYWORD_WORDS:
        return line, column, "syntax.reserved", {"word": str(token)}
    if "THEN" in error.expected and not at_end:
        return line, column, "syntax.missing_then", {}
    found = "@end" if at_end else _show(str(token))
    return line, column, "syntax.unexpected", {"found": found, "expected": _expected(error.expected)}


def _token_before(st: Statement, line: int, column: int) -> str | None:
    previous = None
    for tok in st.tokens:
        if (tok.line, tok.column) >= (line, column):
            break
        previous = tok.text
    return previous


def _expected(names: set[str]) -> list[str]:
    kinds: set[str] = set()
    terminals = {t.name: t for t in parser().terminals}
    for name in names:
        if name in _KINDS:
            kinds.add(_KINDS[name])
            continue
        term = terminals.get(name)
        if term is None or not isinstance(term.pattern, PatternStr):
            continue
        value = term.pattern.value
        if value == "-":
            kinds.add("@value")
        elif value in _OPERATORS:
            kinds.add("@operator")
        elif value in _UNITS:
            kinds.add("@unit")
        elif value in ("true", "false"):
            kinds.add("@value")
        else:
            kinds.add(f"`{value}`")
    if {"@number", "@text"} <= kinds:
        kinds -= {"@number", "@text"}
        kinds.add("@value")
    ordered = [k for k in _EXPECTED_ORDER if k in kinds]
    ordered += sorted(k for k in kinds if k not in _EXPECTED_ORDER)
    return ordered[:6]
