"""Translatable names for every enumerated value the portal shows."""

from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from portal.domain.deadline_rules import RULES
from portal.domain.enums import EVIDENCE_ORIGIN
from portal.formatting import locale_key, viewer_locale

LABELS = {
    # roles
    "ops_manager": _l("Ops manager"),
    "cs_agent": _l("CS agent"),
    "auditor": _l("Auditor"),
    "admin": _l("Admin"),
    # channels
    "organic": _l("Organic"),
    "live": _l("Live stream"),
    "video": _l("Short video"),
    "ad": _l("Ad"),
    "affiliate": _l("Affiliate"),
    # case types
    "refund_only": _l("Refund only"),
    "return_and_refund": _l("Return and refund"),
    "exchange": _l("Exchange"),
    "not_received": _l("Not received"),
    "delivery_failed": _l("Delivery failed"),
    "dispute": _l("Dispute"),
    # reasons
    "size": _l("Size doesn't fit"),
    "color": _l("Colour differs"),
    "quality": _l("Quality"),
    "damaged": _l("Damaged"),
    "missing_parts": _l("Missing parts"),
    "not_as_described": _l("Not as described"),
    "wrong_item": _l("Wrong item"),
    "changed_mind": _l("Changed mind"),
    "late_delivery": _l("Late delivery"),
    # case statuses
    "new": _l("New"),
    "in_review": _l("In review"),
    "awaiting_buyer": _l("Awaiting buyer"),
    "return_approved": _l("Return approved"),
    "return_in_transit": _l("Return in transit"),
    "return_received": _l("Return received"),
    "inspected": _l("Inspected"),
    "refund_pending": _l("Refund pending"),
    "exchange_shipped": _l("Exchange shipped"),
    "redelivery_requested": _l("Redelivery requested"),
    "dispute_open": _l("Dispute open"),
    "on_hold": _l("On hold"),
    "resolved": _l("Resolved"),
    "rejected": _l("Rejected"),
    "closed": _l("Closed"),
    # tracking
    "info_received": _l("Info received"),
    "in_transit": _l("In transit"),
    "out_for_delivery": _l("Out for delivery"),
    "attempt_fail": _l("Failed attempt"),
    "delivered": _l("Delivered"),
    "available_for_pickup": _l("Available for pickup"),
    "exception": _l("Exception"),
    "expired": _l("Expired"),
    # returns, inspections, refunds
    "requested": _l("Requested"),
    "approved": _l("Approved"),
    "label_issued": _l("Label issued"),
    "received": _l("Received"),
    "pass": _l("Pass"),
    "fail": _l("Fail"),
    "used": _l("Used"),
    "restock": _l("Restock"),
    "refurbish": _l("Refurbish"),
    "destroy": _l("Destroy"),
    "consolidate": _l("Consolidate to China"),
    "full": _l("Full refund"),
    "partial": _l("Partial refund"),
    "coupon": _l("Coupon"),
    "original_payment": _l("Original payment method"),
    "store_credit": _l("Store credit"),
    "pending": _l("Pending"),
    "processing": _l("Processing"),
    "completed": _l("Completed"),
    "failed": _l("Failed"),
    "shipped": _l("Shipped"),
    "cancelled": _l("Cancelled"),
    "paid": _l("Paid"),
    "open": _l("Open"),
    "responded": _l("Responded"),
    "won": _l("Won"),
    "lost": _l("Lost"),
    # evidence
    "photo": _l("Photo"),
    "proof_of_delivery": _l("Proof of delivery"),
    "packing": _l("Packing"),
    "qc_certificate": _l("QC certificate"),
    "document": _l("Document"),
    "buyer": _l("Buyer"),
    "seller": _l("Seller"),
    "carrier": _l("Carrier"),
    "warehouse": _l("Warehouse"),
    # messages and deadlines
    "inbound": _l("From buyer"),
    "outbound": _l("To buyer"),
    "queued": _l("Queued"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "read": _l("Read"),
    "email": _l("E-mail"),
    "marketplace": _l("Marketplace chat"),
    "case_record": _l("Not sent: demo channel"),
    "platform": _l("Platform deadline"),
    "agent_sla": _l("Agent target"),
    "policy": _l("Policy deadline"),
    "paused": _l("Paused"),
    "fired": _l("Fired"),
    # policies and addresses
    "draft": _l("Draft"),
    "published": _l("Published"),
    "archived": _l("Archived"),
    "local_warehouse": _l("Local warehouse"),
    "consolidation_warehouse": _l("Consolidation warehouse"),
    "virtual_address": _l("Virtual local address"),
}


# The lifecycle's deadlines, named once where they are defined (marked there for translation).
LABELS.update({name: _l(rule.label) for name, rule in RULES.items()})

# Where two vocabularies share a value but not a meaning, the enum's own name wins.
LABELS_BY_TYPE = {
    ("EvidenceKind", "video"): _l("Video"),
}
# What each buyer message is for (message templates, macros, the reply box).
PURPOSE_LABELS = {
    "return_approved": _l("Return approved, with instructions"),
    "return_label": _l("Prepaid return label"),
    "return_received": _l("Return received"),
    "inspection_passed": _l("Inspection passed"),
    "refund_initiated": _l("Refund initiated"),
    "coupon_issued": _l("Coupon issued"),
    "exchange_shipped": _l("Replacement shipped"),
    "evidence_requested": _l("Evidence requested"),
    "request_rejected": _l("Request declined"),
    "confirm_address": _l("Confirm the address"),
    "tracking_stale": _l("Parcel not moving"),
    "reply": _l("Reply"),
}
# The policy's actions and events as a decision on the timeline names them.
ACTION_LABELS = {
    "approve_return": _l("Approve return"),
    "refund_without_return": _l("Refund without return"),
    "refund": _l("Refund in full"),
    "pre_refund": _l("Refund before the item is back"),
    "partial_refund": _l("Partial refund"),
    "coupon": _l("Give a coupon"),
    "exchange": _l("Exchange"),
    "reject": _l("Reject"),
    "request_evidence": _l("Request evidence"),
    "manual_review": _l("Manual review"),
    "assign": _l("Route to a queue"),
    "set_deadline": _l("Set a deadline"),
    "notify": _l("Message the buyer"),
    "escalate": _l("Escalate to senior"),
    "hold": _l("Hold (pause automation)"),
}
EVENT_LABELS = {
    "case_opened": _l("Case opened"),
    "case_updated": _l("Case updated"),
    "evidence_added": _l("Evidence added"),
    "return_shipped": _l("Buyer shipped the return"),
    "return_received": _l("Return received at the warehouse"),
    "inspection_done": _l("Inspection done"),
    "delivery_failed": _l("Delivery failed"),
    "tracking_stale": _l("Parcel not moving"),
    "dispute_opened": _l("Dispute opened on the marketplace"),
    "buyer_replied": _l("The buyer wrote"),
}
EVIDENCE_ORIGINS = {source.value: origin for source, origin in EVIDENCE_ORIGIN.items()}
ORIGIN_LABELS = {
    "buyer": _l("from the buyer"),
    "agent": _l("from an agent"),
    "platform": _l("from the platform"),
}
_translated: dict[tuple[object, str, str], str] = {}


def action_label(name: object) -> str:
    """A policy action in the user's language ("manual_review" is "Manual review")."""
    found = ACTION_LABELS.get(str(name))
    return str(found) if found is not None else str(name)


def event_label(name: object) -> str:
    """A policy event in the user's language; `deadline:NAME` names the deadline that ran out."""
    text = str(name)
    if text.startswith("deadline:"):
        return gettext("Deadline ran out: %(name)s", name=label(text.partition(":")[2]))
    found = EVENT_LABELS.get(text)
    return str(found) if found is not None else text


def origin_label(source: object) -> str:
    """Whose evidence it is, from its stored source or its origin ("buyer", "agent", "platform")."""
    key = str(getattr(source, "value", source))
    found = ORIGIN_LABELS.get(EVIDENCE_ORIGINS.get(key, key))
    return str(found) if found is not None else key


def purpose_label(name: str | None) -> str:
    """The user's-language name of a message purpose."""
    found = PURPOSE_LABELS.get(name or "reply")
    return str(found) if found is not None else (name or "")


def label(value: object) -> str:
    """The user's-language name of an enumerated value; unknown values are shown as they are."""
    key = str(getattr(value, "value", value))
    kind = type(value).__name__
    found = LABELS_BY_TYPE.get((kind, key)) or LABELS.get(key)
    if found is None:
        return key
    # Queue pages ask for the same few names hundreds of times; translate each once per language.
    cache_key = (locale_key(viewer_locale()), kind, key)
    text = _translated.get(cache_key)
    if text is None:
        text = _translated[cache_key] = str(found)
    return text
