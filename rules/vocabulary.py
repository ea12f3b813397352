"""The words of the policy language: fields, actions, events and keywords, kept as plain data."""

from __future__ import annotations

from dataclasses import dataclass

# Type names used by FieldSpec.type; the checker and the messages use the same words.
NUMBER = "number"
TEXT = "text"
BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One case fact: its type, the allowed values when the field is enumerated, and a help line."""

    type: str
    help: str
    values: tuple[str, ...] = ()
    # Known values of an open-ended field: offered as suggestions, never enforced.
    examples: tuple[str, ...] = ()

    @property
    def enumerated(self) -> bool:
        return bool(self.values)


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """One action argument: its kind (see ARG_KINDS) and a name for the editor."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action: the arguments it takes, in order, and a help line."""

    args: tuple[ArgSpec, ...]
    help: str


MARKETS: tuple[str, ...] = (
    "US",
    "UK",
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "BE",
    "IE",
    "PL",
    "MY",
    "SG",
    "TH",
    "VN",
    "PH",
    "ID",
    "MX",
    "BR",
    "JP",
    "KR",
    "CA",
    "AU",
    "SA",
    "AE",
    "CN",
)
CURRENCIES: tuple[str, ...] = (
    "USD",
    "GBP",
    "EUR",
    "MYR",
    "SGD",
    "THB",
    "VND",
    "PHP",
    "IDR",
    "MXN",
    "JPY",
    "CNY",
    "BRL",
    "KRW",
    "CAD",
    "AUD",
    "PLN",
    "SAR",
    "AED",
)

FIELDS: dict[str, FieldSpec] = {
    "type": FieldSpec(
        TEXT,
        "What kind of case this is.",
        values=(
            "refund_only",
            "return_and_refund",
            "exchange",
            "not_received",
            "delivery_failed",
            "dispute",
        ),
    ),
    "reason": FieldSpec(
        TEXT,
        "The reason the buyer gave.",
        values=(
            "size",
            "color",
            "quality",
            "damaged",
            "missing_parts",
            "not_as_described",
            "wrong_item",
            "changed_mind",
            "not_received",
            "late_delivery",
        ),
    ),
    "value": FieldSpec(NUMBER, "Value of the items in the case, in the case's currency."),
    "currency": FieldSpec(TEXT, "ISO currency code of the case, such as USD or GBP.", values=CURRENCIES),
    "market": FieldSpec(
        TEXT, "ISO country code of the buyer's market, such as US, UK or DE.", values=MARKETS
    ),
    "value_usd": FieldSpec(NUMBER, "The case value converted to US dollars with the configured rates."),
    "sku": FieldSpec(TEXT, "The seller's stock-keeping unit of the item."),
    "category": FieldSpec(
        TEXT,
        "Product category of the item.",
        examples=(
            "jewelry",
            "apparel",
            "electronics",
            "beauty",
            "home",
            "accessories",
            "shoes",
            "bags",
            "toys",
            "sports",
        ),
    ),
    "item.customized": FieldSpec(BOOLEAN, "The item was personalised: engraved, custom size."),
    "item.quantity": FieldSpec(NUMBER, "How many items the case is about."),
    "channel": FieldSpec(
        TEXT,
        "Where the sale came from.",
        values=(
            "organic",
            "live",
            "video",
            "ad",
            "affiliate",
        ),
    ),
    "campaign": FieldSpec(TEXT, "Ad campaign id of the sale; missing when the sale did not come from an ad."),
    "days_since_order": FieldSpec(NUMBER, "Days since the order was placed."),
    "days_since_delivery": FieldSpec(NUMBER, "Days since the parcel was delivered; missing before delivery."),
    "hours_open": FieldSpec(NUMBER, "Hours since the case was opened."),
    "return_insurance": FieldSpec(
        BOOLEAN,
        "The order was sold with return-shipping insurance, which pays the return postage; missing when "
        "the order's intake did not say.",
    ),
    "buyer.orders": FieldSpec(NUMBER, "How many orders the buyer has placed with the shop."),
    "buyer.returns_90d": FieldSpec(NUMBER, "How many returns the buyer made in the last 90 days."),
    "buyer.first_order": FieldSpec(BOOLEAN, "This is the buyer's first order with the shop."),
    "tracking.status": FieldSpec(
        TEXT,
        "Latest status of the parcel's tracking.",
        values=(
            "info_received",
            "in_transit",
            "out_for_delivery",
            "attempt_fail",
            "delivered",
            "available_for_pickup",
            "exception",
            "expired",
        ),
    ),
    "return.status": FieldSpec(
        TEXT,
        "Where the return is.",
        values=(
            "requested",
            "approved",
            "label_issued",
            "in_transit",
            "received",
            "inspected",
            "closed",
        ),
    ),
    "return.days_in_transit": FieldSpec(NUMBER, "Days the returned parcel has been on its way."),
    "inspection.result": FieldSpec(
        TEXT,
        "What the warehouse found when it inspected the return.",
        values=(
            "pass",
            "fail",
            "used",
            "missing_parts",
        ),
    ),
    "evidence.photos": FieldSpec(NUMBER, "How many photos the buyer has supplied."),
    "evidence.videos": FieldSpec(NUMBER, "How many videos the buyer has supplied."),
    "evidence.from": FieldSpec(
        TEXT,
        "Whose the newest evidence is; on evidence_added, the evidence just added.",
        values=("buyer", "agent", "platform"),
    ),
}

