"""Demo cases whose item travels back: approval and RMA, the return parcel, inspection, the exchange."""

from __future__ import annotations

from datetime import timedelta

from portal.demo import images, logistics
from portal.demo.case_ctx import SELLER_FAULT, Ctx
from portal.demo.catalog_data import INSPECTORS
from portal.domain import operations
from portal.domain.enums import (
    AddressKind,
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineKind,
    Disposition,
    EvidenceKind,
    EvidenceSource,
    ExchangeStatus,
    InspectionResult,
    ReturnStatus,
    ShipmentKind,
    ShippingPayer,
    TrackingStatus,
)
from portal.domain.models import Exchange, Inspection, ReturnShipment, Shipment

INSPECTION_NOTES = {
    InspectionResult.PASS: ("Unworn, tags attached, original packaging. Restocked.",
                            "As new, resealed in a fresh polybag.",
                            "Checked against listing photos, no defects."),
    InspectionResult.FAIL: ("Item does not match the SKU we shipped; buyer returned a different piece.",
                            "Cracked housing, damage not consistent with the buyer's photos."),
    InspectionResult.USED: ("Visible wear, tags removed, make-up marks on the collar.",
                            "Scratches on the plating from daily wear; box missing."),
    InspectionResult.MISSING_PARTS: ("Charging cable and manual missing from the box.",
                                     "Returned 4 of 6 pieces of the set."),
}
# A pass on a return the shop caused confirms the buyer's claim; (notes, what happens to the item).
CLAIM_CONFIRMED: dict[CaseReason, tuple[tuple[str, ...], Disposition]] = {
    CaseReason.DAMAGED: (("Damage confirmed as in the buyer's photos; transit damage, not wear.",
                          "Outer box crushed, item cracked; matches the claim."), Disposition.DESTROY),
    CaseReason.QUALITY: (("Defect confirmed: plating worn through after light use.",
                          "Defect confirmed: loose seam on arrival, not caused by wear."),
                         Disposition.REFURBISH),
    CaseReason.MISSING_PARTS: (("Parts missing as the buyer said; repacked with a complete set.",),
                               Disposition.REFURBISH),
    CaseReason.WRONG_ITEM: (("Wrong SKU confirmed: picking error; item unworn.",), Disposition.RESTOCK),
    CaseReason.NOT_AS_DESCRIBED: (("Unworn; this batch differs from the listing photos.",),
                                  Disposition.RESTOCK),
}


def _replacement_sku(c: Ctx) -> str:
    item, rng = c.main_item, c.world.rng
    if c.case.reason == CaseReason.SIZE and item.category == "apparel":
        return f"{item.sku}-{rng.choice(['S', 'M', 'L', 'XL'])}"
    if c.case.reason == CaseReason.COLOR:
        same = [p for p in c.world.products if p.category == item.category and p.sku != item.sku]
        return rng.choice(same).sku if same else item.sku
    return item.sku


