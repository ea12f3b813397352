"""Writes the Python source of a compiled policy: fast first-hit tests and three-valued explanations."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from . import nodes as n
from . import runtime
from .decision import Duration, Percent
from .vocabulary import BOOLEAN, FIELDS, NUMBER

_INVERSE = {
    "==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not in", "not in": "in"
}
_BOOLEAN_NODES = (n.Compare, n.Presence, n.Not, n.And, n.Or, n.BoolLit)


def literal_value(expr: n.Expr) -> Any:
    match expr:
        case n.NumberLit(value=v) | n.TextLit(value=v) | n.BoolLit(value=v):
            return v
        case n.PercentLit(value=v):
            return Percent(v)
        case n.DurationLit(seconds=s):
            return Duration(s)
        case n.ListLit(items=items):
            return [literal_value(i) for i in items]
    raise TypeError(f"not a fixed value: {type(expr).__name__}")


def fields_of(expr: n.Expr) -> tuple[str, ...]:
    """The fields an expression reads, in the order they are written."""
    found: dict[str, None] = {}
    stack: list[Any] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Field):
            found[node.name] = None
        elif isinstance(node, n.Presence):
            found[node.field.name] = None
        elif isinstance(node, n.And | n.Or):
            stack.extend(reversed(node.parts))
        elif isinstance(node, n.Arith | n.Compare):
            stack.extend((node.right, node.left))
        elif isinstance(node, n.Not | n.Neg):
            stack.append(node.operand)
    return tuple(found)


def parts_of(expr: n.Expr) -> tuple[n.Expr, ...]:
    """The `and`-parts of a rule's condition, as explanations list them."""
    return expr.parts if isinstance(expr, n.And) else (expr,)


