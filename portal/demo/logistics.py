"""Parcels for the demo: carriers' tracking numbers and believable tracking trails."""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta

from portal.demo.catalog_data import EXPORT_HUBS, ORIGIN_HUBS, MarketSpec
from portal.demo.world import World
from portal.domain.enums import TrackingStatus
from portal.domain.models import ReturnAddress, Shipment

# (status, description, location, when)
Step = tuple[str, str, str | None, datetime]

_UPPER_DIGITS = string.ascii_uppercase + string.digits


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def tracking_number(rng: random.Random, carrier: str) -> str:
    """A number in the carrier's own format, so the demo looks right to someone who ships parcels."""
    if carrier == "YunExpress":
        return "YT" + _digits(rng, 16)
    if carrier == "4PX":
        return "4PX3" + _digits(rng, 12) + "CN"
    if carrier == "Cainiao":
        return "LP00" + _digits(rng, 12)
    if carrier == "Yodel Direct":
        return "JD" + _digits(rng, 16)
    if carrier == "USPS":
        return "9400111" + _digits(rng, 15)
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice(_UPPER_DIGITS) for _ in range(6)) + _digits(rng, 10)
    if carrier == "FedEx":
        return _digits(rng, 12)
    if carrier == "Royal Mail Tracked":
        return rng.choice(["TT", "TG", "LR"]) + _digits(rng, 9) + "GB"
    if carrier == "Evri":
        return "H" + "".join(rng.choice(_UPPER_DIGITS) for _ in range(3)) + _digits(rng, 12)
    if carrier in ("DPD", "Hermes"):
        return _digits(rng, 14)
    if carrier == "DHL":
        return "00340434" + _digits(rng, 12)
    if carrier in ("J&T Express", "J&T"):
        return "63" + _digits(rng, 10)
    if carrier == "Ninja Van":
        return "NVMY" + "".join(rng.choice(_UPPER_DIGITS) for _ in range(10))
    if carrier in ("Pos Laju", "EMS"):
        return "E" + rng.choice("RE") + _digits(rng, 9) + ("MY" if carrier == "Pos Laju" else "CN")
    return _digits(rng, 16)


def city_label(spec: MarketSpec, city: str) -> str:
    return city if spec.code == "US" else f"{city}, {spec.code}"


def _delivered_note(rng: random.Random) -> str:
    return rng.choice([
        "Delivered, left at front door", "Delivered to parcel locker", "Delivered, handed to resident",
        "Delivered, left in mailbox", "Delivered to neighbour", "Delivered, signed for by recipient",
    ])


def outbound_trail(world: World, spec: MarketSpec, shipped_at: datetime, crossborder: bool,
                   city: str, local_carrier: str) -> list[Step]:
    """The whole planned journey of an order, through delivery; the caller cuts it at the present."""
    rng = world.rng
    dest = city_label(spec, city)
    hub = rng.choice(spec.sorting_hubs)
    t = shipped_at - world.hours(3, 10)
    if crossborder:
        origin = rng.choice(ORIGIN_HUBS)
        steps: list[Step] = [("info_received", "Shipment information received", origin, t)]
        t = shipped_at
        steps.append(("in_transit", "Picked up by carrier", origin, t))
        t += world.hours(8, 20)
        export = rng.choice(EXPORT_HUBS)
        steps.append(("in_transit", "Departed sorting centre", export, t))
        t += world.hours(18, 44)
        steps.append(("in_transit", "Export customs cleared, departed origin country", export, t))
        t += world.hours(20, 50)
        steps.append(("in_transit", "Arrived at destination country", spec.entry_hub, t))
        t += world.hours(10, 40)
        steps.append(("in_transit", "Import customs cleared", spec.entry_hub, t))
        t += world.hours(16, 50)
        steps.append(("in_transit", f"Handed over to last-mile carrier {local_carrier}", hub, t))
    else:
        steps = [("info_received", "Label created, awaiting pickup", hub, t)]
        t = shipped_at
        steps.append(("in_transit", "Picked up from seller's local warehouse", hub, t))
    t += world.hours(10, 36)
    steps.append(("in_transit", "Arrived at delivery station", dest, t))
    t += world.hours(6, 20)
    steps.append(("out_for_delivery", "Out for delivery", dest, t))
    t += world.hours(1, 9)
    steps.append(("delivered", _delivered_note(rng), dest, t))
    return steps


