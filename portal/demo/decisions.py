"""What the published policy decided as each demo case opened, recorded and carried out like the portal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from portal.demo.case_ctx import Ctx
from portal.demo.policies import version_in_force
from portal.demo.world import World
from portal.domain.backtest import stored_facts
from portal.domain.conversations import templates
from portal.domain.enums import CaseType, DeadlineKind
from portal.domain.facts import case_facts
from portal.domain.models import Decision

REFUND_ACTIONS = {"refund_without_return", "refund", "pre_refund", "partial_refund", "coupon"}
# The step of a demo case that carries out each action that settles what happens next.
DECISIVE: dict[str, str] = {
    "approve_return": "approve", "exchange": "approve", "reject": "reject", "request_evidence": "ask",
    **{name: "refund" for name in REFUND_ACTIONS},
}
DECIDING_STEPS = {"ask", "approve", "refund", "reject", "hold", "close", "redeliver_request"}


def _plain(value: Any) -> Any:
    # As the portal stores explanations: whole numbers as numbers, other amounts as text.
    def default(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else str(v)
        return v.isoformat() if isinstance(v, datetime) else repr(v)

    return json.loads(json.dumps(value, default=default))


def policy_label(number: int, line: int | None, name: str | None) -> str:
    """How the portal labels the policy as an actor on the timeline."""
    where = f"line {line}" if line else "no rule"
    return f"policy v{number} {where}" + (f" “{name}”" if name else "")


def _first_deciding(c: Ctx) -> int | None:
    return next((i for i, (name, _) in enumerate(c.plan.steps) if i and name in DECIDING_STEPS), None)


def _fits(c: Ctx, names: list[str]) -> tuple[bool, int | None]:
    """Whether the case went the way the policy said, and which step the policy itself carried out.

    Agents may overrule a policy; the demo only records decisions its cases then follow.
    """
    decisive = [name for name in names if name in DECISIVE]
    if not decisive:
        return True, None
    if "exchange" in decisive and c.case.type != CaseType.EXCHANGE:
        return False, None
    index = _first_deciding(c)
    if index is None or c.plan.steps[index][0] != DECISIVE[decisive[0]]:
        return False, None
    settles = {"partial_refund", "coupon"} & set(decisive)
    if settles and "refund_done" not in {name for name, _ in c.plan.steps}:
        return False, None  # compensation settles the case at once, which this case's story does not
    return True, index


def _carry_out_now(c: Ctx, index: int) -> None:
    """The policy acted on opening: drop the agent's review and move that step to just after the decision."""
    steps, times = c.plan.steps, c.times
    c.plan.steps = [steps[0], *steps[index:]]
    c.times = [times[0], times[0] + timedelta(seconds=c.world.rng.uniform(3, 20)), *times[index + 1:]]


def decide_on_opening(world: World, c: Ctx) -> None:
    case = c.case
    found = version_in_force(world, c.spec.code, case.opened_at)
    if found is None:
        return  # opened before any policy was published
    version, compiled = found
    facts = case_facts(case, case.opened_at, world.rates)
    result = compiled.decide(facts, event="case_opened").to_dict()
    names = [action["name"] for action in result["actions"]]
    fits, index = _fits(c, names)
    if not fits:
        return
    rule = result.get("rule") or {}
    explanation = result.get("explanation")
    if not isinstance(explanation, dict):
        explanation = {"parts": explanation}
    decision = Decision(id=world.new_id(Decision), case=case, event="case_opened",
                        policy_version_id=version.id, rule_line=rule.get("line"), rule_name=rule.get("name"),
                        actions=_plain(result["actions"]), explanation=_plain(explanation),
                        facts=stored_facts.encode(facts), automated=True,
                        decided_at=c.t + timedelta(seconds=2))
    c.rows.append(decision)
    c.decision = decision
    world.counts["decisions"] += 1
    c.policy_actions = set(names)
    c.policy_label = label = policy_label(version.number, rule.get("line"), rule.get("name"))
    c.emit("decided", label, {"event": "case_opened", "decision_id": decision, "actions": names},
           at=decision.decided_at)
    for action in result["actions"]:
        _apply(c, label, action["name"], action["args"])
    if index is not None:
        _carry_out_now(c, index)


def _apply(c: Ctx, label: str, name: str, args: list[Any]) -> None:
    """The actions that do not move the case on; the deciding one runs as the case's next step."""
    case = c.case
    if name == "assign" and args:
        case.queue = str(args[0])
        c.emit("queued", label, {"queue": case.queue})
        c.agent = c.agent_for_queue(case.queue)
    elif name == "escalate":
        case.escalated, case.queue = True, "senior"
        c.emit("escalated", label, {"queue": "senior"})
    elif name == "set_deadline" and len(args) == 2 and args[0] not in c.deadlines:
        c.deadline(str(args[0]), DeadlineKind.POLICY, c.t + timedelta(seconds=args[1]["seconds"]), label)
    elif name == "notify" and args and templates.resolve_name(str(args[0])):
        c.send(str(args[0]), label)
    elif name == "partial_refund" and args:
        c.policy_share = args[0]
