"""What one step changed, in a sentence for the person who took it.

For example "Status: Refund pending · Refunded £39.98 by policy v2 line 62".
"""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _

from portal.domain.models import CaseEvent
from portal.i18n import format_money
from portal.labels import label, purpose_label


def _by(event: CaseEvent) -> str:
    return _("you") if event.actor_id is not None else event.actor_label


def what_moved(events: list[CaseEvent], fallback: str) -> str:
    """The step's timeline lines as one sentence; `fallback` when nothing worth saying happened."""
    parts: list[str] = []
    for event in events:
        d = event.data
        if event.kind == "status_changed" and d.get("to"):
            parts.append(_("Status: %(status)s", status=label(d["to"])))
        elif event.kind == "refund_issued":
            amount = format_money(Decimal(str(d.get("amount"))), str(d.get("currency")))
            if d.get("kind") == "coupon":
                parts.append(_("Coupon of %(amount)s by %(who)s", amount=amount, who=_by(event)))
            else:
                parts.append(_("Refunded %(amount)s by %(who)s", amount=amount, who=_by(event)))
        elif event.kind == "action_skipped":
            parts.append(_("Skipped %(action)s: %(reason)s", action=d.get("action"), reason=d.get("reason")))
        elif event.kind == "macro_applied":
            parts.append(_("Macro “%(name)s” applied", name=d.get("macro")))
    messages = [e.data.get("template") for e in events if e.kind == "message_queued"]
    if messages:
        # The step's messages reach the buyer as one; name where it ended.
        parts.append(_("Buyer will get one message: %(what)s", what=purpose_label(messages[-1])))
    if not parts:
        return fallback
    return " · ".join(dict.fromkeys(parts))