# Argument kinds: what the checker accepts for each and how the editor describes it.
ARG_KINDS: dict[str, str] = {
    "reason": "text in double quotes, shown to the buyer",
    "evidence": 'one of "photo", "video" or "document"',
    "share": "a percentage such as 20% (more than 0, at most 100) or an amount such as 5",
    "amount": "a positive amount in the case currency",
    "queue": "the name of a queue, in double quotes",
    "template": "the name of a message template, in double quotes",
    "deadline": "the name of the deadline, in double quotes",
    "duration": "a duration such as 12 days, 24 hours, 30 minutes or 2 weeks",
}
EVIDENCE_KINDS: tuple[str, ...] = ("photo", "video", "document")

ACTIONS: dict[str, ActionSpec] = {
    "approve_return": ActionSpec((), "The buyer sends the item back; refund after it is received."),
    "refund_without_return": ActionSpec((), "Full refund, the buyer keeps the item."),
    "refund": ActionSpec((), "Full refund now."),
    "pre_refund": ActionSpec((), "Refund now, before the item is back."),
    "partial_refund": ActionSpec(
        (ArgSpec("share", "share"),), "Refund part of the value, as a share or an amount."
    ),
    "coupon": ActionSpec(
        (ArgSpec("amount", "amount"),), "Compensation coupon of this amount in the case currency."
    ),
    "exchange": ActionSpec((), "Ship a replacement."),
    "reject": ActionSpec((ArgSpec("reason", "reason"),), "Decline, with the reason shown to the buyer."),
    "request_evidence": ActionSpec(
        (ArgSpec("evidence", "kind"),), "Ask the buyer for a photo, video or document."
    ),
    "manual_review": ActionSpec((), "A person decides."),
    "assign": ActionSpec((ArgSpec("queue", "queue"),), "Route the case to a queue."),
    "set_deadline": ActionSpec(
        (ArgSpec("deadline", "name"), ArgSpec("duration", "duration")),
        'Start a deadline; when it runs out, the `on deadline "NAME":` section runs.',
    ),
    "notify": ActionSpec((ArgSpec("template", "template"),), "Message the buyer with a template."),
    "escalate": ActionSpec((), "Raise the case to a senior."),
    "hold": ActionSpec((), "Pause automation on the case."),
}

EVENTS: dict[str, str] = {
    "case_opened": "A new case was opened; rules before any `on` line belong here.",
    "case_updated": "The buyer or an agent changed the case.",
    "evidence_added": "Evidence was added: by the buyer, an agent or the platform (see evidence.from).",
    "return_shipped": "The buyer shipped the return.",
    "return_received": "The warehouse scanned the returned parcel.",
    "inspection_done": "The warehouse finished inspecting the return.",
    "delivery_failed": "The carrier reported a failed delivery attempt.",
    "tracking_stale": "The parcel's tracking has had no new event for a while.",
    "dispute_opened": "The buyer escalated the case to the platform.",
    "buyer_replied": "The buyer sent a message (text or images) about the case.",
    "deadline": 'A deadline started by `set_deadline` ran out; written `on deadline "NAME":`.',
}
DEFAULT_EVENT = "case_opened"

DURATION_UNITS: dict[str, int] = {
    "minute": 60,
    "minutes": 60,
    "hour": 3_600,
    "hours": 3_600,
    "day": 86_400,
    "days": 86_400,
    "week": 604_800,
    "weeks": 604_800,
}

KEYWORDS: tuple[str, ...] = (
    "policy",
    "on",
    "deadline",
    "rule",
    "if",
    "then",
    "else",
    "and",
    "or",
    "not",
    "in",
    "contains",
    "is",
    "missing",
    "present",
    "true",
    "false",
    "example",
)
OPERATORS: tuple[str, ...] = (
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "contains",
    "+",
    "-",
    "*",
    "/",
)
