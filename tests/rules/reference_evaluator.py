"""A slow, plainly correct evaluator of the policy language over the syntax tree, to check the compiler."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from rules import nodes as n
from rules.decision import Action, Duration, Percent, RuleRef, json_value
from rules.policy import section_key
from rules.vocabulary import BOOLEAN, FIELDS, NUMBER

UNKNOWN = None
RESULT_WORD = {True: "true", False: "false", None: "unknown"}


def read_raw(facts: Mapping[str, Any], name: str) -> Any:
    """A flat "item.customized" key if it holds something, otherwise the nested objects."""
    if facts.get(name) is not None:
        return facts.get(name)
    if "." not in name:
        return None
    node: Any = facts
    for step in name.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def as_type(value: Any, kind: str) -> Any:
    """The value as the field's type, or None when it is missing or of another type."""
    if value is None:
        return None
    if kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind == NUMBER:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return int(value)
        if isinstance(value, Decimal):
            return Decimal(value) if value.is_finite() else None
        if isinstance(value, float):
            return Decimal(repr(float(value))) if math.isfinite(value) else None
        return None
    return value if isinstance(value, str) else None


def fact(facts: Mapping[str, Any], name: str) -> Any:
    return as_type(read_raw(facts, name), FIELDS[name].type)


def evaluate(expr: n.Expr, facts: Mapping[str, Any]) -> Any:
    """A value, or for a condition True / False / None (unknown)."""
    if isinstance(expr, n.NumberLit | n.TextLit | n.BoolLit):
        return expr.value
    if isinstance(expr, n.ListLit):
        return [evaluate(item, facts) for item in expr.items]
    if isinstance(expr, n.Field):
        return fact(facts, expr.name)
    if isinstance(expr, n.Presence):
        present = fact(facts, expr.field.name) is not None
        return present if expr.present else not present
    if isinstance(expr, n.Neg):
        value = evaluate(expr.operand, facts)
        return None if value is None else -value
    if isinstance(expr, n.Arith):
        return arithmetic(expr.op, evaluate(expr.left, facts), evaluate(expr.right, facts))
    if isinstance(expr, n.Compare):
        return compare(expr.op, evaluate(expr.left, facts), evaluate(expr.right, facts))
    if isinstance(expr, n.Not):
        value = evaluate(expr.operand, facts)
        return None if value is None else not value
    if isinstance(expr, n.And):
        values = [evaluate(p, facts) for p in expr.parts]
        if False in values:
            return False
        return None if None in values else True
    if isinstance(expr, n.Or):
        values = [evaluate(p, facts) for p in expr.parts]
        if True in values:
            return True
        return None if None in values else False
    raise TypeError(type(expr).__name__)


def arithmetic(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return None
        return Decimal(a) / Decimal(b)
    except ArithmeticError:
        return None


def compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    if op == "contains":
        if isinstance(a, str):
            return b in a if isinstance(b, str) else None
        return b in a
    if op == "in":
        return a in b
    if op == "not in":
        return a not in b
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def fields_in(expr: n.Expr) -> list[str]:
    """The fields an expression names, in written order, each once."""
    out: list[str] = []

    def walk(e: n.Expr) -> None:
        if isinstance(e, n.Field):
            if e.name not in out:
                out.append(e.name)
        elif isinstance(e, n.Presence):
            walk(e.field)
        elif isinstance(e, n.And | n.Or):
            for p in e.parts:
                walk(p)
        elif isinstance(e, n.Arith | n.Compare):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, n.Not | n.Neg):
            walk(e.operand)

    walk(expr)
    return out


def part_record(part: n.Expr, facts: Mapping[str, Any]) -> dict[str, Any]:
    values = []
    for name in fields_in(part):
        raw = read_raw(facts, name)
        if raw is None:
            status = "missing"
        elif as_type(raw, FIELDS[name].type) is None:
            status = "wrong type"
        else:
            status = "present"
        values.append({"field": name, "value": json_value(raw), "status": status})
    return {"text": n.unparse(part), "result": RESULT_WORD[evaluate(part, facts)], "values": values}


def parts(rule: n.Rule) -> tuple[n.Expr, ...]:
    return rule.condition.parts if isinstance(rule.condition, n.And) else (rule.condition,)


def arg(expr: n.Expr) -> Any:
    if isinstance(expr, n.PercentLit):
        return Percent(expr.value)
    if isinstance(expr, n.DurationLit):
        return Duration(expr.seconds)
    return expr.value  # type: ignore[union-attr]


def actions(calls: tuple[n.ActionCall, ...]) -> list[Action]:
    return [Action(c.name, tuple(arg(a) for a in c.args)) for c in calls]


def decide(policy: n.Policy, facts: Mapping[str, Any], event: str = "case_opened") -> dict[str, Any]:
    """{"actions", "rule", "explanation"} for a checked policy, as the language's contract describes them."""
    wanted = section_key(event)
    section = next((s for s in policy.sections if s.event.key == wanted), None)
    manual = [Action("manual_review")]
    if section is None:
        explanation = {"section": None, "outcome": "no_section", "rule": None, "parts": [], "earlier": [],
                       "event": event}
        return {"actions": manual, "rule": None, "explanation": explanation}
    earlier = []
    for rule in section.rules:
        records = [part_record(p, facts) for p in parts(rule)]
        if evaluate(rule.condition, facts) is True:
            ref = RuleRef(rule.line, rule.name)
            explanation = {"section": section.event.display, "outcome": "rule", "rule": ref.to_dict(),
                           "parts": records, "earlier": earlier, "event": event}
            return {"actions": actions(rule.actions), "rule": ref, "explanation": explanation}
        results = [r["result"] for r in records]
        first = next((r for r in records if r["result"] != "true"), records[0])
        earlier.append({"line": rule.line, "name": rule.name,
                        "result": "false" if "false" in results else "unknown", "part": first})
    if section.elses:
        last = section.elses[-1]
        ref = RuleRef(last.line, None)
        explanation = {"section": section.event.display, "outcome": "else", "rule": ref.to_dict(),
                       "parts": [], "earlier": earlier, "event": event}
        return {"actions": actions(last.actions), "rule": ref, "explanation": explanation}
    explanation = {"section": section.event.display, "outcome": "no_match", "rule": None, "parts": [],
                   "earlier": earlier, "event": event}
    return {"actions": manual, "rule": None, "explanation": explanation}
