"""Runs the examples written inside a policy (`example "NAME": FIELD = VALUE, ... -> ACTIONS`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import nodes as n
from .compiler import action_of, literal_value
from .decision import Action, actions_text
from .diagnostics import Diagnostic, Reporter
from .explain import expand
from .policy import CompiledPolicy, compile_policy
from .vocabulary import DEFAULT_EVENT


@dataclass(frozen=True)
class ExampleResult:
    name: str
    line: int
    passed: bool
    expected: list[Action]
    got: list[Action]
    explanation: dict[str, Any]
    event: str = DEFAULT_EVENT
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "line": self.line,
            "passed": self.passed,
            "event": self.event,
            "expected": [a.to_dict() for a in self.expected],
            "got": [a.to_dict() for a in self.got],
            "explanation": self.explanation,
        }


def example_facts(example: n.Example) -> dict[str, Any]:
    """The example's facts as nested objects, as a case would arrive."""
    facts: dict[str, Any] = {}
    for fact in example.facts:
        *parents, last = fact.field.split(".")
        node = facts
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = literal_value(fact.value)
    return facts


def _event(example: n.Example) -> str:
    return example.event.key if example.event is not None else DEFAULT_EVENT


def run_examples(policy: str | CompiledPolicy) -> list[ExampleResult]:
    """Decide every example of the policy and compare with what it expects."""
    compiled = policy if isinstance(policy, CompiledPolicy) else compile_policy(policy, examples=False)
    results = []
    for example in compiled.examples:
        event = _event(example)
        decision = compiled.decide(example_facts(example), event)
        expected = [action_of(a) for a in example.expected]
        results.append(
            ExampleResult(
                example.name,
                example.line,
                decision.actions == expected,
                expected,
                list(decision.actions),
                expand(decision.explanation),
                event,
                decision.explain_text(),
            )
        )
    return results


def example_diagnostics(compiled: CompiledPolicy, report: Reporter) -> list[Diagnostic]:
    """Report each failing example at its line, with the explanation of what the policy did."""
    failures = []
    by_line = {e.line: e for e in compiled.examples}
    for result in run_examples(compiled):
        if result.passed:
            continue
        example = by_line[result.line]
        got = actions_text(result.got)
        ref = result.explanation.get("rule")
        got += f" (line {ref['line']})" if ref else " (no rule applied)"
        failures.append(
            report.add(
                example.line,
                example.column,
                "example.failed",
                detail=result.text,
                name=result.name,
                expected=actions_text(result.expected),
                got=got,
            )
        )
    return failures
