"""The case lifecycle: which operations each case type allows in each status, and the guard they share.

Agents and the policy use the same operations (portal.domain.operations), so nobody can do by hand
what the state does not allow, and the policy cannot either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from portal.domain import audit, deadline_rules
from portal.domain.enums import DECIDING_STATUSES, OPEN_STATUSES, RETURN_CASE_TYPES
from portal.domain.enums import CaseStatus as S
from portal.domain.enums import CaseType as T
from portal.domain.models import Case, CaseEvent, User
from portal.domain.types import N_, utcnow


class LifecycleError(Exception):
    """A refused operation, with a message the user can act on (English, translated by the web layer)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


class ConflictError(LifecycleError):
    """The case changed since the user loaded it."""

    def __init__(self, case: Case, changed_by: str, changed_at: datetime) -> None:
        super().__init__(
            N_("Changed by %(who)s at %(when)s while you were working on it."),
            who=changed_by,
            when=changed_at.isoformat(timespec="seconds"),
        )
        self.case = case
        self.changed_by = changed_by
        self.changed_at = changed_at


@dataclass(frozen=True)
class Actor:
    """Who does something: a person, the policy (with its rule), the scheduler or the marketplace."""

    label: str
    user: User | None = None
    decision_id: int | None = None

    @classmethod
    def person(cls, user: User) -> Actor:
        return cls(label=user.email, user=user)

    @classmethod
    def policy(
        cls, version_number: int | None, rule_line: int | None, rule_name: str | None, decision_id: int | None
    ) -> Actor:
        where = f"line {rule_line}" if rule_line else "no rule"
        name = f" “{rule_name}”" if rule_name else ""
        version = f"v{version_number} " if version_number else ""
        return cls(label=f"policy {version}{where}{name}", decision_id=decision_id)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(label=label)


DECIDING = set(DECIDING_STATUSES)
OPEN = set(OPEN_STATUSES)
RETURNING = {S.RETURN_APPROVED, S.RETURN_IN_TRANSIT}
ARRIVED = {S.RETURN_RECEIVED, S.INSPECTED}
RETURN_TYPES = set(RETURN_CASE_TYPES)

# For each operation: the case types it applies to and the statuses it may start from.
ALLOWED: dict[str, tuple[set[T], set[S]]] = {
    "start_review": (set(T), {S.NEW, S.AWAITING_BUYER}),
    "approve_return": (RETURN_TYPES, DECIDING),
    "mark_return_shipped": (RETURN_TYPES, {S.RETURN_APPROVED}),
    "mark_return_received": (RETURN_TYPES, RETURNING),
    "record_inspection": (RETURN_TYPES, {S.RETURN_RECEIVED}),
    "refund": (set(T) - {T.EXCHANGE}, DECIDING | ARRIVED | {S.DISPUTE_OPEN, S.REDELIVERY_REQUESTED}),
    "refund_without_return": (
        {T.REFUND_ONLY, T.RETURN_AND_REFUND, T.NOT_RECEIVED, T.DELIVERY_FAILED, T.DISPUTE, T.EXCHANGE},
        DECIDING | {S.DISPUTE_OPEN},
    ),
    "pre_refund": ({T.RETURN_AND_REFUND}, DECIDING | RETURNING),
    "partial_refund": (set(T), DECIDING | ARRIVED | {S.DISPUTE_OPEN}),
    "coupon": (set(T), OPEN - {S.ON_HOLD}),
    "confirm_refund": (set(T), {S.REFUND_PENDING}),
    "exchange": ({T.EXCHANGE, T.RETURN_AND_REFUND}, DECIDING | ARRIVED),
    "ship_exchange": ({T.EXCHANGE, T.RETURN_AND_REFUND}, ARRIVED),
    "reject": (set(T), DECIDING | ARRIVED | {S.DISPUTE_OPEN, S.REDELIVERY_REQUESTED}),
    "request_evidence": (set(T), DECIDING | ARRIVED | {S.DISPUTE_OPEN}),
    "request_redelivery": ({T.DELIVERY_FAILED, T.NOT_RECEIVED}, DECIDING),
    "open_dispute": (set(T), OPEN | {S.RESOLVED, S.REJECTED}),
    "respond_dispute": (set(T), {S.DISPUTE_OPEN}),
    "resolve": (set(T), OPEN - {S.ON_HOLD}),
    "close": (set(T), {S.RESOLVED, S.REJECTED}),
    "hold": (set(T), OPEN - {S.ON_HOLD}),
    "release": (set(T), {S.ON_HOLD}),
    "escalate": (set(T), OPEN),
    "assign": (set(T), OPEN),
    "assign_to": (set(T), OPEN),
    "set_deadline": (set(T), OPEN),
    "notify": (set(T), set(S)),
    "manual_review": (set(T), OPEN),
    "add_note": (set(T), set(S)),
    "add_tag": (set(T), set(S)),
    "reply": (set(T), set(S)),
    "add_evidence": (set(T), set(S)),
}

