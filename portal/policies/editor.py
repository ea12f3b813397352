"""What the editor shows about a policy text: findings per line, examples, and a trial decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from portal.domain.facts import case_facts
from portal.domain.models import Case
from portal.domain.policy_engine import usd_rates
from portal.domain.types import utcnow
from portal.policies.check_slots import request_budget
from portal.policies.forms import TryInput
from rules.budget import OutOfTime
from rules.decision import actions_text, json_value

ERROR = "error"


def ui_lang() -> str:
    """The checker and explanations speak English or Chinese; follow the page's language."""
    return "zh" if str(get_locale()).lower().startswith("zh") else "en"


@dataclass(frozen=True)
class Finding:
    line: int
    column: int
    severity: str
    message: str
    excerpt: str
    detail: str
    suggestion: str | None


@dataclass(frozen=True)
class ExampleOutcome:
    name: str
    line: int
    passed: bool
    expected: str
    got: str
    explanation: str


@dataclass
class Report:
    """Everything the findings panel and the line gutter need."""

    findings: list[Finding] = field(default_factory=list)
    examples: list[ExampleOutcome] = field(default_factory=list)
    line_count: int = 1

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors

    @property
    def marks(self) -> dict[int, tuple[str, str]]:
        """Per line, the worst severity found on it and the first message, for the gutter."""
        out: dict[int, tuple[str, str]] = {}
        for finding in self.findings:
            if finding.line not in out or (finding.severity == ERROR and out[finding.line][0] != ERROR):
                out[finding.line] = (finding.severity, finding.message)
        return out


def check_text(text: str, lang: str) -> Report:
    """Check the text and run its examples; nothing about the text can make this raise."""
    report = Report(line_count=max(1, text.count("\n") + 1))
    budget = request_budget()
    diagnostics = rules.check(text, budget)
    for d in diagnostics:
        report.findings.append(Finding(d.line, d.column, d.severity, d.render(lang), d.excerpt,
                                       d.detail if d.code != "example.failed" else "", d.suggestion))
    if report.errors and not any(d.code == "example.failed" for d in diagnostics):
        # The examples cannot run while the rules themselves have errors.
        return report
    try:
        policy = rules.compile_policy(text, examples=False, budget=budget)
    except (rules.PolicyError, OutOfTime):
        return report
    for result in rules.run_examples(policy):
        decision = rules.Decision(result.event, result.got, None, partial(_explanation, result))
        report.examples.append(ExampleOutcome(result.name, result.line, result.passed,
                                              actions_text(result.expected),
                                              actions_text(result.got),
                                              decision.explain_text(lang)))
    return report


@dataclass
class TryOutcome:
    actions: str = ""
    rule_line: int | None = None
    rule_name: str | None = None
    explanation: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # "invalid", "no_case" or "bad_input"
    case_number: str = ""


def try_decision(session: Session, text: str, given: TryInput, lang: str) -> TryOutcome:
    """Decide the described case (or a real one, as it stands now) with the text in the editor."""
    outcome = TryOutcome(case_number=given.case_number)
    if given.errors:
        outcome.problem = "bad_input"
        return outcome
    try:
        policy = rules.compile_policy(text, examples=False, budget=request_budget())
    except (rules.PolicyError, OutOfTime):
        outcome.problem = "invalid"
        return outcome
    facts = given.facts
    if given.case_number:
        case = session.scalar(select(Case).where(Case.number == given.case_number))
        if case is None:
            outcome.problem = "no_case"
            return outcome
        facts = case_facts(case, utcnow(), usd_rates(session))
    decision = policy.decide(facts, given.event)
    outcome.actions = actions_text(decision.actions)
    if decision.rule is not None:
        outcome.rule_line, outcome.rule_name = decision.rule.line, decision.rule.name
    outcome.explanation = decision.explain_text(lang)
    outcome.facts = json_value(facts)
    return outcome


def _explanation(result: rules.ExampleResult) -> dict[str, Any]:
    return result.explanation
