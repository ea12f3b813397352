"""Case events run the published policy; its decision is applied through the operations agents use too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

import rules
from portal.domain import batch, deadline_rules, policy_engine
from portal.domain import operations as ops
from portal.domain.enums import RETURN_CASE_TYPES, CaseStatus, CaseType, DeadlineKind
from portal.domain.lifecycle import Actor, LifecycleError, move, record
from portal.domain.models import Case, Deadline, Decision
from portal.domain.types import utcnow

EVENTS = (
    "case_opened",
    "case_updated",
    "evidence_added",
    "return_shipped",
    "return_received",
    "inspection_done",
    "delivery_failed",
    "tracking_stale",
    "dispute_opened",
    "buyer_replied",
)

Applier = Callable[[Session, Case, Actor, list[Any]], object]


def _percent_or_amount(arg: Any) -> dict[str, Any]:
    if isinstance(arg, rules.Percent):
        return {"percent": Decimal(str(arg.value))}
    return {"amount": Decimal(str(arg))}


# The policy's actions, each carried out by the operation an agent would use.
APPLIERS: dict[str, Applier] = {
    "approve_return": lambda s, c, a, args: ops.approve_return(s, c, a),
    "refund_without_return": lambda s, c, a, args: ops.full_refund(s, c, a, "refund_without_return"),
    "refund": lambda s, c, a, args: ops.full_refund(s, c, a, "refund"),
    "pre_refund": lambda s, c, a, args: ops.full_refund(s, c, a, "pre_refund"),
    "partial_refund": lambda s, c, a, args: ops.partial_refund(s, c, a, **_percent_or_amount(args[0])),
    "coupon": lambda s, c, a, args: ops.coupon(s, c, a, Decimal(str(args[0]))),
    "exchange": lambda s, c, a, args: ops.exchange(s, c, a),
    "reject": lambda s, c, a, args: ops.reject(s, c, a, str(args[0])),
    "request_evidence": lambda s, c, a, args: ops.request_evidence(s, c, a, str(args[0])),
    "assign": lambda s, c, a, args: ops.assign_queue(s, c, a, str(args[0])),
    "set_deadline": lambda s, c, a, args: ops.set_deadline(s, c, a, str(args[0]), int(args[1].seconds)),
    "notify": lambda s, c, a, args: ops.queue_message(s, c, str(args[0]), a),
    "escalate": lambda s, c, a, args: ops.escalate(s, c, a),
    "hold": lambda s, c, a, args: ops.hold(s, c, a),
    "manual_review": lambda s, c, a, args: _manual_review(s, c, a),
}


def _manual_review(session: Session, case: Case, actor: Actor) -> None:
    # A person decides: the case waits in review; nothing else changes.
    if case.status == CaseStatus.NEW:
        move(session, case, CaseStatus.IN_REVIEW, actor)


def handle_event(session: Session, case: Case, event: str, now: datetime | None = None) -> Decision | None:
    """Decide `event` for `case` with its market's published policy and apply the actions.

    A case on hold is left alone: someone paused automation on purpose.
    """
    now = now or utcnow()
    if case.on_hold:
        record(session, case, Actor.system("policy"), "automation_paused", {"event": event}, now=now)
        return None
    decision, version, facts = policy_engine.decide_with_facts(session, case, event, now)
    row = policy_engine.record_decision(session, case, event, decision, version, now, facts)
    actor = Actor.policy(version.number if version else None, row.rule_line, row.rule_name, row.id)
    record(
        session,
        case,
        actor,
        "decided",
        {"event": event, "decision_id": row.id, "actions": [a["name"] for a in row.actions]},
        now=now,
    )
    for action in decision.actions if decision else [rules.Action("manual_review", ())]:
        apply_action(session, case, actor, action.name, list(action.args))
    return row


@contextmanager
def _refusable(session: Session) -> Iterator[None]:
    """A savepoint around a step the case's state may refuse, so a refusal leaves nothing behind. None in
    an optimistic batch: there a refusal fails the batch, which runs again with savepoints."""
    if batch.optimistic(session):
        yield
        return
    with session.begin_nested():
        yield


def apply_action(session: Session, case: Case, actor: Actor, name: str, args: list[Any]) -> bool:
    """Apply one decided action; one the case's state does not allow is skipped and said so."""
    applier = APPLIERS.get(name)
    if applier is None:
        record(session, case, actor, "action_skipped", {"action": name, "reason": "unknown action"})
        return False
    try:
        with _refusable(session):
            applier(session, case, actor, args)
    except LifecycleError as error:
        record(session, case, actor, "action_skipped", {"action": name, "reason": str(error)})
        return False
    return True


def open_case(session: Session, case: Case, actor: Actor, now: datetime | None = None) -> Decision | None:
    """A new case arrives: record it and let the policy decide what happens first."""
    now = now or utcnow()
    session.add(case)
    session.flush()
    record(
        session, case, actor, "case_opened", {"type": case.type.value, "reason": case.reason.value}, now=now
    )
    deadline_rules.status_changed(session, case, None, case.status, now)
    return handle_event(session, case, "case_opened", now)


def _lapse(session: Session, case: Case, actor: Actor) -> None:
    record(session, case, actor, "request_lapsed", {})
    ops.resolve(session, case, actor)


def _platform_receives(session: Session, case: Case, actor: Actor) -> None:
    ops.mark_return_received(session, case, actor)
    if case.type == CaseType.RETURN_AND_REFUND:
        ops.full_refund(session, case, actor)


# What the marketplace (or the portal, for agent targets) does when a deadline runs out and the
# policy has no `deadline "NAME"` section for it; keys are DeadlineRule.on_expiry.
EXPIRY_DEFAULTS: dict[str, Callable[[Session, Case, Actor], object]] = {
    "platform_approves": lambda s, c, a: (
        ops.approve_return(s, c, a) if c.type in RETURN_CASE_TYPES
        else ops.full_refund(s, c, a)
    ),
    "back_to_review": lambda s, c, a: ops.start_review(s, c, a),
    "request_lapses": _lapse,
    "platform_receives": _platform_receives,
    "platform_refunds": lambda s, c, a: ops.full_refund(s, c, a),
    "escalate": lambda s, c, a: ops.escalate(s, c, a),
}


def deadline_effect(session: Session, deadline: Deadline, now: datetime) -> None:
    """When a deadline runs out: it shows on the case; the policy's `deadline "NAME"` section decides,
    or without one the platform's default for that deadline applies."""
    from portal.domain.deadlines import record_expiry

    record_expiry(session, deadline, now)
    case = session.get(Case, deadline.case_id)
    if case is None or case.status == CaseStatus.CLOSED:
        return
    rule = deadline_rules.RULES.get(deadline.name) if deadline.kind != DeadlineKind.POLICY else None
    if rule is None or policy_engine.has_section(session, case, f"deadline:{deadline.name}"):
        handle_event(session, case, f"deadline:{deadline.name}", now)
        return
    default = EXPIRY_DEFAULTS.get(rule.on_expiry)
    if default is None:
        return
    actor = Actor.system("platform" if rule.kind == DeadlineKind.PLATFORM else "scheduler")
    try:
        with _refusable(session):
            default(session, case, actor)
    except LifecycleError as error:
        details = {"action": rule.on_expiry, "reason": str(error)}
        record(session, case, actor, "action_skipped", details, now=now)
    else:
        details = {"name": deadline.name, "effect": rule.on_expiry}
        record(session, case, actor, "deadline_default", details, now=now)
