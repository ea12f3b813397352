"""A case's story in time order: its own events, the parcels' checkpoints and the messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portal.domain.models import Case

# A message is one line of its own, with its delivery state and any failure; these events say it again.
MESSAGE_EVENTS = frozenset({"message_queued", "message_sent", "message_failed"})


def _shown(kind: str, data: dict[str, Any]) -> bool:
    if kind in MESSAGE_EVENTS:
        return False
    # The buyer's message has its own line; the event adds something only when it reopened the case.
    return kind != "buyer_replied" or bool(data.get("reopened"))


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    kind: str  # "event", "tracking" or "message"
    actor: str
    data: dict[str, Any] = field(default_factory=dict)
    event_kind: str = ""  # for events: what happened, e.g. "status_changed"


def build_timeline(case: Case) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(e.occurred_at, "event", e.actor_label, dict(e.data), e.kind)
        for e in case.events
        if _shown(e.kind, e.data)
    ]
    for shipment in case.order.shipments:
        entries.extend(
            TimelineEntry(
                t.occurred_at,
                "tracking",
                shipment.carrier,
                {
                    "status": t.status.value,
                    "description": t.description,
                    "location": t.location,
                    "tracking_number": shipment.tracking_number,
                    "shipment_kind": shipment.kind.value,
                },
            )
            for t in shipment.events
        )
    entries.extend(
        TimelineEntry(
            m.created_at,
            "message",
            m.direction.value,
            {
                "body": m.body,
                "status": m.status.value,
                "language": m.language,
                "id": m.id,
                "attachment": m.attachment_name,
                "template": m.template,
                "channel": m.channel,
                "error": m.last_error if m.status.value == "failed" else None,
            },
        )
        for m in case.messages
    )
    # Newest first; entries of the same instant keep the order they happened in, newest on top.
    order = {id(entry): position for position, entry in enumerate(entries)}
    return sorted(entries, key=lambda entry: (entry.when, order[id(entry)]), reverse=True)
