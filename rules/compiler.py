"""Compiles a checked policy into one plain Python function per section, built once with compile()."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import nodes as n
from . import runtime
from .decision import Action, ArgValue, Duration, Percent, RuleRef
from .vocabulary import FIELDS

Condition = Callable[[Mapping[str, Any]], bool | None]


@dataclass(frozen=True, slots=True)
class Part:
    """One `and`-part of a rule, kept for explanations."""

    text: str
    test: Condition
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    ref: RuleRef
    actions: tuple[Action, ...]
    parts: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class CompiledSection:
    key: str
    display: str
    # Index of the first rule whose condition is true, or -1.
    run: Callable[[Mapping[str, Any]], int]
    rules: tuple[CompiledRule, ...]
    otherwise: CompiledRule | None


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


def action_of(call: n.ActionCall) -> Action:
    args: tuple[ArgValue, ...] = tuple(literal_value(a) for a in call.args)
    return Action(call.name, args)


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


def _parts(expr: n.Expr) -> tuple[n.Expr, ...]:
    return expr.parts if isinstance(expr, n.And) else (expr,)


class _Generator:
    """Writes Python source; every value from the policy goes into the namespace, never into the text."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "_add": runtime.add,
            "_sub": runtime.sub,
            "_mul": runtime.mul,
            "_div": runtime.div,
            "_neg": runtime.neg,
            "_contains": runtime.contains,
        }
        self.lines: list[str] = []
        self._constants: dict[Any, str] = {}
        self._getters: dict[str, str] = {}
        self._temp = 0

    def constant(self, value: Any) -> str:
        if value is True or value is False or value is None:
            return repr(value)
        marker = (type(value).__name__, value)
        if marker not in self._constants:
            name = f"_c{len(self._constants)}"
            self._constants[marker] = name
            self.namespace[name] = value
        return self._constants[marker]

    def getter(self, path: str) -> str:
        if path not in self._getters:
            name = f"_g{len(self._getters)}"
            self._getters[path] = name
            self.namespace[name] = runtime.make_getter(path, FIELDS[path].type)
        return self._getters[path] + "(f)"

    def temp(self) -> str:
        self._temp += 1
        return f"_t{self._temp}"

    def expr(self, e: n.Expr) -> str:
        match e:
            case n.NumberLit(value=v) | n.TextLit(value=v) | n.BoolLit(value=v):
                return self.constant(v)
            case n.ListLit():
                return self.constant(frozenset(literal_value(e)))
            case n.Field(name=name):
                return self.getter(name)
            case n.Neg(operand=o):
                return f"_neg({self.expr(o)})"
            case n.Arith(op=op, left=left, right=right):
                helper = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}[op]
                return f"{helper}({self.expr(left)}, {self.expr(right)})"
            case n.Compare(op="contains", left=left, right=right):
                return f"_contains({self.expr(left)}, {self.expr(right)})"
            case n.Compare(op=op, left=left, right=right):
                return self.compare(op, left, right)
            case n.Presence(field=f, present=p):
                return f"({self.getter(f.name)} is {'not ' if p else ''}None)"
            case n.Not(operand=o):
                t = self.temp()
                return f"(None if ({t} := {self.expr(o)}) is None else not {t})"
            case n.And(parts=parts) | n.Or(parts=parts):
                # Kleene logic, flat so long chains don't nest: one decisive part settles it,
                # otherwise any unknown part makes the whole unknown.
                decisive = "False" if isinstance(e, n.And) else "True"
                names = [self.temp() for _ in parts]
                settle = " or ".join(
                    f"({t} := {self.expr(p)}) is {decisive}" for t, p in zip(names, parts, strict=True)
                )
                unknown = " or ".join(f"{t} is None" for t in names)
                other = "True" if decisive == "False" else "False"
                return f"({decisive} if ({settle}) else (None if ({unknown}) else {other}))"
        raise TypeError(
            f"cannot compile {type(e).__name__}"
        )  # pragma: no cover - the checker rejects it first

    def compare(self, op: str, left: n.Expr, right: n.Expr) -> str:
        a = self.temp()
        if isinstance(right, n.Literal):
            return f"(None if ({a} := {self.expr(left)}) is None else {a} {op} {self.expr(right)})"
        b = self.temp()
        return (
            f"(None if ({a} := {self.expr(left)}) is None or ({b} := {self.expr(right)}) is None "
            f"else {a} {op} {b})"
        )

    def function(self, name: str, body: str) -> str:
        self.lines.append(f"def {name}(f):\n    return {body}\n")
        return name


def compile_sections(policy: n.Policy) -> dict[str, CompiledSection]:
    """One CompiledSection per event; the first section wins if the checker let a duplicate through."""
    gen = _Generator()
    plans: list[tuple[n.Section, list[tuple[str, list[tuple[str, str, n.Expr]]]]]] = []
    for s_index, section in enumerate(policy.sections):
        rule_plans = []
        body = [f"def _s{s_index}(f):"]
        for r_index, rule in enumerate(section.rules):
            body.append(f"    if {gen.expr(rule.condition)} is True:\n        return {r_index}")
            parts = []
            for p_index, part in enumerate(_parts(rule.condition)):
                name = gen.function(f"_p{s_index}_{r_index}_{p_index}", gen.expr(part))
                parts.append((name, n.unparse(part), part))
            rule_plans.append((f"_s{s_index}", parts))
        body.append("    return -1\n")
        gen.lines.append("\n".join(body))
        plans.append((section, rule_plans))
    code = compile("\n".join(gen.lines), "<policy>", "exec")
    namespace = dict(gen.namespace)
    # Safe: the source holds only generated names; every value from the policy sits in the namespace.
    exec(code, namespace)
    result: dict[str, CompiledSection] = {}
    for s_index, (section, rule_plans) in enumerate(plans):
        rules = tuple(
            CompiledRule(
                RuleRef(rule.line, rule.name),
                tuple(action_of(a) for a in rule.actions),
                tuple(Part(text, namespace[fn], fields_of(expr)) for fn, text, expr in parts),
            )
            for rule, (_, parts) in zip(section.rules, rule_plans, strict=True)
        )
        last = section.elses[-1] if section.elses else None
        otherwise = (
            CompiledRule(RuleRef(last.line, None), tuple(action_of(a) for a in last.actions), ())
            if last
            else None
        )
        result.setdefault(
            section.event.key,
            CompiledSection(
                section.event.key,
                section.event.display,
                namespace[f"_s{s_index}"],
                rules,
                otherwise,
            ),
        )
    return result
