"""The facts a policy decides on, read from a case and what it hangs on (order, buyer, parcels, evidence)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from portal.domain.enums import EVIDENCE_ORIGIN, Channel, EvidenceKind, EvidenceSource, ShipmentKind
from portal.domain.models import Case, Shipment

_CENT = Decimal("0.01")


def _whole(delta: timedelta, unit: timedelta) -> int:
    # A policy's "more than 30 days" counts whole days gone by, never a negative age.
    return max(0, int(delta / unit))


def _latest_outbound(shipments: list[Shipment]) -> Shipment | None:
    outbound = [s for s in shipments if s.kind == ShipmentKind.OUTBOUND]
    return outbound[-1] if outbound else None


def case_facts(case: Case, now: datetime, usd_rates: dict[str, Decimal]) -> dict[str, Any]:
    """The case as nested facts for `rules`; a fact that is not known yet is left out, never guessed.

    `usd_rates` maps a currency to US dollars per unit (the ExchangeRate rows).
    """
    order = case.order
    buyer = case.buyer
    facts: dict[str, Any] = {
        "type": case.type.value,
        "reason": case.reason.value,
        "value": case.value,
        "currency": case.currency,
        "market": case.market.code,
        "channel": order.channel.value,
        "days_since_order": _whole(now - order.placed_at, timedelta(days=1)),
        "hours_open": _whole(now - case.opened_at, timedelta(hours=1)),
    }
    rate = usd_rates.get(case.currency)
    if rate is not None and case.value is not None:
        facts["value_usd"] = (case.value * rate).quantize(_CENT, rounding=ROUND_HALF_UP)

    lines = [(item.order_item, item.quantity) for item in case.items]
    if lines:
        # A case about several items is described by its most valuable one.
        main = max(lines, key=lambda line: line[0].unit_price * line[1])[0]
        facts["sku"] = main.sku
        facts["category"] = main.category
        facts["item"] = {"customized": any(item.customized for item, _ in lines),
                         "quantity": sum(quantity for _, quantity in lines)}

    if order.campaign is not None and order.campaign.channel == Channel.AD:
        facts["campaign"] = order.campaign.external_id
    if order.delivered_at is not None and order.delivered_at <= now:
        facts["days_since_delivery"] = _whole(now - order.delivered_at, timedelta(days=1))
    if order.return_insurance is not None:
        facts["return_insurance"] = order.return_insurance

    buyer_facts: dict[str, Any] = {"orders": buyer.orders_count, "returns_90d": buyer.returns_90d}
    if buyer.first_order_at is not None:
        buyer_facts["first_order"] = buyer.orders_count <= 1 or order.placed_at <= buyer.first_order_at
    facts["buyer"] = buyer_facts

    outbound = _latest_outbound(order.shipments)
    if outbound is not None:
        facts["tracking"] = {"status": outbound.status.value}

    if case.returns:
        ret = case.returns[-1]
        return_facts: dict[str, Any] = {"status": ret.status.value}
        if ret.shipped_at is not None:
            in_transit = (ret.received_at or now) - ret.shipped_at
            return_facts["days_in_transit"] = _whole(in_transit, timedelta(days=1))
        facts["return"] = return_facts
    if case.inspections:
        facts["inspection"] = {"result": case.inspections[-1].result.value}

    from_buyer = [e for e in case.evidence if e.source == EvidenceSource.BUYER]
    facts["evidence"] = {"photos": sum(1 for e in from_buyer if e.kind == EvidenceKind.PHOTO),
                         "videos": sum(1 for e in from_buyer if e.kind == EvidenceKind.VIDEO)}
    if case.evidence:
        # Whose the newest evidence is: on `evidence_added`, the evidence that was just added.
        facts["evidence"]["from"] = EVIDENCE_ORIGIN[case.evidence[-1].source]
    return facts