MANUAL_OPERATIONS = [
    "start_review",
    "approve_return",
    "mark_return_shipped",
    "mark_return_received",
    "record_inspection",
    "refund",
    "refund_without_return",
    "pre_refund",
    "partial_refund",
    "coupon",
    "confirm_refund",
    "exchange",
    "ship_exchange",
    "request_evidence",
    "request_redelivery",
    "respond_dispute",
    "reject",
    "resolve",
    "close",
    "hold",
    "release",
    "escalate",
]


def allowed(case: Case, operation: str) -> bool:
    types, statuses = ALLOWED[operation]
    return case.type in types and case.status in statuses


def require(case: Case, operation: str) -> None:
    if not allowed(case, operation):
        raise LifecycleError(
            N_("“%(operation)s” is not possible for a %(type)s case in status %(status)s."),
            operation=operation,
            type=case.type.value,
            status=case.status.value,
        )


def available(case: Case, operations: Iterable[str] = MANUAL_OPERATIONS) -> list[str]:
    """The operations valid now, in the order the case page offers them."""
    return [op for op in operations if allowed(case, op)]


def check_version(case: Case, expected_version: int | None) -> None:
    """Refuse to act on a case that changed since the user loaded it."""
    if expected_version is not None and case.version != expected_version:
        last = case.events[-1] if case.events else None
        raise ConflictError(case, last.actor_label if last else "someone", case.updated_at)


def record(
    session: Session,
    case: Case,
    actor: Actor,
    kind: str,
    data: dict[str, Any] | None = None,
    audit_action: str | None = None,
    now: datetime | None = None,
) -> CaseEvent:
    """One line on the timeline, and the matching audit entry.

    Touching `updated_at` makes every change, even a note, a new version of the case, so an agent
    working from an older copy is told about it.
    """
    now = now or utcnow()
    event = CaseEvent(
        case=case,
        kind=kind,
        data=audit.canonical_details(data or {}),
        actor_label=actor.label,
        actor_id=actor.user.id if actor.user else None,
        occurred_at=now,
    )
    session.add(event)
    # What one step did, for the person who took it (see portal.cases.summary); only when asked.
    step = session.info.get("step_events")
    if step is not None:
        step.append(event)
    case.updated_at = now
    audit.record_many(session, [audit_entry(case.number, actor, kind, data, audit_action)])
    return event


def audit_entry(
    number: str,
    actor: Actor,
    kind: str,
    data: dict[str, Any] | None = None,
    audit_action: str | None = None,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The audit entry of one timeline line of case `number` (`occurred_at`: when it happened, if not now)."""
    return audit.entry(
        audit_action or f"case.{kind}",
        "case",
        number,
        {"kind": kind, **(data or {})},
        actor=actor.user,
        actor_label=None if actor.user else actor.label,
        occurred_at=occurred_at,
    )


def move(session: Session, case: Case, to: S, actor: Actor, now: datetime | None = None) -> None:
    """Change the status and say so on the timeline."""
    if case.status == to:
        return
    before = case.status
    case.status = to
    now = now or utcnow()
    if to in {S.RESOLVED, S.REJECTED} and case.resolved_at is None:
        case.resolved_at = now
    elif to in OPEN:
        case.resolved_at = None  # reopened, for instance by a dispute
    record(session, case, actor, "status_changed", {"from": before.value, "to": to.value}, now=now)
    deadline_rules.status_changed(session, case, before, to, now)
