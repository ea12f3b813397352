"""After-sales cases and everything that happens on them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineClock,
    DeadlineKind,
    DeadlineState,
    Disposition,
    DisputeStatus,
    EvidenceKind,
    EvidenceSource,
    ExchangeStatus,
    InspectionResult,
    MessageDirection,
    MessageStatus,
    RefundKind,
    RefundMethod,
    RefundStatus,
    ReturnStatus,
    ShippingPayer,
)
from portal.domain.models.base import Base, CreatedAt
from portal.domain.models.catalog import Market, ReturnAddress
from portal.domain.models.orders import Buyer, Order, OrderItem, Shipment
from portal.domain.models.users import User
from portal.domain.types import MONEY, NO_DEADLINE, str_enum, utcnow


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_opened", "status", "opened_at"),
        Index("ix_cases_queue_status", "queue", "status"),
        Index("ix_cases_market_opened", "market_id", "opened_at"),
        Index("ix_cases_next_deadline", "next_deadline_at", "id"),
        # The queue sorted by newest. (An index on value was tried and dropped: SQLite then filtered value
        # ranges through it and sorted every match by deadline, a thousand times slower.)
        Index("ix_cases_opened", "opened_at", "id"),
        Index("ix_cases_last_buyer_message", "last_buyer_message_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    market_id: Mapped[int] = mapped_column(ForeignKey("markets.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("buyers.id"), index=True)
    type: Mapped[CaseType] = mapped_column(str_enum(CaseType))
    reason: Mapped[CaseReason] = mapped_column(str_enum(CaseReason))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.NEW)
    queue: Mapped[str] = mapped_column(String(40), default="general")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    value: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    requested_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    buyer_note: Mapped[str | None] = mapped_column(Text)
    waiting_for_buyer: Mapped[bool] = mapped_column(default=False)
    on_hold: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The earliest pending deadline, kept here so the queue can sort by it (see domain.deadline_index);
    # NO_DEADLINE when there is none.
    next_deadline_at: Mapped[datetime] = mapped_column(default=NO_DEADLINE)
    # Buyer messages no agent has opened yet, and when the latest arrived ("Buyer replied" view).
    unread_messages: Mapped[int] = mapped_column(default=0, server_default="0")
    last_buyer_message_at: Mapped[datetime | None]
    # Why a message to the buyer could not be delivered in the end; cleared when an agent acts.
    delivery_problem: Mapped[str | None] = mapped_column(String(300))
    # Optimistic locking: an update that read an older version fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    market: Mapped[Market] = relationship()
    order: Mapped[Order] = relationship()
    buyer: Mapped[Buyer] = relationship()
    assignee: Mapped[User | None] = relationship()
    items: Mapped[list[CaseItem]] = relationship(back_populates="case", order_by="CaseItem.id")
    tags: Mapped[list[CaseTag]] = relationship(
        back_populates="case", order_by="CaseTag.tag", cascade="all, delete-orphan"
    )
    returns: Mapped[list[ReturnShipment]] = relationship(back_populates="case", order_by="ReturnShipment.id")
    inspections: Mapped[list[Inspection]] = relationship(back_populates="case", order_by="Inspection.id")
    refunds: Mapped[list[Refund]] = relationship(back_populates="case", order_by="Refund.id")
    exchanges: Mapped[list[Exchange]] = relationship(back_populates="case", order_by="Exchange.id")
    disputes: Mapped[list[Dispute]] = relationship(back_populates="case", order_by="Dispute.id")
    evidence: Mapped[list[EvidenceItem]] = relationship(back_populates="case", order_by="EvidenceItem.id")
    messages: Mapped[list[Message]] = relationship(back_populates="case", order_by="Message.created_at")
    deadlines: Mapped[list[Deadline]] = relationship(back_populates="case", order_by="Deadline.due_at")
    decisions: Mapped[list[Decision]] = relationship(back_populates="case", order_by="Decision.decided_at")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.occurred_at")


class CaseItem(Base):
    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id"))
    quantity: Mapped[int] = mapped_column(default=1)

    case: Mapped[Case] = relationship(back_populates="items")
    order_item: Mapped[OrderItem] = relationship()


class CaseTag(Base):
    __tablename__ = "case_tags"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)

    case: Mapped[Case] = relationship(back_populates="tags")


class ReturnShipment(CreatedAt, Base):
    """An approved return: its RMA number, where it goes, by when, and the parcel that carries it."""

    __tablename__ = "returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    rma_number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[ReturnStatus] = mapped_column(str_enum(ReturnStatus))
    return_address_id: Mapped[int] = mapped_column(ForeignKey("return_addresses.id"))
    shipping_payer: Mapped[ShippingPayer] = mapped_column(str_enum(ShippingPayer))
    ship_by: Mapped[datetime | None]
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    customs_description: Mapped[str | None] = mapped_column(String(120))
    declared_value: Mapped[Decimal | None] = mapped_column(MONEY)
    approved_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    # A carrier's or the platform's prepaid label (a PDF in the attachment store) an agent attached.
    label_sha256: Mapped[str | None] = mapped_column(ForeignKey("attachments.sha256"))
    label_name: Mapped[str | None] = mapped_column(String(200))

    case: Mapped[Case] = relationship(back_populates="returns")
    address: Mapped[ReturnAddress] = relationship()
    shipment: Mapped[Shipment | None] = relationship()
    claims: Mapped[list[InsuranceClaim]] = relationship(
        back_populates="return_shipment", order_by="InsuranceClaim.id"
    )


class InsuranceClaim(CreatedAt, Base):
    """The return-shipping insurance claim a return calls for: the seller asks the insurer for the postage."""

    __tablename__ = "insurance_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id"), unique=True)
    insurer: Mapped[str | None] = mapped_column(String(80))
    # to_claim: the claim is still to be made; claimed: an agent made it.
    status: Mapped[str] = mapped_column(String(16), default="to_claim")

    return_shipment: Mapped[ReturnShipment] = relationship(back_populates="claims")


class Inspection(Base):
    __tablename__ = "inspections"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"))
    result: Mapped[InspectionResult] = mapped_column(str_enum(InspectionResult))
    disposition: Mapped[Disposition] = mapped_column(str_enum(Disposition))
    notes: Mapped[str | None] = mapped_column(Text)
    inspector: Mapped[str] = mapped_column(String(120))
    inspected_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="inspections")


class Refund(CreatedAt, Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[RefundKind] = mapped_column(str_enum(RefundKind))
    method: Mapped[RefundMethod] = mapped_column(str_enum(RefundMethod))
    status: Mapped[RefundStatus] = mapped_column(str_enum(RefundStatus))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    completed_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="refunds")
    created_by: Mapped[User | None] = relationship()


class Exchange(CreatedAt, Base):
    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    replacement_sku: Mapped[str] = mapped_column(String(64))
    status: Mapped[ExchangeStatus] = mapped_column(str_enum(ExchangeStatus))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    shipped_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="exchanges")
    shipment: Mapped[Shipment | None] = relationship()


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[DisputeStatus] = mapped_column(str_enum(DisputeStatus))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    respond_by: Mapped[datetime]
    responded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome_note: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="disputes")


class Attachment(CreatedAt, Base):
    """A file in the attachment store, addressed by the SHA-256 of its bytes."""

    __tablename__ = "attachments"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))


class EvidenceItem(CreatedAt, Base):
    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[EvidenceKind] = mapped_column(str_enum(EvidenceKind))
    source: Mapped[EvidenceSource] = mapped_column(str_enum(EvidenceSource))
    sha256: Mapped[str] = mapped_column(ForeignKey("attachments.sha256"))
    filename: Mapped[str] = mapped_column(String(200))
    caption: Mapped[str | None] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship(back_populates="evidence")
    attachment: Mapped[Attachment] = relationship()


class Message(CreatedAt, Base):
    """A message with the buyer; outbound ones wait in the outbox until the dispatcher sends them."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_status_created", "status", "created_at"),
        Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
        UniqueConstraint("channel", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    direction: Mapped[MessageDirection] = mapped_column(str_enum(MessageDirection))
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus))
    language: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(32), default="case_record")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    # A file sent with the message, such as the return instructions PDF, in the attachment store.
    attachment_sha256: Mapped[str | None] = mapped_column(ForeignKey("attachments.sha256"))
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    # Sent with every delivery attempt, so a channel that saw it before does not deliver it twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The channel's own id: the marketplace's message id, or the e-mail's Message-ID.
    external_id: Mapped[str | None] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(200))
    # When the message is next due: queued, its next attempt; sending, the end of the dispatcher's lease.
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # When an agent first saw an inbound message on the case page.
    seen_at: Mapped[datetime | None]

    case: Mapped[Case] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    attachment: Mapped[Attachment | None] = relationship()


