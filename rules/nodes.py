"""The typed, frozen syntax tree of a policy; every node knows its line and column."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

Number = int | Decimal


@dataclass(frozen=True, slots=True)
class Node:
    line: int
    column: int


# ---- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberLit(Node):
    value: Number


@dataclass(frozen=True, slots=True)
class TextLit(Node):
    value: str


@dataclass(frozen=True, slots=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class PercentLit(Node):
    value: Number


@dataclass(frozen=True, slots=True)
class DurationLit(Node):
    amount: Number
    unit: str
    seconds: int


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Field(Node):
    name: str


@dataclass(frozen=True, slots=True)
class BareWord(Node):
    """A word without quotes where only a value fits (an action argument); always an error."""

    word: str


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """Comparisons, `in`, `not in` and `contains`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Presence(Node):
    field: Field
    present: bool


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True, slots=True)
class And(Node):
    parts: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    parts: tuple[Expr, ...]


Expr = (
    NumberLit
    | TextLit
    | BoolLit
    | PercentLit
    | DurationLit
    | ListLit
    | Field
    | BareWord
    | Neg
    | Arith
    | Compare
    | Presence
    | Not
    | And
    | Or
)
Literal = NumberLit | TextLit | BoolLit | PercentLit | DurationLit | ListLit

# ---- statements --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventRef(Node):
    """`case_opened` or a deadline; `key` is how decide() names it (`deadline:NAME`)."""

    name: str
    deadline: str | None = None

    @property
    def key(self) -> str:
        return f"deadline:{self.deadline}" if self.deadline is not None else self.name

    @property
    def display(self) -> str:
        return f'deadline "{self.deadline}"' if self.deadline is not None else self.name


@dataclass(frozen=True, slots=True)
class ActionCall(Node):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Header(Node):
    name: str


@dataclass(frozen=True, slots=True)
class SectionHeader(Node):
    event: EventRef


@dataclass(frozen=True, slots=True)
class RuleName(Node):
    """`rule "NAME":` on a line of its own; attached to the rule below by the parser."""

    name: str


@dataclass(frozen=True, slots=True)
class Rule(Node):
    name: str | None
    condition: Expr
    actions: tuple[ActionCall, ...]


@dataclass(frozen=True, slots=True)
class Else(Node):
    actions: tuple[ActionCall, ...]


@dataclass(frozen=True, slots=True)
class FactAssign(Node):
    field: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Example(Node):
    name: str
    event: EventRef | None
    facts: tuple[FactAssign, ...]
    expected: tuple[ActionCall, ...]


Statement = Header | SectionHeader | RuleName | Rule | Else | Example


@dataclass(frozen=True, slots=True)
class Section:
    """The rules that run for one event, in order; `header` is None for the leading case_opened rules."""

    event: EventRef
    header: SectionHeader | None
    rules: tuple[Rule, ...]
    elses: tuple[Else, ...]
    # Statement order inside the section, used to find an `else` that is not last.
    order: tuple[Rule | Else, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    name: str | None
    header: Header | None
    sections: tuple[Section, ...]
    examples: tuple[Example, ...]


def unparse(expr: Expr) -> str:
    """Write an expression back as policy text, for explanations."""
    return _unparse(expr, 0)


_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def _unparse(expr: Expr, outer: int) -> str:
    match expr:
        case NumberLit(value=v) | PercentLit(value=v):
            text = format_number(v)
            return text + "%" if isinstance(expr, PercentLit) else text
        case TextLit(value=v):
            return quote(v)
        case BoolLit(value=v):
            return "true" if v else "false"
        case DurationLit(amount=a, unit=u):
            return f"{format_number(a)} {u}"
        case ListLit(items=items):
            return "[" + ", ".join(_unparse(i, 0) for i in items) + "]"
        case Field(name=n):
            return n
        case BareWord(word=w):
            return w
        case Neg(operand=o):
            text, prec = "-" + _unparse(o, _PRECEDENCE["neg"]), _PRECEDENCE["neg"]
        case Arith(op=op, left=left, right=right):
            prec = _PRECEDENCE[op]
            text = f"{_unparse(left, prec)} {op} {_unparse(right, prec + 1)}"
        case Compare(op=op, left=left, right=right):
            prec = _PRECEDENCE["cmp"]
            text = f"{_unparse(left, prec + 1)} {op} {_unparse(right, prec + 1)}"
        case Presence(field=f, present=p):
            prec = _PRECEDENCE["cmp"]
            text = f"{f.name} is {'present' if p else 'missing'}"
        case Not(operand=o):
            prec = _PRECEDENCE["not"]
            text = "not " + _unparse(o, prec)
        case And(parts=parts) | Or(parts=parts):
            word = "and" if isinstance(expr, And) else "or"
            prec = _PRECEDENCE[word]
            text = f" {word} ".join(_unparse(p, prec + 1) for p in parts)
        case _:  # pragma: no cover - every node kind is handled above
            raise TypeError(type(expr).__name__)
    return f"({text})" if prec < outer else text


def format_number(value: Number) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
