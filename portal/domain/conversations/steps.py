"""One step, one message: what an action and the policy's reaction to it tell the buyer, said once.

An agent marks a return received and the policy refunds it in the same transaction: the buyer gets
one message that says where things ended ("we have refunded …"), not "we will inspect it" followed a
second later by "we have refunded". Messages queued in one transaction for one case are combined: a
message about a later stage replaces one about an earlier stage, and unrelated ones are joined.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.domain.models import Case, Message

_KEY = "conversation_step"
# What each message makes out of date when both are written in one step.
SUPERSEDES: dict[str, set[str]] = {
    "refund_initiated": {"return_received", "inspection_passed", "evidence_requested"},
    "coupon_issued": {"evidence_requested"},
    "request_rejected": {"evidence_requested", "return_received", "inspection_passed"},
    "inspection_passed": {"return_received"},
    "return_approved": {"evidence_requested"},
    "exchange_shipped": {"return_received", "inspection_passed"},
}


def queued_in_step(session: Session, case: Case) -> Message | None:
    """The message already queued for this case in the current transaction, if any."""
    return session.info.get(_KEY, {}).get(id(case))


def remember(session: Session, case: Case, message: Message) -> None:
    session.info.setdefault(_KEY, {})[id(case)] = message


def combine(earlier: Message, purpose: str, subject: str, body: str) -> Message:
    """Fold a new template message into the one already queued in this step."""
    if earlier.template in SUPERSEDES.get(purpose, set()):
        earlier.body = body
    else:
        earlier.body = f"{earlier.body}\n\n{body}"
    earlier.subject = subject
    earlier.template = purpose
    return earlier


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)
