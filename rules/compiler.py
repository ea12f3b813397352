"""Compiles a checked policy into two plain Python functions per section, built once with compile()."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import nodes as n
from .codegen import Generator, fields_of, literal_value, parts_of
from .decision import Action, ArgValue, Decision, RuleRef
from .explain import explain as explain_decision

# Decides for (facts, event); the decision's explanation is built later from what it read.
Run = Callable[[Mapping[str, Any], str], Decision]
# (what the fast path read, how many rules to report as earlier) -> (earlier rules, parts of the next rule).
Explain = Callable[[tuple[Any, ...], int], tuple[list[dict[str, Any]], list[dict[str, Any]]]]

# Equal actions of every compiled policy are one object, so comparing two policies' decisions (as a
# simulation does for each case) mostly takes Python's identity shortcut.
_INTERNED: dict[str, Action] = {}
_MAX_INTERNED = 100_000


def _intern(action: Action) -> Action:
    if len(_INTERNED) >= _MAX_INTERNED:
        return action
    # By repr: `coupon 5` and `coupon 5.0` are equal, yet each policy keeps the number as written.
    return _INTERNED.setdefault(repr(action), action)


MANUAL = (_intern(Action("manual_review")),)


@dataclass(frozen=True, slots=True)
class Part:
    """One `and`-part of a rule, as explanations show it."""

    text: str
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
    run: Run
    explain: Explain
    # The facts `run` reads, in the order it reads them: each once, just before the first rule using it.
    fields: tuple[str, ...]
    rules: tuple[CompiledRule, ...]
    otherwise: CompiledRule | None


def action_of(call: n.ActionCall) -> Action:
    args: tuple[ArgValue, ...] = tuple(literal_value(a) for a in call.args)
    return _intern(Action(call.name, args))


def _decision(gen: Generator, index: int, decided: int, actions: tuple[Action, ...], ref: RuleRef | None,
              read: list[str]) -> str:
    """The statement returning the Decision; its explanation gets the section and the raw facts read."""
    listed = ", ".join(gen.constant(a) for a in actions)
    known = "".join(f", {r}" for r in read)
    return (
        f"return _Decision(event, [{listed}], {gen.constant(ref)}, _explain, "
        f"(_section{index}, ({decided}{known or ','}), event))"
    )


class LazyExplain:
    """A section's explanation function, compiled the first time a decision of it is explained.

    Most decisions are never explained, and the explanation code is the larger half of a policy.
    """

    def __init__(self, source: str, namespace: dict[str, Any], name: str) -> None:
        self.source = source
        self.namespace = namespace
        self.name = name
        self.function: Explain | None = None

    def __call__(self, ran: tuple[Any, ...], upto: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if self.function is None:
            # Two threads may both compile it; either result is the same function.
            exec(compile(self.source, "<policy explanations>", "exec"), self.namespace)
            self.function = self.namespace[self.name]
        return self.function(ran, upto)


def _write_section(gen: Generator, index: int, section: n.Section) -> tuple[tuple[str, ...], str]:
    """Writes `_s<index>` (the fast path) and returns the source of `_x<index>` (its explanation) and
    the fields read.

    Both read the facts in the same order, so `_x` picks up from the tuple `_s` kept exactly the
    facts the fast path saw, and computes three-valued results only for the rules it reports.
    """
    gen.slots = {}
    gen.parents = {}
    run = [f"def _s{index}(f, event):"]
    explain = [f"def _x{index}(ran, upto):", "    earlier = []"]
    read: list[str] = []
    for r_index, rule in enumerate(section.rules):
        for field in fields_of(rule.condition):
            if field in gen.slots:
                continue
            gen.slots[field] = slot = len(gen.slots)
            run.extend(gen.fetch(field, "    "))
            run.append(gen.convert(field, "    "))
            explain.append(f"    r{slot} = ran[{slot + 1}]")
            explain.append(gen.convert(field, "    "))
            explain.append(f"    d{slot} = None")
            read.append(f"r{slot}")
        actions = tuple(action_of(a) for a in rule.actions)
        run.append(f"    if {gen.holds(rule.condition, True)}:")
        run.append("        " + _decision(gen, index, r_index, actions, RuleRef(rule.line, rule.name), read))

        parts = parts_of(rule.condition)
        results = [gen.temp() for _ in parts]
        shown = []
        for result, part in zip(results, parts, strict=True):
            explain.append(f"    {result} = {gen.tri(part)}")
            values = ", ".join(gen.describe(f) for f in fields_of(part))
            text = gen.constant(n.unparse(part))
            word = f"'true' if {result} is True else 'false' if {result} is False else 'unknown'"
            shown.append(f"{{'text': {text}, 'result': {word}, 'values': [{values}]}}")
        explain.append(f"    if upto == {r_index}:")
        explain.append(f"        return earlier, [{', '.join(shown)}]")
        # An earlier rule is false when one part is false, otherwise unknown; it shows its first part
        # that is not true.
        overall = " or ".join(f"{r} is False" for r in results)
        first = shown[0]
        for result, text in reversed(list(zip(results, shown, strict=True))):
            first = f"{text} if {result} is not True else {first}"
        explain.append(
            f"    earlier.append({{'line': {rule.line}, 'name': {gen.constant(rule.name)}, "
            f"'result': 'false' if {overall} else 'unknown', 'part': {first}}})"
        )
    last = section.elses[-1] if section.elses else None
    fallback: tuple[Action, ...] = MANUAL
    fallback_ref: RuleRef | None = None
    if last is not None:
        fallback, fallback_ref = tuple(action_of(a) for a in last.actions), RuleRef(last.line, None)
    run.append("    " + _decision(gen, index, -1, fallback, fallback_ref, read) + "\n")
    explain.append("    return earlier, []\n")
    gen.lines.append("\n".join(run))
    return tuple(gen.slots), "\n".join(explain)


def compile_sections(policy: n.Policy) -> dict[str, CompiledSection]:
    """One CompiledSection per event; the first section wins if the checker let a duplicate through."""
    gen = Generator()
    written = [_write_section(gen, i, section) for i, section in enumerate(policy.sections)]
    code = compile("\n".join(gen.lines), "<policy>", "exec")
    namespace = dict(gen.namespace, _Decision=Decision, _explain=explain_decision)
    # Safe: the source holds only generated names and literals; every other value sits in the namespace.
    exec(code, namespace)
    result: dict[str, CompiledSection] = {}
    for s_index, section in enumerate(policy.sections):
        rules = tuple(
            CompiledRule(
                RuleRef(rule.line, rule.name),
                tuple(action_of(a) for a in rule.actions),
                tuple(Part(n.unparse(p), fields_of(p)) for p in parts_of(rule.condition)),
            )
            for rule in section.rules
        )
        last = section.elses[-1] if section.elses else None
        otherwise = (
            CompiledRule(RuleRef(last.line, None), tuple(action_of(a) for a in last.actions), ())
            if last
            else None
        )
        compiled = CompiledSection(
            section.event.key,
            section.event.display,
            namespace[f"_s{s_index}"],
            LazyExplain(written[s_index][1], namespace, f"_x{s_index}"),
            written[s_index][0],
            rules,
            otherwise,
        )
        # The decisions of this section explain themselves through it.
        namespace[f"_section{s_index}"] = compiled
        result.setdefault(section.event.key, compiled)
    return result
