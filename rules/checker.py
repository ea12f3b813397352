"""Checks a parsed policy: names, types, action arguments, sections, examples and dead rules."""

from __future__ import annotations

from typing import cast

from . import nodes as n
from .budget import UNBOUNDED, Budget
from .diagnostics import Reporter, suggest
from .limits import MAX_AMOUNT, MAX_DURATION_DAYS, MAX_DURATION_SECONDS
from .reach import always_true, find_unreachable, never_true
from .vocabulary import ACTIONS, BOOLEAN, EVENTS, EVIDENCE_KINDS, FIELDS, NUMBER, TEXT

_EVENT_NAMES = [e for e in EVENTS if e != "deadline"]
_TEXT_ARGS = ("reason", "queue", "template", "deadline")


def check_policy(policy: n.Policy, report: Reporter, budget: Budget = UNBOUNDED) -> None:
    """Report every problem in `policy`; nothing is raised."""
    checker = _Checker(report)
    first_seen: dict[str, int] = {}
    deadlines_set = {
        a.args[0].value
        for s in policy.sections
        for r in cast("tuple[n.Rule | n.Else, ...]", (*s.rules, *s.elses))
        for a in r.actions
        if a.name == "set_deadline" and a.args and isinstance(a.args[0], n.TextLit)
    }
    for section in policy.sections:
        checker.event(section.event)
        where = section.header or (section.order[0] if section.order else section.event)
        key = section.event.key
        if key in first_seen:
            report.error(
                where, "section.duplicate", event=f"on {section.event.display}:", first=first_seen[key]
            )
        else:
            first_seen[key] = where.line
        if (
            section.event.deadline is not None
            and section.event.deadline not in deadlines_set
            and section.header
        ):
            report.warning(section.header, "deadline.never_set", name=section.event.deadline)
        _check_section(section, checker, report, budget)
    names: dict[str, int] = {}
    for example in policy.examples:
        if example.name in names:
            report.error(example, "example.duplicate", name=example.name, first=names[example.name])
        names.setdefault(example.name, example.line)
        checker.example(example)


def _check_section(section: n.Section, checker: _Checker, report: Reporter, budget: Budget) -> None:
    always: n.Rule | None = None
    sound: list[n.Rule] = []
    for index, item in enumerate(section.order):
        budget.spend()
        if always is not None:
            report.error(item, "rule.after_always_true", first=always.line)
        if isinstance(item, n.Else):
            checker.actions(item.actions)
            if index < len(section.order) - 1:
                report.error(item, "else.not_last", next=section.order[index + 1].line)
            continue
        errors_before = report.error_count()
        checker.condition(item.condition)
        checker.actions(item.actions)
        if report.error_count() != errors_before:
            continue
        if always is None and always_true(item.condition):
            always = item
        elif never_true(item.condition):
            report.warning(item, "rule.never_true")
        elif always is None:
            sound.append(item)
    shadowing = find_unreachable(sound, tick=budget.spend)
    for rule, earlier in shadowing.found:
        report.warning(rule, "rule.unreachable", first=earlier.line)
    if shadowing.unsearched_from is not None:
        report.warning(shadowing.unsearched_from, "rule.shadow_budget")


