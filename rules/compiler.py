"""Compiles a checked policy into two plain Python functions per section, built once with compile()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import nodes as n
from .codegen import Generator, fields_of, literal_value, parts_of
from .decision import Action, ArgValue, Decision, RuleRef
from .shared import SharedEntries
from .vocabulary import DEFAULT_EVENT

# Decides for (facts, event, checked); the decision's explanation is built later from what it read.
Run = Callable[..., Decision]
# (the deciding rule's index or -1, the event, the facts the fast path read) -> the explanation.
Explain = Callable[..., dict[str, Any]]
# Explanation entries one section keeps for reuse, at most (a few MB).
SHARED_ENTRIES = 2048

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
    """The statement returning the Decision: one C call; explaining it later gets what was read."""
    listed = ", ".join(gen.constant(a) for a in actions)
    known = "".join(f", {r}" for r in read)
    return (
        f"return _make(_Decision, (event, [{listed}], {gen.constant(ref)}, _x{index}, "
        f"{decided}, event{known}))"
    )


class LazyExplain:
    """A section's explanation function, compiled the first time a decision of it is explained.

    Most decisions are never explained, and the explanation code is the larger half of a policy.
    Compiling it rebinds `_x<index>` in the policy's namespace, so later decisions call it directly.
    """

    def __init__(self, source: str, namespace: dict[str, Any], name: str) -> None:
        self.source = source
        self.namespace = namespace
        self.name = name
        self.function: Explain | None = None

    def __call__(self, upto: int, event: str, *read: Any) -> dict[str, Any]:
        if self.function is None:
            # Two threads may both compile it; either result is the same function.
            exec(compile(self.source, "<policy explanations>", "exec"), self.namespace)
            self.function = self.namespace[self.name]
        return self.function(upto, event, *read)


def _explanation(section: str, outcome: str, rule: RuleRef | None, parts: str) -> str:
    # (line, name): a tuple of literals, which Python builds once, as a constant.
    ref = f"({rule.line}, {rule.name!r})" if rule is not None else "None"
    return (
        f"{{'section': {section}, 'outcome': {outcome!r}, 'rule': {ref}, 'parts': {parts}, "
        "'earlier': earlier, 'event': event}"
    )


def _key(gen: Generator, fields: tuple[str, ...]) -> str:
    if len(fields) == 1:
        return f"r{gen.slots[fields[0]]}"
    return "(" + "".join(f"r{gen.slots[f]}, " for f in fields) + ")"


def _shared(gen: Generator, index: int, fields: tuple[str, ...], kept: str, built: str, target: str,
            indent: str) -> list[str]:
    """Statements setting `target` to `built`, or to the equal read-only value kept in `kept` under the
    raw facts `fields` it shows.

    A value that depends only on raw facts that repeat from case to case (a reason, a market, a
    count, a flag, a missing fact) is built once and shared; money and odd values are built each time.
    """
    key = _key(gen, fields) if fields else "0"
    safe = " and ".join(gen.keyable(f) for f in fields) or "True"
    return [
        f"{indent}{target} = {kept}.get({key}) if {safe} else None",
        f"{indent}if {target} is None:",
        f"{indent}    {target} = {built}",
        f"{indent}    if {safe}:",
        f"{indent}        {target} = _keep{index}({kept}, {key}, {target})",
    ]


def _explain_rule(gen: Generator, index: int, r_index: int, rule: n.Rule, display: str,
                  converted: set[str]) -> list[str]:
    """The explanation's statements for one rule: return if it decided, otherwise append its entry.

    An earlier rule's entry says false when one part is false, otherwise unknown, and shows its
    first part that is not true. A rule on one fact (most are) is looked up by that fact before
    anything is worked out; otherwise the parts are worked out in order, only as far as needed,
    and the entry is looked up by the part shown. (The values of several facts together repeat too
    rarely to be worth keeping.)

    A fact is converted to its type (v<i>) where it is first needed: once for the rest of the
    function (`converted`) by a rule that always works its parts out, otherwise inside the branch
    that does (a shared entry found by the raw fact needs no conversion at all).
    """
    parts = parts_of(rule.condition)
    fields = fields_of(rule.condition)
    pending = [f for f in fields if f not in converted]

    def shown(part: n.Expr, result: str) -> str:
        values = "".join(f"{gen.describe(f)}, " for f in fields_of(part))
        # The result as True, False or None; the JSON form words it.
        return f"({gen.constant(n.unparse(part))}, {result}, ({values}))"

    def entry(part: n.Expr, result: str) -> str:
        name = gen.constant(rule.name)
        return f"({rule.line}, {name}, 'false' if _ov else 'unknown', {shown(part, result)})"

    out = [f"    if upto == {r_index}:", *(gen.convert(f, "        ") for f in pending)]
    results = [gen.temp() for _ in parts]
    out.extend(f"        {result} = {gen.tri(part)}" for result, part in zip(results, parts, strict=True))
    listed = "".join(f"{shown(part, result)}, " for result, part in zip(results, parts, strict=True))
    deciding = _explanation(display, "rule", RuleRef(rule.line, rule.name), f"({listed})")
    out.append(f"        return {deciding}")

    kept = gen.fresh({}) if len(fields) == 1 else ""
    indent = "    "
    if kept:
        out.append(f"    _e = {kept}.get(r{gen.slots[fields[0]]}) if {gen.keyable(fields[0])} else None")
        out.append("    if _e is None:")
        indent = "        "
    out.extend(gen.convert(f, indent) for f in pending)
    if not kept:
        converted.update(pending)
    results = [gen.temp() for _ in parts]
    out.append(f"{indent}{results[0]} = {gen.tri(parts[0])}")

    def show(j: int, inner: str) -> list[str]:
        # False overall if the part shown or any later part is false.
        later = "".join(f" or {gen.tri(p)} is False" for p in parts[j + 1 :])
        lines = [f"{inner}_ov = {results[j]} is False{later}"]
        if kept:
            return [*lines, f"{inner}_e = {entry(parts[j], results[j])}"]
        # By the part shown: [0] entries of an unknown rule, [1] those of a false one.
        by_part = f"{gen.fresh(({}, {}))}[_ov]"
        return [*lines, *_shared(gen, index, fields_of(parts[j]), by_part, entry(parts[j], results[j]), "_e",
                                 inner)]

    if len(parts) == 1:
        out.extend(show(0, indent))
    else:
        # Part j is shown when every part before it is true and it is not; otherwise (the first part
        # is not true, or every part is, which the rule deciding rules out) the first part is.
        for j in range(1, len(parts)):
            before = "".join(f"{r} is True and " for r in results[:j])
            test = f"{before}({results[j]} := {gen.tri(parts[j])}) is not True"
            out.append(f"{indent}{'if' if j == 1 else 'elif'} {test}:")
            out.extend(show(j, indent + "    "))
        out.append(f"{indent}else:")
        out.extend(show(0, indent + "    "))
    if kept:
        out.append(f"        if {gen.keyable(fields[0])}:")
        out.append(f"            _e = _keep{index}({kept}, r{gen.slots[fields[0]]}, _e)")
    out.append("    earlier.append(_e)")
    return out


def _write_section(gen: Generator, index: int, section: n.Section) -> tuple[tuple[str, ...], str]:
    """Writes `_s<index>` (the fast path) and returns the source of `_x<index>` (its explanation) and
    the fields read.

    Both read the facts in the same order, so `_x` is called with exactly the facts the fast path
    saw, and computes three-valued results only for the rules it reports.
    """
    gen.slots = {}
    gen.parents = {}
    if section.event.key == DEFAULT_EVENT:
        # The policy's decide() itself: anything but a dict for this event takes the general way first.
        run = [
            f"def _s{index}(facts, event={DEFAULT_EVENT!r}, checked=False):",
            f"    if not checked and (type(facts) is not dict or event != {DEFAULT_EVENT!r}):",
            "        return _general(facts, event)",
        ]
    else:
        run = [f"def _s{index}(facts, event, checked=True):"]
    explain: list[str] = ["    earlier = []"]
    read: list[str] = []
    converted: set[str] = set()
    display = gen.constant(section.event.display)
    for r_index, rule in enumerate(section.rules):
        for field in fields_of(rule.condition):
            if field in gen.slots:
                continue
            gen.slots[field] = slot = len(gen.slots)
            run.extend(gen.fetch(field, "    "))
            run.append(gen.convert(field, "    "))
            read.append(f"r{slot}")
        actions = tuple(action_of(a) for a in rule.actions)
        run.append(f"    if {gen.holds(rule.condition, True)}:")
        run.append("        " + _decision(gen, index, r_index, actions, RuleRef(rule.line, rule.name), read))
        explain.extend(_explain_rule(gen, index, r_index, rule, display, converted))
    last = section.elses[-1] if section.elses else None
    fallback: tuple[Action, ...] = MANUAL
    fallback_ref: RuleRef | None = None
    if last is not None:
        fallback, fallback_ref = tuple(action_of(a) for a in last.actions), RuleRef(last.line, None)
    run.append("    " + _decision(gen, index, -1, fallback, fallback_ref, read) + "\n")
    outcome = "else" if last is not None else "no_match"
    explain.append(f"    return {_explanation(display, outcome, fallback_ref, '()')}\n")
    gen.lines.append("\n".join(run))
    # Facts the decision did not read (it decided before needing them) are never looked at.
    # d<i>, each fact's record once built, start as None: defaults after the facts, which the call fills
    # from a tuple, without a statement (the decision passes at most the facts).
    records = "".join(f", d{i}=None" for i in range(len(read)))
    head = f"def _x{index}(upto, event{''.join(f', {r}=None' for r in read)}{records}):"
    return tuple(gen.slots), "\n".join([head, *explain])


def compile_sections(policy: n.Policy, general: Run) -> dict[str, CompiledSection]:
    """One CompiledSection per event; the first section wins if the checker let a duplicate through.

    The `run` of the section for the default event is the policy's whole decide(): it hands every
    other event, and facts that are not a dict, to `general`, which calls a section's `run` with
    `checked` true.
    """
    gen = Generator()
    written = [_write_section(gen, i, section) for i, section in enumerate(policy.sections)]
    code = compile("\n".join(gen.lines), "<policy>", "exec")
    namespace = dict(gen.namespace, _Decision=Decision, _make=tuple.__new__, _general=general)
    for s_index, (_, source) in enumerate(written):
        namespace[f"_x{s_index}"] = LazyExplain(source, namespace, f"_x{s_index}")
        namespace[f"_keep{s_index}"] = SharedEntries(SHARED_ENTRIES).keep
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
            namespace[f"_x{s_index}"],
            written[s_index][0],
            rules,
            otherwise,
        )
        result.setdefault(section.event.key, compiled)
    return result
