"""Assembles a policy from its statements: header, sections, rule names, examples and the rule limits."""

from __future__ import annotations

from . import nodes as n
from .budget import UNBOUNDED, Budget
from .diagnostics import Reporter
from .limits import MAX_EXAMPLES, MAX_RULES, MAX_SOURCE_BYTES
from .scanner import Statement, split_statements
from .syntax import parse_statement
from .transform import ToNodes


def read_policy(source: str, report: Reporter, budget: Budget = UNBOUNDED) -> n.Policy:
    """Parse every statement, report what is broken, and assemble what could be read into sections."""
    size = len(source.encode("utf-8", errors="replace"))
    if size > MAX_SOURCE_BYTES:
        report.add(1, 1, "limit.size", size=(size + 1023) // 1024, limit=MAX_SOURCE_BYTES // 1024)
        return n.Policy(None, None, (), ())
    lines = source.splitlines()
    builder = ToNodes()
    statements = split_statements(lines)
    header: n.Header | None = None
    pending: n.RuleName | None = None
    sections: list[tuple[n.EventRef, n.SectionHeader | None, list[n.Rule | n.Else]]] = []
    current: list[n.Rule | n.Else] | None = None
    examples: list[n.Example] = []
    rules = 0
    for index, st in enumerate(statements):
        budget.spend()
        node = parse_statement(st, lines, report, builder)
        if pending is not None and not isinstance(node, n.Rule) and node is not None:
            report.error(pending, "syntax.lone_rule_name")
        if node is None:
            pending = None
            continue
        if isinstance(node, n.RuleName):
            if pending is not None:
                report.error(pending, "syntax.lone_rule_name")
            pending = node
            continue
        if isinstance(node, n.Header):
            if index == 0:
                header = node
            else:
                report.error(node, "syntax.header_not_first")
        elif isinstance(node, n.SectionHeader):
            current = []
            sections.append((node.event, node, current))
        elif isinstance(node, n.Example):
            if len(examples) == MAX_EXAMPLES:
                report.error(
                    node,
                    "limit.examples",
                    count=sum(isinstance(s, n.Example) for s in _rest(statements)),
                    limit=MAX_EXAMPLES,
                )
            if len(examples) < MAX_EXAMPLES:
                # Without `on EVENT` an example tests case_opened wherever it is written: examples
                # usually sit together at the end of a policy, after the last section.
                examples.append(node)
        else:
            if isinstance(node, n.Rule):
                rules += 1
                if rules == MAX_RULES + 1:
                    report.error(node, "limit.rules", count=_count_rules(statements), limit=MAX_RULES)
                if rules > MAX_RULES:
                    continue
                if pending is not None:
                    if node.name is None:
                        node = n.Rule(
                            pending.line, pending.column, pending.name, node.condition, node.actions
                        )
                    else:
                        report.error(pending, "syntax.lone_rule_name")
            if current is None:
                current = []
                sections.append((n.EventRef(node.line, node.column, "case_opened"), None, current))
            current.append(node)
        pending = None
    if pending is not None:
        report.error(pending, "syntax.lone_rule_name")
    built = tuple(
        n.Section(
            event=event,
            header=head,
            rules=tuple(x for x in body if isinstance(x, n.Rule)),
            elses=tuple(x for x in body if isinstance(x, n.Else)),
            order=tuple(body),
        )
        for event, head, body in sections
    )
    return n.Policy(header.name if header else None, header, built, tuple(examples))


def _rest(statements: list[Statement]) -> list[Statement]:
    return [s for s in statements if s.first_word == "example"]


def _count_rules(statements: list[Statement]) -> int:
    return sum(1 for s in statements if s.first_word in ("if", "rule"))