class _Checker:
    def __init__(self, report: Reporter) -> None:
        self.report = report

    # ---- names -------------------------------------------------------------------------------------
    def event(self, event: n.EventRef) -> None:
        if event.deadline is None and event.name not in _EVENT_NAMES:
            self.report.error(
                event, "event.unknown", name=event.name, suggestion=suggest(event.name, _EVENT_NAMES)
            )

    def field(self, field: n.Field) -> str | None:
        spec = FIELDS.get(field.name)
        if spec is None:
            self.report.error(field, "field.unknown", name=field.name, suggestion=suggest(field.name, FIELDS))
            return None
        return spec.type

    def value(self, field: n.Expr, literal: n.Expr) -> None:
        """An enumerated field compared with text must use one of its values."""
        if not (isinstance(field, n.Field) and isinstance(literal, n.TextLit)):
            return
        spec = FIELDS.get(field.name)
        if spec is None:
            return
        if spec.values and literal.value not in spec.values:
            self.report.error(
                literal,
                "value.unknown",
                value=literal.value,
                field=field.name,
                suggestion=suggest(literal.value, spec.values),
            )
        elif spec.examples and literal.value not in spec.examples:
            hint = suggest(literal.value, spec.examples)
            if hint is not None:
                self.report.warning(
                    literal, "value.unusual", value=literal.value, field=field.name, suggestion=hint
                )

    # ---- types -------------------------------------------------------------------------------------
    def condition(self, expr: n.Expr) -> None:
        kind = self.infer(expr)
        if kind is not None and kind != BOOLEAN:
            self.report.error(expr, "type.condition", type=kind)

    def infer(self, expr: n.Expr) -> str | None:
        """The type of `expr`, or None when a problem was already reported for it."""
        match expr:
            case n.NumberLit():
                return NUMBER
            case n.TextLit():
                return TEXT
            case n.BoolLit():
                return BOOLEAN
            case n.PercentLit() | n.DurationLit():
                kind = "percentage" if isinstance(expr, n.PercentLit) else "duration"
                self.report.error(expr, "type.arg_only", type=kind)
                return None
            case n.ListLit():
                self.list_items(expr)
                return "list"
            case n.Field():
                return self.field(expr)
            case n.BareWord():
                self.report.error(expr, "args.bare_word", word=expr.word)
                return None
            case n.Neg(operand=operand):
                return self.numeric(operand, "-")
            case n.Arith(op=op, left=left, right=right):
                lt, rt = self.numeric(left, op), self.numeric(right, op)
                return NUMBER if lt and rt else None
            case n.Compare():
                return self.compare(expr)
            case n.Presence(field=field):
                self.field(field)
                return BOOLEAN
            case n.Not(operand=operand):
                self.logic(operand, "not")
                return BOOLEAN
            case n.And(parts=parts) | n.Or(parts=parts):
                word = "and" if isinstance(expr, n.And) else "or"
                for part in parts:
                    self.logic(part, word)
                return BOOLEAN
        return None  # pragma: no cover - every node kind is matched above

    def numeric(self, expr: n.Expr, op: str) -> str | None:
        kind = self.infer(expr)
        if kind is not None and kind != NUMBER:
            self.report.error(expr, "type.arith", op=op, type=kind)
            return None
        return kind

    def logic(self, expr: n.Expr, op: str) -> None:
        kind = self.infer(expr)
        if kind is not None and kind != BOOLEAN:
            self.report.error(expr, "type.logic", op=op, type=kind)

    def list_items(self, expr: n.ListLit) -> str | None:
        first: str | None = None
        for item in expr.items:
            kind = self.infer(item)
            if kind is None:
                continue
            if first is None:
                first = kind
            elif kind != first:
                self.report.error(item, "type.list_mixed", type=kind, first=first)
        return first

    def compare(self, expr: n.Compare) -> str | None:
        op, left, right = expr.op, expr.left, expr.right
        if op in ("in", "not in"):
            lt = self.infer(left)
            if not isinstance(right, n.ListLit):
                if self.infer(right) is not None:
                    self.report.error(right, "type.in_list", op=op)
                return BOOLEAN
            elem = self.list_items(right)
            if lt is not None and elem is not None and lt != elem:
                self.report.error(right, "type.compare", op=op, left=lt, right=elem)
            for item in right.items:
                self.value(left, item)
            return BOOLEAN
        lt, rt = self.infer(left), self.infer(right)
        if lt is None or rt is None:
            return BOOLEAN
        if op == "contains":
            if lt == "list" and isinstance(left, n.ListLit):
                elem = self.list_items(left)
                if elem is not None and rt != elem:
                    self.report.error(right, "type.compare", op=op, left=elem, right=rt)
            elif lt != TEXT:
                self.report.error(left, "type.contains", type=lt)
            elif rt != TEXT:
                self.report.error(right, "type.compare", op=op, left=lt, right=rt)
            return BOOLEAN
        if op in ("<", "<=", ">", ">="):
            for side, kind in ((left, lt), (right, rt)):
                if kind != NUMBER:
                    self.report.error(side, "type.order", op=op, type=kind)
                    break
            return BOOLEAN
        if lt != rt or lt == "list":
            self.report.error(right, "type.compare", op=op, left=lt, right=rt)
            return BOOLEAN
        self.value(left, right)
        self.value(right, left)
        return BOOLEAN

    # ---- actions -----------------------------------------------------------------------------------
    def actions(self, actions: tuple[n.ActionCall, ...]) -> None:
        for action in actions:
            self.action(action)

    def action(self, action: n.ActionCall) -> None:
        spec = ACTIONS.get(action.name)
        if spec is None:
            self.report.error(
                action, "action.unknown", name=action.name, suggestion=suggest(action.name, ACTIONS)
            )
            return
        for index, arg in enumerate(action.args):
            if index >= len(spec.args):
                if isinstance(arg, n.BareWord) and arg.word in ACTIONS:
                    self.report.error(arg, "args.action_word", word=arg.word)
                elif spec.args:
                    self.report.error(arg, "args.too_many", action=action.name, count=len(spec.args))
                else:
                    self.report.error(arg, "args.none", action=action.name)
                return
            self.argument(action, spec.args[index].kind, arg)
        if len(action.args) < len(spec.args):
            self.report.error(
                action, "args.missing", action=action.name, kind=spec.args[len(action.args)].kind
            )

    def argument(self, action: n.ActionCall, kind: str, arg: n.Expr) -> None:
        name = action.name
        if isinstance(arg, n.BareWord):
            code = "args.action_word" if arg.word in ACTIONS else "args.bare_word"
            self.report.error(arg, code, word=arg.word)
        elif kind in _TEXT_ARGS:
            if not isinstance(arg, n.TextLit):
                self.report.error(arg, "args.wrong", action=name, kind=kind)
            elif not arg.value.strip():
                self.report.error(arg, "args.empty", action=name)
        elif kind == "evidence":
            if not isinstance(arg, n.TextLit):
                self.report.error(arg, "args.wrong", action=name, kind=kind)
            elif arg.value not in EVIDENCE_KINDS:
                self.report.error(
                    arg, "args.evidence", value=arg.value, suggestion=suggest(arg.value, EVIDENCE_KINDS)
                )
        elif kind == "share" and isinstance(arg, n.PercentLit):
            if not 0 < arg.value <= 100:
                self.report.error(arg, "args.percent_range")
        elif kind in ("share", "amount"):
            if not isinstance(arg, n.NumberLit):
                self.report.error(arg, "args.wrong", action=name, kind=kind)
            elif arg.value <= 0:
                self.report.error(arg, "args.positive", action=name)
            elif arg.value > MAX_AMOUNT:
                self.report.error(arg, "args.amount_range", action=name, limit=f"{MAX_AMOUNT:,}")
        elif kind == "duration":
            if not isinstance(arg, n.DurationLit):
                self.report.error(arg, "args.wrong", action=name, kind=kind)
            elif arg.seconds <= 0:
                self.report.error(arg, "args.positive", action=name)
            elif arg.seconds > MAX_DURATION_SECONDS:
                self.report.error(
                    arg,
                    "args.duration_range",
                    action=name,
                    limit=MAX_DURATION_DAYS,
                    given=f"{arg.amount} {arg.unit}",
                )

    # ---- examples ----------------------------------------------------------------------------------
    def example(self, example: n.Example) -> None:
        if example.event is not None:
            self.event(example.event)
        seen: set[str] = set()
        for fact in example.facts:
            if fact.field in seen:
                self.report.error(fact, "example.duplicate_field", name=fact.field)
            seen.add(fact.field)
            expected = self.field(n.Field(fact.line, fact.column, fact.field))
            given = self.infer(fact.value)
            if expected is not None and given is not None and given != expected:
                self.report.error(fact.value, "example.type", field=fact.field, type=expected, given=given)
            elif expected is not None:
                self.value(n.Field(fact.line, fact.column, fact.field), fact.value)
        self.actions(example.expected)