def approve(c: Ctx) -> None:
    """The RMA and where to send the parcel; an exchange first promises the replacement."""
    case, world = c.case, c.world
    addresses = world.addresses[c.spec.code]
    address = addresses[-1] if c.plan.consolidation else addresses[0]
    seller_pays = case.reason in SELLER_FAULT
    while (rma := f"RMA-{c.spec.code}-{world.rng.getrandbits(24):06X}") in world.issued:
        pass
    world.issued.add(rma)
    crossborder = address.kind == AddressKind.CONSOLIDATION_WAREHOUSE
    customs = f"Returned {c.main_item.category.title()}" if crossborder else None
    action = "exchange" if case.type == CaseType.EXCHANGE else "approve_return"
    actor = c.actor_for(action)
    if case.type == CaseType.EXCHANGE:
        c.exchange = Exchange(id=world.new_id(Exchange), case=case, replacement_sku=_replacement_sku(c),
                              status=ExchangeStatus.PENDING, created_at=c.t)
        world.counts["exchanges"] += 1
        c.emit("exchange_promised", actor, {"sku": c.exchange.replacement_sku})
    c.ret = ReturnShipment(id=world.new_id(ReturnShipment), case=case, rma_number=rma, address=address,
                           status=ReturnStatus.LABEL_ISSUED if seller_pays else ReturnStatus.APPROVED,
                           shipping_payer=ShippingPayer.SELLER if seller_pays else ShippingPayer.BUYER,
                           ship_by=c.t + operations.SHIP_WITHIN, approved_at=c.t, created_at=c.t,
                           declared_value=case.value if crossborder else None,
                           customs_description=customs)
    c.rows.append(c.ret)
    world.counts["returns"] += 1
    case.waiting_for_buyer = True
    c.meet("resolution_target")
    c.status(CaseStatus.RETURN_APPROVED, actor)
    ship_by = c.ret.ship_by
    assert ship_by is not None  # set with the return above
    c.emit("return_approved", actor, {"rma": rma, "ship_by": ship_by.isoformat()})
    c.deadline("buyer_ship_by", DeadlineKind.PLATFORM, ship_by)
    c.send("return_approved", actor)


def ship_return(c: Ctx) -> None:
    world, rng, ret = c.world, c.world.rng, c.ret
    assert ret is not None
    carrier = rng.choice(ret.address.carriers.split(","))
    parcel = Shipment(id=world.new_id(Shipment), order=c.record.order, kind=ShipmentKind.RETURN,
                      carrier=carrier, tracking_number=logistics.tracking_number(rng, carrier),
                      status=TrackingStatus.INFO_RECEIVED, shipped_at=c.t, created_at=c.t)
    steps = logistics.return_trail(world, c.spec, c.record.city, ret.address, c.t)
    arrival = c.step_time("receive") or c.step_time("receive_far")
    end = (arrival - world.hours(1, 6)) if arrival else world.now + world.days(1, 4)
    approved = ret.approved_at or c.t
    trail = logistics.fit(steps, c.t, end, min(c.t, approved + world.hours(0.2, 3)))
    logistics.apply_trail(world, parcel, trail, world.now)
    c.rows.append(parcel)
    world.counts["shipments"] += 1
    ret.shipment, ret.shipped_at, ret.status = parcel, c.t, ReturnStatus.IN_TRANSIT
    if rng.random() < 0.6:
        c.hear(f"{c.buyer_line('shipped_return')} {carrier} {parcel.tracking_number}")
    c.case.waiting_for_buyer = False
    c.status(CaseStatus.RETURN_IN_TRANSIT, "buyer")
    c.emit("return_shipped", "buyer", {"rma": ret.rma_number, "carrier": carrier,
                                       "tracking": parcel.tracking_number})
    c.meet("buyer_ship_by")
    c.deadline("seller_confirm_receipt", DeadlineKind.PLATFORM, c.t + timedelta(days=8))


def receive(c: Ctx) -> None:
    assert c.ret is not None
    c.ret.status, c.ret.received_at = ReturnStatus.RECEIVED, c.t
    c.meet("seller_confirm_receipt")
    c.status(CaseStatus.RETURN_RECEIVED, "warehouse")
    c.emit("return_received", "warehouse", {"rma": c.ret.rma_number})
    c.send("return_received", "warehouse")


