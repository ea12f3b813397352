"""The editor's palette: every field, action and event with a snippet to insert and translated help."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from rules import vocabulary as v

# The vocabulary's one-line help, repeated here so the translation layer can find and translate it.
FIELD_HELP = {
    "type": _l("What kind of case this is."),
    "reason": _l("The reason the buyer gave."),
    "value": _l("Value of the items in the case, in the case's currency."),
    "currency": _l("ISO currency code of the case, such as USD or GBP."),
    "market": _l("ISO country code of the buyer's market, such as US, UK or DE."),
    "value_usd": _l("The case value converted to US dollars with the configured rates."),
    "sku": _l("The seller's stock-keeping unit of the item."),
    "category": _l("Product category of the item."),
    "item.customized": _l("The item was personalised: engraved, custom size."),
    "item.quantity": _l("How many items the case is about."),
    "channel": _l("Where the sale came from."),
    "campaign": _l("Ad campaign id of the sale; missing when the sale did not come from an ad."),
    "days_since_order": _l("Days since the order was placed."),
    "days_since_delivery": _l("Days since the parcel was delivered; missing before delivery."),
    "hours_open": _l("Hours since the case was opened."),
    "return_insurance": _l(
        "The order was sold with return-shipping insurance, which pays the return postage; missing when "
        "the order's intake did not say."
    ),
    "buyer.orders": _l("How many orders the buyer has placed with the shop."),
    "buyer.returns_90d": _l("How many returns the buyer made in the last 90 days."),
    "buyer.first_order": _l("This is the buyer's first order with the shop."),
    "tracking.status": _l("Latest status of the parcel's tracking."),
    "return.status": _l("Where the return is."),
    "return.days_in_transit": _l("Days the returned parcel has been on its way."),
    "inspection.result": _l("What the warehouse found when it inspected the return."),
    "evidence.photos": _l("How many photos the buyer has supplied."),
    "evidence.videos": _l("How many videos the buyer has supplied."),
    "evidence.from": _l("Whose the newest evidence is; on evidence_added, the evidence just added."),
}
ACTION_HELP = {
    "approve_return": _l("The buyer sends the item back; refund after it is received."),
    "refund_without_return": _l("Full refund, the buyer keeps the item."),
    "refund": _l("Full refund now."),
    "pre_refund": _l("Refund now, before the item is back."),
    "partial_refund": _l("Refund part of the value, as a share or an amount."),
    "coupon": _l("Compensation coupon of this amount in the case currency."),
    "exchange": _l("Ship a replacement."),
    "reject": _l("Decline, with the reason shown to the buyer."),
    "request_evidence": _l("Ask the buyer for a photo, video or document."),
    "manual_review": _l("A person decides."),
    "assign": _l("Route the case to a queue."),
    "set_deadline": _l('Start a deadline; when it runs out, the `on deadline "NAME":` section runs.'),
    "notify": _l("Message the buyer with a template."),
    "escalate": _l("Raise the case to a senior."),
    "hold": _l("Pause automation on the case."),
}
EVENT_HELP = {
    "case_opened": _l("A new case was opened; rules before any `on` line belong here."),
    "case_updated": _l("The buyer or an agent changed the case."),
    "evidence_added": _l("Evidence was added: by the buyer, an agent or the platform (see evidence.from)."),
    "return_shipped": _l("The buyer shipped the return."),
    "return_received": _l("The warehouse scanned the returned parcel."),
    "inspection_done": _l("The warehouse finished inspecting the return."),
    "delivery_failed": _l("The carrier reported a failed delivery attempt."),
    "tracking_stale": _l("The parcel's tracking has had no new event for a while."),
    "dispute_opened": _l("The buyer escalated the case to the platform."),
    "buyer_replied": _l("The buyer sent a message (text or images) about the case."),
    "deadline": _l('A deadline started by `set_deadline` ran out; written `on deadline "NAME":`.'),
}

_ARG_SAMPLES = {"reason": '"REASON"', "evidence": '"photo"', "share": "20%", "amount": "5",
                "queue": '"QUEUE"', "template": '"TEMPLATE"', "deadline": '"NAME"', "duration": "12 days"}


@dataclass(frozen=True)
class Entry:
    name: str
    snippet: str
    help: str
    kind: str  # the field's type, or "action" / "event"


def _field_snippet(name: str, spec: v.FieldSpec) -> str:
    if spec.type == v.BOOLEAN:
        return name
    if spec.type == v.NUMBER:
        return f"{name} < 10"
    sample = (spec.values or spec.examples or ("TEXT",))[0]
    return f'{name} == "{sample}"'


def _help(table: dict[str, object], name: str, fallback: str) -> str:
    # A word added to the language before its translation still shows its English help.
    return str(table.get(name, fallback))


def fields() -> list[Entry]:
    return [Entry(name, _field_snippet(name, spec), _help(FIELD_HELP, name, spec.help), spec.type)
            for name, spec in v.FIELDS.items()]


def actions() -> list[Entry]:
    return [Entry(name, " ".join([name, *(_ARG_SAMPLES.get(arg.kind, arg.name) for arg in spec.args)]),
                  _help(ACTION_HELP, name, spec.help), "action")
            for name, spec in v.ACTIONS.items()]


def events() -> list[Entry]:
    return [Entry(name, 'on deadline "NAME":' if name == "deadline" else f"on {name}:",
                  _help(EVENT_HELP, name, text), "event")
            for name, text in v.EVENTS.items()]
