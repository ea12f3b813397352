"""Macros: a named list of actions, written as in the policy language, that an agent applies in one click.

`request_evidence "photo"` asks for photos, tells the buyer and pauses the clocks that wait for the
buyer; `approve_return, notify "return_approved"` approves and sends the instructions. A macro is all or
nothing: when one step is not possible for the case, nothing changes and the agent is told which step.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from portal.domain import lifecycle
from portal.domain.conversations import templates
from portal.domain.lifecycle import N_, Actor, LifecycleError
from portal.domain.models import Case, Macro, User
from portal.domain.types import utcnow

MAX_ACTIONS_TEXT = 1000
MAX_STEPS = 10
# Which lifecycle operation each action needs; `notify` needs a true template instead.
OPERATION = {
    "approve_return": "approve_return",
    "refund_without_return": "refund_without_return",
    "refund": "refund",
    "pre_refund": "pre_refund",
    "partial_refund": "partial_refund",
    "coupon": "coupon",
    "exchange": "exchange",
    "reject": "reject",
    "request_evidence": "request_evidence",
    "assign": "assign",
    "set_deadline": "set_deadline",
    "escalate": "escalate",
    "hold": "hold",
}


@dataclass(frozen=True)
class MacroProblem:
    line: int
    column: int
    message: str
    # The policy checker's message code and params (rules.messages.render gives it in Chinese), or one of
    # the macro's own codes ("macro.empty", "macro.too_long", "macro.too_many", "macro.unknown_message").
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def parse(text: str) -> list[rules.Action]:
    """The actions of a macro text; raises MacroError with every problem, as the policy checker words it."""
    text = " ".join(text.split())
    if not text:
        example = 'Write at least one action, such as request_evidence "photo".'
        raise MacroError([MacroProblem(1, 1, example, "macro.empty")])
    if len(text) > MAX_ACTIONS_TEXT:
        raise MacroError([MacroProblem(1, MAX_ACTIONS_TEXT, "A macro is at most 1000 characters.",
                                       "macro.too_long", {"limit": MAX_ACTIONS_TEXT})])
    prefix = "if true then "
    try:
        compiled = rules.compile_policy(prefix + text)
    except rules.PolicyError as error:
        problems = [
            MacroProblem(1, max(1, d.column - len(prefix)), d.message, d.code, dict(d.params))
            for d in error.errors
            if getattr(d, "severity", "error") == "error"
        ]
        raise MacroError(problems) from None
    decision = compiled.decide({})
    actions = list(decision.actions)
    if len(actions) > MAX_STEPS:
        raise MacroError([MacroProblem(1, 1, f"A macro has at most {MAX_STEPS} actions.", "macro.too_many",
                                       {"limit": MAX_STEPS})])
    for action in actions:
        if action.name == "notify" and templates.resolve_name(str(action.args[0])) is None:
            raise MacroError([_unknown_message(text, str(action.args[0]))])
    return actions


def _unknown_message(text: str, name: str) -> MacroProblem:
    """`notify` names no template: point at the name, with the closest one when it looks like a typo."""
    names = templates.purpose_names()
    found = text.find(f'"{name}"')
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    params = {"name": name, "names": ", ".join(names), "suggestion": close[0] if close else ""}
    message = f"There is no message called “{name}”; choose one of {params['names']}."
    if close:
        message = f"There is no message called “{name}”; did you mean “{close[0]}”?"
    return MacroProblem(1, found + 1 if found >= 0 else 1, message, "macro.unknown_message", params)


class MacroError(ValueError):
    def __init__(self, problems: list[MacroProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def active(session: Session) -> list[Macro]:
    query = select(Macro).where(Macro.active.is_(True)).order_by(Macro.position, Macro.name)
    return list(session.scalars(query))


def offered(session: Session, case: Case) -> list[Macro]:
    """The macros whose first step is possible for the case as it is now."""
    found = []
    for macro in active(session):
        try:
            steps = parse(macro.actions)
        except MacroError:
            continue
        if steps and _possible(session, case, steps[0]):
            found.append(macro)
    return found


def _possible(session: Session, case: Case, action: rules.Action) -> bool:
    if action.name == "notify":
        try:
            templates.render(session, case, str(action.args[0]))
        except templates.TemplateError:
            return False
        return True
    operation = OPERATION.get(action.name)
    return operation is None or lifecycle.allowed(case, operation)


def apply(session: Session, case: Case, macro: Macro, actor: Actor) -> list[str]:
    """Apply every step of the macro or none; returns the names of the steps applied."""
    from portal.domain.events import APPLIERS

    try:
        steps = parse(macro.actions)
    except MacroError as error:
        raise LifecycleError(N_("The macro “%(name)s” is not valid: %(problem)s"), name=macro.name,
                             problem=str(error)) from None
    done: list[str] = []
    with session.begin_nested():
        lifecycle.record(session, case, actor, "macro_applied", {"macro": macro.name})
        for step in steps:
            if step.name == "notify":
                # Policies may notify in any state; an agent's macro only sends what is true.
                templates.render(session, case, str(step.args[0]))
            elif step.name in OPERATION and not lifecycle.allowed(case, OPERATION[step.name]):
                raise LifecycleError(
                    N_("The macro stopped at “%(step)s”: not possible for this case now. Nothing changed."),
                    step=step.name,
                )
            APPLIERS[step.name](session, case, actor, list(step.args))
            done.append(step.name)
    return done


def save(
    session: Session,
    name: str,
    actions: str,
    author: User | None,
    description: str = "",
    macro: Macro | None = None,
) -> Macro:
    """Create or change a macro after checking its actions."""
    name = " ".join(name.split())[:80]
    if not name:
        raise MacroError([MacroProblem(1, 1, "Give the macro a name.", "macro.no_name")])
    parse(actions)
    existing = session.scalar(select(Macro).where(Macro.name == name))
    if existing is not None and existing is not macro:
        raise MacroError([MacroProblem(1, 1, f"There is already a macro called “{name}”.", "macro.name_taken",
                                       {"name": name})])
    if macro is None:
        macro = Macro(name=name, actions=actions.strip(), created_by_id=author.id if author else None,
                      created_at=utcnow())
        session.add(macro)
    macro.name = name
    macro.actions = " ".join(actions.split())
    macro.description = description.strip()[:200] or None
    return macro


def describe(macro: Macro) -> list[dict[str, Any]]:
    """The steps as name and arguments, for showing a macro."""
    try:
        return [{"name": a.name, "args": list(a.args)} for a in parse(macro.actions)]
    except MacroError:
        return []