def inspect(c: Ctx) -> None:
    case, world, rng = c.case, c.world, c.world.rng
    if c.plan.variant == "inspection_failed":
        result = rng.choice([InspectionResult.USED, InspectionResult.USED, InspectionResult.FAIL,
                             InspectionResult.MISSING_PARTS])
    else:
        result = InspectionResult.PASS
    consolidated = c.ret is not None and c.ret.customs_description is not None
    disposition = {InspectionResult.PASS: Disposition.RESTOCK, InspectionResult.USED: Disposition.REFURBISH,
                   InspectionResult.MISSING_PARTS: Disposition.REFURBISH,
                   InspectionResult.FAIL: Disposition.DESTROY}[result]
    notes = rng.choice(INSPECTION_NOTES[result])
    if result == InspectionResult.PASS and case.reason in CLAIM_CONFIRMED:
        options, disposition = CLAIM_CONFIRMED[case.reason]
        notes = rng.choice(options)
    if consolidated and disposition in (Disposition.RESTOCK, Disposition.REFURBISH):
        disposition = Disposition.CONSOLIDATE  # goes back to China with the next batch
    city = c.ret.address.city if c.ret else "Ontario"
    inspector = f"Warehouse {city} – {rng.choice(INSPECTORS.get(city, ('Staff',)))}"
    c.inspection = Inspection(id=world.new_id(Inspection), case=case, result=result, disposition=disposition,
                              inspector=inspector, notes=notes, inspected_at=c.t)
    world.counts["inspections"] += 1
    if result != InspectionResult.PASS or case.reason in CLAIM_CONFIRMED or rng.random() < 0.3:
        flawless = result == InspectionResult.PASS and case.reason not in CLAIM_CONFIRMED
        problem = "none" if flawless else "damaged"
        data = images.buyer_photo(rng, c.main_item.category, problem,
                                  f"{c.ret.rma_number if c.ret else ''} inspection")
        c.evidence(EvidenceKind.PHOTO, EvidenceSource.WAREHOUSE, data, "inspection.png",
                   f"Inspection photo: {result.value}", "warehouse")
    if c.ret is not None:
        c.ret.status = ReturnStatus.INSPECTED
    c.status(CaseStatus.INSPECTED, "warehouse")
    c.emit("inspection_done", "warehouse", {"result": result.value, "disposition": disposition.value})
    if result == InspectionResult.PASS:
        c.send("inspection_passed", "warehouse")
    else:
        case.queue = "qc"
        c.emit("queued", "warehouse", {"queue": "qc"})


def exchange_ship(c: Ctx) -> None:
    case, world, rng = c.case, c.world, c.world.rng
    actor = c.take()
    carrier = rng.choice(c.spec.local_carriers)
    parcel = Shipment(id=world.new_id(Shipment), order=c.record.order, kind=ShipmentKind.REPLACEMENT,
                      carrier=carrier, tracking_number=logistics.tracking_number(rng, carrier),
                      status=TrackingStatus.INFO_RECEIVED, shipped_at=c.t, created_at=c.t)
    steps = logistics.outbound_trail(world, c.spec, c.t, False, c.record.city, carrier)
    done = c.step_time("exchange_done")
    end = done if done else world.now + world.days(0.5, 3)
    previous = c.times[c.index - 1] if c.index else c.t
    trail = logistics.fit(steps, c.t, end, min(c.t, previous + world.hours(0.2, 2)))
    logistics.apply_trail(world, parcel, trail, world.now)
    c.rows.append(parcel)
    world.counts["shipments"] += 1
    if c.exchange is None:
        c.exchange = Exchange(id=world.new_id(Exchange), case=case, replacement_sku=_replacement_sku(c),
                              status=ExchangeStatus.PENDING, created_at=c.t)
        world.counts["exchanges"] += 1
    c.exchange.status, c.exchange.shipment, c.exchange.shipped_at = ExchangeStatus.SHIPPED, parcel, c.t
    c.status(CaseStatus.EXCHANGE_SHIPPED, actor)
    c.emit("exchange_shipped", actor, {"carrier": carrier, "tracking": parcel.tracking_number})
    c.send("exchange_shipped", actor, {"tracking": f"{carrier} {parcel.tracking_number}"})


def exchange_done(c: Ctx) -> None:
    assert c.exchange is not None
    c.exchange.status = ExchangeStatus.DELIVERED
    if c.ret is not None:
        c.ret.status = ReturnStatus.CLOSED
    c.status(CaseStatus.RESOLVED, "system")
