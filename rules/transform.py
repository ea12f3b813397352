"""Turns Lark's parse tree of one statement into the frozen nodes of nodes.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lark import Token, Transformer, v_args
from lark.tree import Meta

from . import nodes as n
from .limits import MAX_STRING_LENGTH
from .vocabulary import DURATION_UNITS

_MAX_DIGITS = 30


# A rule's children; spelled apart because `list` below names a grammar rule inside the class.
Children = list[Any]


@v_args(meta=True)
class ToNodes(Transformer[Token, n.Statement]):
    """Builds nodes with absolute positions; problems found on the way (bad escapes) go to `problems`."""

    def __init__(self) -> None:
        super().__init__()
        self.line_offset = 0
        self.problems: list[tuple[int, int, str, dict[str, Any]]] = []

    # ---- positions and leaves ------------------------------------------------------------------
    def _pos(self, meta: Meta | Token) -> tuple[int, int]:
        return (meta.line or 1) + self.line_offset, meta.column or 1

    def _problem(self, where: Meta | Token, code: str, **params: Any) -> None:
        line, column = self._pos(where)
        self.problems.append((line, column, code, params))

    def _text(self, tok: Token) -> str:
        raw = str(tok)[1:-1]
        out: list[str] = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\" and i + 1 < len(raw):
                nxt = raw[i + 1]
                if nxt in '"\\':
                    out.append(nxt)
                else:
                    self._problem(tok, "syntax.bad_escape", escape="\\" + nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        text = "".join(out)
        if len(text) > MAX_STRING_LENGTH:
            self._problem(tok, "limit.string", length=len(text), limit=MAX_STRING_LENGTH)
        return text

    def _number(self, tok: Token) -> n.Number:
        text = str(tok)
        if len(text) > _MAX_DIGITS:
            self._problem(tok, "limit.number", limit=_MAX_DIGITS)
            return 0
        return int(text) if "." not in text else Decimal(text)

    # ---- statements ----------------------------------------------------------------------------
    def policy_header(self, meta: Meta, c: list[Any]) -> n.Header:
        return n.Header(*self._pos(meta), name=self._text(c[0]))

    def section_header(self, meta: Meta, c: list[Any]) -> n.SectionHeader:
        return n.SectionHeader(*self._pos(meta), event=c[0])

    def rule(self, meta: Meta, c: list[Any]) -> n.Rule:
        name = c.pop(0).name if isinstance(c[0], n.RuleName) else None
        return n.Rule(*self._pos(meta), name=name, condition=c[0], actions=c[1])

    def rule_name_only(self, meta: Meta, c: list[Any]) -> n.RuleName:
        return c[0]

    def rule_name(self, meta: Meta, c: list[Any]) -> n.RuleName:
        return n.RuleName(*self._pos(meta), name=self._text(c[0]))

    def else_rule(self, meta: Meta, c: list[Any]) -> n.Else:
        return n.Else(*self._pos(meta), actions=c[0])

    def example(self, meta: Meta, c: list[Any]) -> n.Example:
        name = self._text(c[0])
        event = c[1] if len(c) == 4 else None
        return n.Example(*self._pos(meta), name=name, event=event, facts=c[-2], expected=c[-1])

    def plain_event(self, meta: Meta, c: list[Any]) -> n.EventRef:
        return n.EventRef(*self._pos(meta), name=str(c[0]))

    def deadline_event(self, meta: Meta, c: list[Any]) -> n.EventRef:
        return n.EventRef(*self._pos(meta), name="deadline", deadline=self._text(c[0]))

    def example_event(self, meta: Meta, c: list[Any]) -> n.EventRef:
        return c[0]

    def fact_list(self, meta: Meta, c: list[Any]) -> tuple[n.FactAssign, ...]:
        return tuple(x for x in c if x is not None)

    def fact(self, meta: Meta, c: list[Any]) -> n.FactAssign:
        return n.FactAssign(*self._pos(c[0]), field=str(c[0]), value=c[1])

    def action_list(self, meta: Meta, c: list[Any]) -> tuple[n.ActionCall, ...]:
        return tuple(c)

    def action(self, meta: Meta, c: list[Any]) -> n.ActionCall:
        return n.ActionCall(*self._pos(c[0]), name=str(c[0]), args=tuple(c[1:]))

    def bare_word(self, meta: Meta, c: list[Any]) -> n.BareWord:
        return n.BareWord(*self._pos(c[0]), word=str(c[0]))

    # ---- conditions ----------------------------------------------------------------------------
    def disjunction(self, meta: Meta, c: list[Any]) -> n.Or:
        return n.Or(*self._pos(meta), parts=tuple(c))

    def conjunction(self, meta: Meta, c: list[Any]) -> n.And:
        return n.And(*self._pos(meta), parts=tuple(c))

    def negation(self, meta: Meta, c: list[Any]) -> n.Not:
        return n.Not(*self._pos(meta), operand=c[0])

    def compare_op(self, meta: Meta, c: list[Any]) -> str:
        return str(c[0])

    add_op = mul_op = unit = compare_op

    def compare(self, meta: Meta, c: list[Any]) -> n.Compare:
        return n.Compare(*self._pos(meta), op=c[1], left=c[0], right=c[2])

    def member(self, meta: Meta, c: list[Any]) -> n.Compare:
        return n.Compare(*self._pos(meta), op="in", left=c[0], right=c[1])

    def not_member(self, meta: Meta, c: list[Any]) -> n.Compare:
        return n.Compare(*self._pos(meta), op="not in", left=c[0], right=c[1])

    def contains(self, meta: Meta, c: list[Any]) -> n.Compare:
        return n.Compare(*self._pos(meta), op="contains", left=c[0], right=c[1])

    def is_missing(self, meta: Meta, c: list[Any]) -> n.Presence:
        return n.Presence(*self._pos(meta), field=n.Field(*self._pos(c[0]), name=str(c[0])), present=False)

    def is_present(self, meta: Meta, c: list[Any]) -> n.Presence:
        return n.Presence(*self._pos(meta), field=n.Field(*self._pos(c[0]), name=str(c[0])), present=True)

    def _fold(self, c: list[Any]) -> n.Expr:
        # `a - b - c` arrives flat, which keeps the tree shallow; fold it left as Python does.
        result = c[0]
        for i in range(1, len(c), 2):
            result = n.Arith(result.line, result.column, op=c[i], left=result, right=c[i + 1])
        return result

    def sum(self, meta: Meta, c: list[Any]) -> n.Expr:
        return self._fold(c)

    product = sum

    def field(self, meta: Meta, c: list[Any]) -> n.Field:
        return n.Field(*self._pos(c[0]), name=str(c[0]))

    def neg(self, meta: Meta, c: list[Any]) -> n.Neg:
        return n.Neg(*self._pos(meta), operand=c[0])

    def list(self, meta: Meta, c: list[Any]) -> n.ListLit:
        return n.ListLit(*self._pos(meta), items=tuple(x for x in c if x is not None))

    def number(self, meta: Meta, c: Children) -> n.NumberLit:
        return n.NumberLit(*self._pos(meta), value=self._number(c[0]))

    def negative_number(self, meta: Meta, c: Children) -> n.NumberLit:
        return n.NumberLit(*self._pos(meta), value=-self._number(c[0]))

    def percent(self, meta: Meta, c: Children) -> n.PercentLit:
        return n.PercentLit(*self._pos(meta), value=self._number(c[0]))

    def duration(self, meta: Meta, c: Children) -> n.DurationLit:
        amount = self._number(c[0])
        seconds = int(round(amount * DURATION_UNITS[c[1]]))
        return n.DurationLit(*self._pos(meta), amount=amount, unit=c[1], seconds=seconds)

    def string(self, meta: Meta, c: Children) -> n.TextLit:
        return n.TextLit(*self._pos(meta), value=self._text(c[0]))

    def true(self, meta: Meta, c: Children) -> n.BoolLit:
        return n.BoolLit(*self._pos(meta), value=True)

    def false(self, meta: Meta, c: Children) -> n.BoolLit:
        return n.BoolLit(*self._pos(meta), value=False)
