"""The entry points: check a policy's text, compile it, and decide cases with it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from . import nodes as n
from .budget import UNBOUNDED, Budget, OutOfTime
from .checker import check_policy
from .compiler import MANUAL, CompiledSection, compile_sections
from .decision import Decision
from .diagnostics import ERROR, WARNING, Diagnostic, PolicyError, Reporter
from .explain import no_section
from .messages import render
from .reader import read_policy
from .vocabulary import DEFAULT_EVENT

_EVENT_CACHE = 256


def analyse(text: Any, budget: Budget = UNBOUNDED) -> tuple[n.Policy, Reporter]:
    """Parse and check; every problem lands in the reporter. OutOfTime escapes when `budget` runs out."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            report = Reporter("")
            report.add(1, 1, "limit.encoding")
            return n.Policy(None, None, (), ()), report
    if not isinstance(text, str):
        report = Reporter("")
        report.add(1, 1, "limit.encoding")
        return n.Policy(None, None, (), ()), report
    text = text.removeprefix("\ufeff")
    report = Reporter(text)
    policy = read_policy(text, report, budget)
    check_policy(policy, report, budget)
    return policy, report


def section_key(event: str) -> str:
    """`deadline:NAME` and `deadline "NAME"` both name the deadline section."""
    event = event.strip()
    if event.startswith("deadline:"):
        return "deadline:" + event[len("deadline:") :].strip().strip('"')
    if event.startswith("deadline ") and event.endswith('"'):
        return "deadline:" + event[len("deadline ") :].strip().strip('"')
    return event


class CompiledPolicy:
    """A checked policy turned into Python; decide() is safe to call from many threads."""

    # decide(facts, event="case_opened") -> Decision: the decision for a case with these facts; missing
    # or odd facts never raise. For the default event and a dict of facts it is the compiled section
    # itself, so that deciding costs one call; anything else goes through `_decide`.
    decide: Callable[..., Decision]

    def __init__(self, policy: n.Policy, text: str, warnings: list[Diagnostic]) -> None:
        self.name: str | None = policy.name
        self.ast = policy
        self.warnings = warnings
        self.source_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._sections: dict[str, CompiledSection] = compile_sections(policy, self._decide)
        # The section for each event name as callers spell it, so decide() skips section_key().
        self._by_event: dict[str, CompiledSection | None] = {}
        self.sections: tuple[str, ...] = tuple(self._sections)
        self.examples: tuple[n.Example, ...] = policy.examples
        default = self._sections.get(DEFAULT_EVENT)
        self.decide = default.run if default is not None else self._decide

    def _decide(self, facts: Mapping[str, Any] | None, event: str = DEFAULT_EVENT) -> Decision:
        """decide() for any event and any mapping (or None) of facts."""
        if facts is None:
            facts = {}
        elif type(facts) is not dict and not isinstance(facts, Mapping):
            raise TypeError("facts must be a mapping (a dict of case facts)")
        try:
            section = self._by_event[event]
        except KeyError:
            section = self._sections.get(section_key(event))
            if len(self._by_event) < _EVENT_CACHE:
                self._by_event[event] = section
        if section is None:
            return Decision(event, list(MANUAL), None, no_section, (event,))
        return section.run(facts, event, True)

    def __repr__(self) -> str:
        return f"CompiledPolicy(name={self.name!r}, sections={self.sections!r})"


def compile_policy(text: str, *, examples: bool = True, budget: Budget = UNBOUNDED) -> CompiledPolicy:
    """Check and compile; raises PolicyError listing every error (failing examples too, with `examples`).

    OutOfTime escapes when `budget` runs out while checking.
    """
    policy, report = analyse(text, budget)
    errors = [d for d in report.sorted() if d.severity == ERROR]
    warnings = [d for d in report.sorted() if d.severity == WARNING]
    if errors:
        raise PolicyError(errors, warnings)
    compiled = CompiledPolicy(policy, text if isinstance(text, str) else "", warnings)
    if examples and compiled.examples:
        from .examples import example_diagnostics

        failures = example_diagnostics(compiled, report)
        if failures:
            raise PolicyError(failures, warnings)
    return compiled


def check(text: str, budget: Budget = UNBOUNDED) -> list[Diagnostic]:
    """Every error and warning in the policy, examples included, sorted by position; never raises.

    When `budget` runs out (or is cancelled) the answer is one error saying so: a half-checked policy
    must not look clean.
    """
    try:
        policy, report = analyse(text, budget)
        if report.error_count() == 0 and policy.examples:
            from .examples import example_diagnostics

            example_diagnostics(CompiledPolicy(policy, text, []), report)
        return report.sorted()
    except OutOfTime as stop:
        code = "limit.cancelled" if stop.cancelled else "limit.time"
        params = {} if stop.cancelled else {"limit": f"{stop.seconds:g}"}
        return [Diagnostic(1, 1, render(code, params), code=code, params=params)]
    except RecursionError:
        # The limits are meant to make this impossible; if one is missed, still answer with a sentence.
        return [
            Diagnostic(
                1, 1, "the policy is nested too deeply to read", code="limit.depth", params={"limit": 32}
            )
        ]
