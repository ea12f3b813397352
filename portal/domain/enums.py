"""The vocabularies of the after-sales domain, shared by models, forms and the policy facts."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OPS_MANAGER = "ops_manager"
    CS_AGENT = "cs_agent"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Channel(enum.StrEnum):
    ORGANIC = "organic"
    LIVE = "live"
    VIDEO = "video"
    AD = "ad"
    AFFILIATE = "affiliate"


class AddressKind(enum.StrEnum):
    LOCAL_WAREHOUSE = "local_warehouse"
    CONSOLIDATION_WAREHOUSE = "consolidation_warehouse"
    VIRTUAL_ADDRESS = "virtual_address"


class OrderStatus(enum.StrEnum):
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    DELIVERY_FAILED = "delivery_failed"


class ShipmentKind(enum.StrEnum):
    OUTBOUND = "outbound"
    RETURN = "return"
    REPLACEMENT = "replacement"


class TrackingStatus(enum.StrEnum):
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ATTEMPT_FAIL = "attempt_fail"
    DELIVERED = "delivered"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    EXCEPTION = "exception"
    EXPIRED = "expired"


class CaseType(enum.StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_AND_REFUND = "return_and_refund"
    EXCHANGE = "exchange"
    NOT_RECEIVED = "not_received"
    DELIVERY_FAILED = "delivery_failed"
    DISPUTE = "dispute"


class CaseReason(enum.StrEnum):
    SIZE = "size"
    COLOR = "color"
    QUALITY = "quality"
    DAMAGED = "damaged"
    MISSING_PARTS = "missing_parts"
    NOT_AS_DESCRIBED = "not_as_described"
    WRONG_ITEM = "wrong_item"
    CHANGED_MIND = "changed_mind"
    NOT_RECEIVED = "not_received"
    LATE_DELIVERY = "late_delivery"


class CaseStatus(enum.StrEnum):
    """Where a case stands; the lifecycle decides which moves each case type allows."""

    NEW = "new"
    IN_REVIEW = "in_review"
    AWAITING_BUYER = "awaiting_buyer"
    RETURN_APPROVED = "return_approved"
    RETURN_IN_TRANSIT = "return_in_transit"
    RETURN_RECEIVED = "return_received"
    INSPECTED = "inspected"
    REFUND_PENDING = "refund_pending"
    EXCHANGE_SHIPPED = "exchange_shipped"
    REDELIVERY_REQUESTED = "redelivery_requested"
    DISPUTE_OPEN = "dispute_open"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    CLOSED = "closed"


OPEN_STATUSES = frozenset(set(CaseStatus) - {CaseStatus.RESOLVED, CaseStatus.REJECTED, CaseStatus.CLOSED})
# Where the request still waits for a decision.
DECIDING_STATUSES = frozenset({CaseStatus.NEW, CaseStatus.IN_REVIEW, CaseStatus.AWAITING_BUYER})
# The case types in which the buyer sends the item back.
RETURN_CASE_TYPES = frozenset({CaseType.RETURN_AND_REFUND, CaseType.EXCHANGE})


class ReturnStatus(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    LABEL_ISSUED = "label_issued"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    CLOSED = "closed"


class ShippingPayer(enum.StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class InspectionResult(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    USED = "used"
    MISSING_PARTS = "missing_parts"


class Disposition(enum.StrEnum):
    RESTOCK = "restock"
    REFURBISH = "refurbish"
    DESTROY = "destroy"
    CONSOLIDATE = "consolidate"


class RefundKind(enum.StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    COUPON = "coupon"


class RefundMethod(enum.StrEnum):
    ORIGINAL_PAYMENT = "original_payment"
    STORE_CREDIT = "store_credit"
    COUPON = "coupon"


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class ExchangeStatus(enum.StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class DisputeStatus(enum.StrEnum):
    OPEN = "open"
    RESPONDED = "responded"
    WON = "won"
    LOST = "lost"


class EvidenceKind(enum.StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    PROOF_OF_DELIVERY = "proof_of_delivery"
    PACKING = "packing"
    QC_CERTIFICATE = "qc_certificate"
    DOCUMENT = "document"


class EvidenceSource(enum.StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    CARRIER = "carrier"
    WAREHOUSE = "warehouse"


# Whose evidence it is, as agents and the policy (`evidence.from`) see it: the buyer's, an agent's (anyone
# at the seller), or the platform's (the carrier, the warehouse and other systems).
EVIDENCE_ORIGIN: dict[EvidenceSource, str] = {
    EvidenceSource.BUYER: "buyer",
    EvidenceSource.SELLER: "agent",
    EvidenceSource.CARRIER: "platform",
    EvidenceSource.WAREHOUSE: "platform",
}


class MessageDirection(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(enum.StrEnum):
    """Where a message stands: inbound ones are received; outbound ones go queued → sending → sent, then
    delivered or read where the channel reports it, or failed for good after the last retry."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class DeadlineKind(enum.StrEnum):
    PLATFORM = "platform"
    AGENT_SLA = "agent_sla"
    POLICY = "policy"


class DeadlineClock(enum.StrEnum):
    """Platform clocks run on calendar time; agent targets count only the market's business hours."""

    CALENDAR = "calendar"
    BUSINESS = "business"


class DeadlineState(enum.StrEnum):
    PENDING = "pending"
    PAUSED = "paused"
    FIRED = "fired"
    CANCELLED = "cancelled"  # the case moved on: the deadline no longer applies
    FAILED = "failed"  # its effect kept failing: given up, waiting for an admin (dead letter)


class PolicyStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class PublishRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
