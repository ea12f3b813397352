"""Cuts a policy into logical lines (statements) before parsing, so each can fail on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""(?P<space>[ \t\f\r]+)
      | (?P<comment>\#.*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<number>[0-9]+(?:\.[0-9]+)?)
      | (?P<op>==|!=|<=|>=|->|[-+*/<>=%:,()\[\]])
      | (?P<other>.)""",
    re.VERBOSE,
)

# A line ending with one of these continues on the next line.
_CONTINUES = frozenset({"and", "or", ",", "(", "[", "then", "->"})
# A line starting with one of these always starts a new statement, even inside brackets:
# an unclosed bracket must not swallow the rest of the policy.
STARTERS = frozenset({"if", "rule", "else", "on", "example", "policy"})
_OPENERS = {"(": ")", "[": "]"}
_CLOSERS = {")": "(", "]": "["}
# After these a minus sign is a negation, which nests.
_UNARY_CONTEXT = frozenset(
    {
        "(",
        "[",
        ",",
        "if",
        "and",
        "or",
        "not",
        "in",
        "contains",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "=",
        "then",
    }
)


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str
    text: str
    line: int
    column: int


@dataclass(slots=True)
class Statement:
    """One logical line: the full source lines it spans and what the scanner noticed about it."""

    first_line: int
    last_line: int
    tokens: list[Tok] = field(default_factory=list)
    # Brackets still open at the end, innermost last.
    open_brackets: list[Tok] = field(default_factory=list)
    # Deepest nesting of brackets, `not` and unary minus.
    depth: int = 0
    # `not` and unary minus seen so far; each may nest once more.
    prefixes: int = 0

    @property
    def first_word(self) -> str:
        return self.tokens[0].text if self.tokens else ""

    def text(self, lines: list[str]) -> str:
        return "\n".join(lines[self.first_line - 1 : self.last_line])


def tokenize_line(text: str, line: int) -> list[Tok]:
    tokens = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind in ("space", "comment"):
            continue
        tokens.append(Tok(kind, m.group(), line, m.start() + 1))
    return tokens


def split_statements(lines: list[str]) -> list[Statement]:
    """Group lines into statements; a line continues after `and`, `or`, `,`, `then` or an open bracket."""
    per_line = [tokenize_line(text, i + 1) for i, text in enumerate(lines)]
    statements: list[Statement] = []
    current: Statement | None = None
    for index, tokens in enumerate(per_line):
        if not tokens:
            continue
        if current is not None and tokens[0].text in STARTERS and tokens[0].kind == "word":
            statements.append(current)
            current = None
        if current is None:
            current = Statement(index + 1, index + 1)
        current.last_line = index + 1
        _absorb(current, tokens)
        last = current.tokens[-1].text
        if not (current.open_brackets or last in _CONTINUES):
            statements.append(current)
            current = None
    if current is not None:
        statements.append(current)
    return statements


def _absorb(statement: Statement, tokens: list[Tok]) -> None:
    previous = statement.tokens[-1].text if statement.tokens else "if"
    for tok in tokens:
        statement.tokens.append(tok)
        if tok.kind == "op" and tok.text in _OPENERS:
            statement.open_brackets.append(tok)
        elif tok.kind == "op" and tok.text in _CLOSERS:
            if statement.open_brackets and statement.open_brackets[-1].text == _CLOSERS[tok.text]:
                statement.open_brackets.pop()
        elif (tok.kind == "word" and tok.text == "not") or (tok.text == "-" and previous in _UNARY_CONTEXT):
            statement.prefixes += 1
        previous = tok.text
        statement.depth = max(statement.depth, len(statement.open_brackets) + statement.prefixes)