def fail_delivery(world: World, steps: list[Step]) -> list[Step]:
    """Turn the last leg into a failed attempt, sometimes followed by a depot hold."""
    rng = world.rng
    *head, out, delivered = steps
    when = delivered[3]
    reason = rng.choice(["Delivery attempted, recipient not available",
                         "Delivery attempted, address incomplete or incorrect",
                         "Delivery attempted, no safe place to leave parcel",
                         "Delivery attempted, business closed"])
    result = [*head, out, ("attempt_fail", reason, delivered[2], when)]
    if rng.random() < 0.5:
        result.append(("available_for_pickup", "Held at local depot for collection", delivered[2],
                       when + world.hours(12, 30)))
    return result


def stall(world: World, steps: list[Step]) -> list[Step]:
    """Tracking that stopped moving: the parcel's last scan was somewhere in transit, days ago."""
    keep = world.rng.randint(3, max(3, len(steps) - 4))
    head = steps[:keep]
    if world.rng.random() < 0.35:
        last = head[-1]
        problem = world.rng.choice(["Held by customs, additional documents required",
                                    "Parcel damaged in transit, under investigation",
                                    "Delayed, missed connection at hub"])
        head.append(("exception", problem, last[2], last[3] + world.hours(6, 30)))
    return head


def return_trail(world: World, spec: MarketSpec, city: str, address: ReturnAddress,
                 shipped_at: datetime) -> list[Step]:
    rng = world.rng
    origin = city_label(spec, city)
    warehouse = f"{address.city}, {address.country}"
    steps: list[Step] = [("info_received", "Return label created", origin, shipped_at - world.hours(2, 30)),
                         ("in_transit", "Dropped off at carrier location", origin, shipped_at)]
    t = shipped_at + world.hours(10, 30)
    steps.append(("in_transit", "Departed sorting facility", rng.choice(spec.sorting_hubs), t))
    if address.country != spec.code.replace("UK", "GB"):
        t += world.hours(30, 70)
        steps.append(("in_transit", "Export customs cleared, departed origin country", spec.entry_hub, t))
        t += world.hours(40, 120)
        steps.append(("in_transit", "Import customs cleared", rng.choice(EXPORT_HUBS), t))
    t += world.hours(14, 40)
    steps.append(("out_for_delivery", "Out for delivery", warehouse, t))
    t += world.hours(1, 6)
    steps.append(("delivered", "Delivered to returns warehouse, signed by dock", warehouse, t))
    return steps


def fit(steps: list[Step], start: datetime, end: datetime, not_before: datetime) -> list[Step]:
    """The same journey stretched or squeezed so its first scan is at `start` and its last at `end`.

    Nothing moves before `not_before`: a return label is never printed before the return was approved.
    """
    first, last = steps[1][3] if len(steps) > 1 else steps[0][3], steps[-1][3]
    span = (last - first) or timedelta(seconds=1)
    target = max(end - start, timedelta(minutes=30))
    return [(status, text, place, max(not_before, start + (when - first) * (target / span)))
            for status, text, place, when in steps]


def apply_trail(world: World, shipment: Shipment, steps: list[Step], until: datetime) -> None:
    """Record the steps that happened by `until` and set the parcel's status from the last of them."""
    happened = [step for step in steps if step[3] <= until] or steps[:1]
    for status, description, location, when in happened:
        world.add_tracking(shipment, status, description, location, when)
    last = happened[-1]
    shipment.status = TrackingStatus(last[0])
    shipment.last_event_at = last[3]
    shipment.delivered_at = last[3] if last[0] == "delivered" else None


def trail_end(steps: list[Step]) -> datetime:
    return steps[-1][3]


def after(when: datetime, hours: float) -> datetime:
    return when + timedelta(hours=hours)
