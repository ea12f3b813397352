"""What one step changed, in a sentence for the person who took it.

For example "Assigned to Lin · Refund of $20.00 sent · Status: Resolved".
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from portal.actor_labels import actor_label
from portal.domain.models import CaseEvent
from portal.i18n import format_money
from portal.labels import action_label, label, purpose_label


def _refund(event: CaseEvent) -> str:
    d = event.data
    amount = format_money(Decimal(str(d.get("amount"))), str(d.get("currency")))
    if d.get("kind") == "coupon":
        if event.actor_id is None:
            return _("Coupon of %(amount)s by %(who)s", amount=amount, who=actor_label(event.actor_label))
        return _("Coupon of %(amount)s issued", amount=amount)
    if event.actor_id is None:
        return _("Refunded %(amount)s by %(who)s", amount=amount, who=actor_label(event.actor_label))
    return _("Refund of %(amount)s sent", amount=amount)


def _assigned(d: dict[str, Any]) -> str:
    return _("Assigned to %(who)s", who=d["to"]) if d.get("to") else _("Unassigned")


# One phrase per kind of timeline line worth telling; the timeline says the same things.
PHRASES: dict[str, Callable[[CaseEvent], str]] = {
    "assigned": lambda e: _assigned(e.data),
    "queued": lambda e: _("Moved to queue %(queue)s", queue=e.data.get("queue")),
    "refund_issued": _refund,
    "return_approved": lambda e: _("Return approved, RMA %(rma)s", rma=e.data.get("rma")),
    "return_shipped": lambda e: _("Buyer shipped the return"),
    "return_received": lambda e: _("Return received at the warehouse"),
    "inspection_done": lambda e: _("Inspection done: %(result)s", result=label(e.data.get("result"))),
    "rejected": lambda e: _("Rejected: %(reason)s", reason=e.data.get("reason")),
    "evidence_requested": lambda e: _("Asked the buyer for a %(kind)s", kind=label(e.data.get("kind"))),
    "evidence_added": lambda e: _("Evidence added: %(kind)s", kind=label(e.data.get("kind"))),
    "exchange_promised": lambda e: _("Replacement promised: %(sku)s", sku=e.data.get("sku")),
    "exchange_shipped": lambda e: _(
        "Replacement shipped: %(carrier)s %(tracking)s",
        carrier=e.data.get("carrier"),
        tracking=e.data.get("tracking"),
    ),
    "escalated": lambda e: _("Escalated to the senior queue"),
    "dispute_responded": lambda e: _("Dispute answered"),
    "note": lambda e: _("Note added."),
    "tagged": lambda e: _("Tagged %(tag)s", tag=e.data.get("tag")),
    "action_skipped": lambda e: _(
        "Skipped %(action)s: %(reason)s",
        action=action_label(e.data.get("action")),
        reason=e.data.get("reason"),
    ),
    "macro_applied": lambda e: _("Macro “%(name)s” applied", name=e.data.get("macro")),
    "message_retried": lambda e: _("The message will be sent again."),
}


def what_moved(events: list[CaseEvent], fallback: str) -> str:
    """The step's timeline lines as one sentence; `fallback` when nothing worth saying happened."""
    parts: list[str] = []
    for event in events:
        if event.kind == "status_changed" and event.data.get("to"):
            parts.append(_("Status: %(status)s", status=label(event.data["to"])))
        elif event.kind in PHRASES:
            parts.append(PHRASES[event.kind](event))
    messages = [e.data.get("template") for e in events if e.kind == "message_queued"]
    if messages:
        # The step's messages reach the buyer as one; name where it ended.
        parts.append(_("Buyer will get one message: %(what)s", what=purpose_label(messages[-1])))
    if not parts:
        return fallback
    return " · ".join(dict.fromkeys(parts))