class Deadline(CreatedAt, Base):
    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[DeadlineKind] = mapped_column(str_enum(DeadlineKind))
    clock: Mapped[DeadlineClock] = mapped_column(
        str_enum(DeadlineClock), default=DeadlineClock.CALENDAR, server_default=DeadlineClock.CALENDAR.value
    )
    state: Mapped[DeadlineState] = mapped_column(str_enum(DeadlineState), default=DeadlineState.PENDING)
    due_at: Mapped[datetime]
    # While paused (waiting for the buyer), what was left of the clock (business seconds on a business clock).
    remaining_seconds: Mapped[int | None]
    pauses_while_waiting: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    fired_at: Mapped[datetime | None]
    fired_late: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship(back_populates="deadlines")


class Decision(Base):
    """What the policy (or a person) decided for a case event, with the rule and its explanation."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event: Mapped[str] = mapped_column(String(80))
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_versions.id"))
    rule_line: Mapped[int | None]
    rule_name: Mapped[str | None] = mapped_column(String(120))
    actions: Mapped[list[Any]] = mapped_column(JSON)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The facts the policy decided on (backtest.stored_facts), so a simulation can replay the event.
    facts: Mapped[str | None] = mapped_column(Text)
    automated: Mapped[bool] = mapped_column(default=True)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="decisions")


class CaseEvent(Base):
    """One line of a case's timeline; `data` holds the facts the timeline template renders."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_occurred", "case_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")