class Generator:
    """Writes Python source; values from the policy go in as literals or into the namespace.

    Field names, texts and integers do go into the text, as their repr(), which Python reads back
    as the same value whatever it holds. A condition is written two ways: `tri` gives True, False
    or None (unknown), for explanations and boolean operands; `holds(e, want)` is a plain Python
    test that is true exactly when `tri(e)` is `want`, which is all the fast path needs: Kleene
    logic becomes short-circuit `and` / `or` over facts read once into locals (r<i> raw, v<i> as
    the field's type or None).
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_add": runtime.add,
            "_sub": runtime.sub,
            "_mul": runtime.mul,
            "_div": runtime.div,
            "_neg": runtime.neg,
            "_contains": runtime.contains,
            "_num": runtime.as_number,
            "_raw": runtime.raw,
            "_Mapping": Mapping,
            "_Decimal": Decimal,
            "_MISSING": runtime.MISSING,
            "_WRONG": runtime.WRONG_TYPE,
            "_PRESENT": runtime.PRESENT,
        }
        self.lines: list[str] = []
        self._constants: dict[Any, str] = {}
        self._temp = 0
        self._fresh = 0
        # Field name -> local variable index, for the section being written.
        self.slots: dict[str, int] = {}
        # Nested object name -> local holding it (a Mapping or None), for the section being written.
        self.parents: dict[str, str] = {}

    def constant(self, value: Any) -> str:
        # repr() of these is a Python literal that means exactly the value: a constant, faster than a global.
        if value is True or value is False or value is None or type(value) in (int, str):
            return repr(value)
        marker = (type(value).__name__, value)
        if marker not in self._constants:
            name = f"_c{len(self._constants)}"
            self._constants[marker] = name
            self.namespace[name] = value
        return self._constants[marker]

    def fresh(self, value: Any) -> str:
        """A name for `value` of its own, never shared with an equal value (for mutable values)."""
        name = f"_k{self._fresh}"
        self._fresh += 1
        self.namespace[name] = value
        return name

    def temp(self) -> str:
        self._temp += 1
        return f"_t{self._temp}"

    def local(self, field: str) -> str:
        return f"v{self.slots[field]}"

    # ---- reading facts -------------------------------------------------------------------------
    def fetch(self, field: str, indent: str) -> list[str]:
        """Statements setting r<i> to the raw fact, read as runtime.raw reads it.

        A flat `"buyer.orders"` key wins; otherwise the nested object is read, once per section.
        """
        r = f"r{self.slots[field]}"
        out = [f"{indent}{r} = facts.get({field!r})"]
        steps = field.split(".")
        if len(steps) == 2:
            parent = self.parents.get(steps[0])
            if parent is None:
                parent = self.parents[steps[0]] = f"o{len(self.parents)}"
                out.append(f"{indent}{parent} = facts.get({steps[0]!r})")
                out.append(
                    f"{indent}if {parent} is not None and type({parent}) is not dict"
                    f" and not isinstance({parent}, _Mapping):"
                )
                out.append(f"{indent}    {parent} = None")
            out.append(f"{indent}if {r} is None and {parent} is not None:")
            out.append(f"{indent}    {r} = {parent}.get({steps[1]!r})")
        elif len(steps) > 2:
            out.append(f"{indent}if {r} is None:")
            out.append(f"{indent}    {r} = _raw(facts, {field!r})")
        return out

    def convert(self, field: str, indent: str) -> str:
        """The statement setting v<i> to r<i> as the field's type, None when missing or wrong (as runtime)."""
        return f"{indent}v{self.slots[field]} = {self.conversion(field)}"

    def conversion(self, field: str) -> str:
        r = f"r{self.slots[field]}"
        kind = FIELDS[field].type
        if kind == NUMBER:
            # Whole numbers and finite Decimals (money) as they are, with one look at the type.
            return (
                f"{r} if (_ty := type({r})) is int or _ty is _Decimal and {r}.is_finite() else "
                f"None if {r} is None else _num({r})"
            )
        if kind == BOOLEAN:
            return f"{r} if {r} is True or {r} is False else None"
        return f"{r} if isinstance({r}, str) else None"

    def keyable(self, field: str) -> str:
        """A test that r<i> can key a shared explanation entry: a value that repeats from case to case,
        hashable, and of one kind per field, so that `True` and `1` are never taken for each other.

        Amounts of money (Decimal, float) are left out: they rarely repeat and would only fill the room.
        """
        r = f"r{self.slots[field]}"
        kind = FIELDS[field].type
        if kind == NUMBER:
            return f"(type({r}) is int or {r} is None)"
        if kind == BOOLEAN:
            return f"({r} is None or {r} is True or {r} is False)"
        return f"(type({r}) is str or {r} is None)"

    def describe(self, field: str) -> str:
        """The explanation's record of a fact as read and whether it is usable, built once per explanation:
        `(field, raw value, status)` (the JSON form converts the value).

        `d<i>` starts as None (a default of the explanation function); parts that show the same fact
        share its record.
        """
        i = self.slots[field]
        r, d = f"r{i}", f"d{i}"
        status = f"_MISSING if {r} is None else _WRONG if {self.local(field)} is None else _PRESENT"
        record = f"({field!r}, {r}, {status})"
        return f"({d} if {d} is not None else ({d} := {record}))"

    # ---- values ----------------------------------------------------------------------------------
    def value(self, e: n.Expr) -> tuple[str, bool]:
        """Python for a value, and whether it can be None (unknown)."""
        match e:
            case n.NumberLit(value=v) | n.TextLit(value=v) | n.BoolLit(value=v):
                return self.constant(v), False
            case n.ListLit():
                return self.constant(frozenset(literal_value(e))), False
            case n.Field(name=name):
                return self.local(name), True
            case n.Neg(operand=o):
                return f"_neg({self.value(o)[0]})", True
            case n.Arith(op=op, left=left, right=right):
                helper = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}[op]
                return f"{helper}({self.value(left)[0]}, {self.value(right)[0]})", True
        if isinstance(e, _BOOLEAN_NODES):
            return self.tri(e), True
        raise TypeError(f"cannot compile {type(e).__name__}")  # pragma: no cover - the checker rejects it

    def _operands(self, left: n.Expr, right: n.Expr, is_known: bool) -> tuple[str, str, list[str]]:
        """Both operands, each computed once, and the tests that they are known (or unknown)."""
        word = "is not None" if is_known else "is None"
        names: list[str] = []
        checks: list[str] = []
        for side in (left, right):
            code, maybe = self.value(side)
            if maybe and not isinstance(side, n.Field):
                t = self.temp()
                checks.append(f"({t} := {code}) {word}")
                code = t
            elif maybe:
                checks.append(f"{code} {word}")
            names.append(code)
        return names[0], names[1], checks

    def tri(self, e: n.Expr) -> str:
        """Python giving True, False or None."""
        match e:
            case n.BoolLit(value=v):
                return repr(v)
            case n.Field(name=name):
                return self.local(name)
            case n.Compare(op="contains", left=left, right=right):
                return f"_contains({self.value(left)[0]}, {self.value(right)[0]})"
            case n.Compare(op=op, left=left, right=right):
                a, b, unknown = self._operands(left, right, False)
                if not unknown:
                    return f"({a} {op} {b})"
                return f"(None if {' or '.join(unknown)} else {a} {op} {b})"
            case n.Presence(field=f, present=p):
                return f"({self.local(f.name)} is {'not ' if p else ''}None)"
            case n.Not(operand=o):
                t = self.temp()
                return f"(None if ({t} := {self.tri(o)}) is None else not {t})"
            case n.And(parts=parts) | n.Or(parts=parts):
                # Kleene logic, flat so long chains don't nest: one decisive part settles it,
                # otherwise any unknown part makes the whole unknown.
                decisive = "False" if isinstance(e, n.And) else "True"
                temps = [self.temp() for _ in parts]
                settle = " or ".join(
                    f"({t} := {self.tri(p)}) is {decisive}" for t, p in zip(temps, parts, strict=True)
                )
                any_unknown = " or ".join(f"{t} is None" for t in temps)
                other = "True" if decisive == "False" else "False"
                return f"({decisive} if ({settle}) else (None if ({any_unknown}) else {other}))"
        raise TypeError(f"cannot compile {type(e).__name__}")  # pragma: no cover - the checker rejects it

    def holds(self, e: n.Expr, want: bool) -> str:
        """A Python test that is true exactly when `tri(e)` is `want`."""
        match e:
            case n.BoolLit(value=v):
                return repr(v is want)
            case n.Field(name=name):
                return f"{self.local(name)} is {want}"
            case n.Not(operand=o):
                return self.holds(o, not want)
            case n.And(parts=parts) | n.Or(parts=parts):
                # And is true when every part is, false when one is; Or the other way round.
                every = isinstance(e, n.And) == want
                joined = (" and " if every else " or ").join(self.holds(p, want) for p in parts)
                return f"({joined})"
            case n.Presence(field=f, present=p):
                return f"{self.local(f.name)} is {'not ' if p == want else ''}None"
            case n.Compare(op="contains", left=left, right=right):
                return self._compare(left, right, "in" if want else "not in", swap=True)
            case n.Compare(op=op, left=left, right=right):
                return self._compare(left, right, op if want else _INVERSE[op], swap=False)
        raise TypeError(f"cannot compile {type(e).__name__}")  # pragma: no cover - the checker rejects it

    def _compare(self, left: n.Expr, right: n.Expr, op: str, swap: bool) -> str:
        a, b, known = self._operands(left, right, True)
        if swap:
            a, b = b, a
        if op in ("==", "in") and len(known) == 1 and isinstance(left if not swap else right, n.Field):
            # An unknown fact is None, which equals no constant and is in no list: the test alone is
            # exact, and the guard only costs time.
            other = right if not swap else left
            if isinstance(other, n.Literal):
                return f"{a} {op} {b}"
        return "(" + " and ".join([*known, f"{a} {op} {b}"]) + ")"
