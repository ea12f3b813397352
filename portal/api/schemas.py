"""The JSON API's requests and responses as pydantic models, for the views and the OpenAPI document alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, RootModel

from portal.domain.api_cases import EVENT_HANDLERS
from portal.domain.enums import (
    CaseReason,
    CaseStatus,
    CaseType,
    DeadlineKind,
    DeadlineState,
    Disposition,
    EvidenceKind,
    EvidenceSource,
    InspectionResult,
    RefundKind,
    RefundMethod,
    RefundStatus,
    ReturnStatus,
)

# Text that PostgreSQL can store (no NUL) and that is not blank.
TEXT = r"^[^\x00]*$"
NON_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"

UtcTime = Annotated[
    datetime,
    PlainSerializer(lambda v: v.astimezone(UTC).isoformat(), return_type=str),
    Field(json_schema_extra={"format": "date-time"}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- responses -------------------------------------------------------------------------------------


class Money(BaseModel):
    amount: str = Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["25.00"], description="A decimal string.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["USD"])

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=f"{amount:.2f}", currency=currency)


class CaseItemOut(BaseModel):
    sku: str
    title: str
    quantity: int
    unit_price: Money


class ReturnOut(BaseModel):
    rma_number: str
    status: ReturnStatus
    ship_by: UtcTime | None
    carrier: str | None
    tracking_number: str | None
    shipped_at: UtcTime | None
    received_at: UtcTime | None


class RefundOut(BaseModel):
    kind: RefundKind
    method: RefundMethod
    status: RefundStatus
    amount: Money
    created_at: UtcTime


class DeadlineOut(BaseModel):
    name: str
    kind: DeadlineKind
    state: DeadlineState
    due_at: UtcTime


class EvidenceOut(BaseModel):
    id: int
    kind: EvidenceKind
    source: EvidenceSource
    filename: str
    caption: str | None
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int
    content_type: str
    created_at: UtcTime


class CaseSummary(BaseModel):
    number: str = Field(examples=["AS-100231"])
    status: CaseStatus
    type: CaseType
    reason: CaseReason
    market: str = Field(examples=["US"])
    order_id: str = Field(description="The marketplace's order id.")
    buyer: str = Field(description="The buyer's marketplace pseudonym.")
    queue: str
    value: Money
    waiting_for_buyer: bool
    on_hold: bool
    escalated: bool
    opened_at: UtcTime
    updated_at: UtcTime
    resolved_at: UtcTime | None
    next_deadline_at: UtcTime | None
    version: int = Field(description="Changes with every change to the case; the ETag carries it too.")


if TYPE_CHECKING:  # the literal is built at run time; a type checker sees the plain string under it
    Event = str
else:
    Event = Literal[tuple(EVENT_HANDLERS)]


class CaseDetail(CaseSummary):
    buyer_note: str | None
    items: list[CaseItemOut]
    returns: list[ReturnOut]
    refunds: list[RefundOut]
    deadlines: list[DeadlineOut]
    evidence: list[EvidenceOut]
    allowed_events: list[Event] = Field(description="The events POST /cases/{number}/events accepts now.")


class CasePage(BaseModel):
    items: list[CaseSummary]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class RuleOut(BaseModel):
    line: int
    name: str | None


class ActionOut(BaseModel):
    name: str
    args: list[Any]


class DecisionOut(BaseModel):
    id: int
    event: str
    decided_at: UtcTime
    automated: bool
    policy_version: int | None = Field(description="Null when no policy was published: a person decides.")
    rule: RuleOut | None
    actions: list[ActionOut]
    explanation: str = Field(description="In the language of Accept-Language (en or zh).")


class DecisionList(BaseModel):
    items: list[DecisionOut]


class EventResult(BaseModel):
    event: Event
    case: CaseDetail
    decision: DecisionOut | None = Field(description="What the policy decided about the event, if it ran.")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_failed"])
    message: str
    details: dict[str, Any] | None = Field(
        description="For validation_failed: `fields`, each field's path mapped to its messages."
    )


class Error(BaseModel):
    error: ErrorDetail


# ---- requests --------------------------------------------------------------------------------------

if TYPE_CHECKING:
    StatusFilter = str
else:
    StatusFilter = Literal[("open", "all", *(s.value for s in CaseStatus))]


class CaseListQuery(Strict):
    status: StatusFilter = Field("all", description="`open`, `all` or one status.")
    type: CaseType | None = None
    reason: CaseReason | None = None
    market: str | None = Field(None, max_length=8, pattern=TEXT, description="A market code such as US.")
    order_id: str | None = Field(None, max_length=64, pattern=TEXT, description="The marketplace order id.")
    q: str | None = Field(
        None, max_length=100, pattern=TEXT, description="Case, order, tracking or RMA number, or buyer."
    )
    updated_since: AwareDatetime | None = Field(None, description="Cases changed at or after this time.")
    opened_from: AwareDatetime | None = None
    opened_to: AwareDatetime | None = Field(None, description="Exclusive.")
    sort: Literal["newest", "oldest", "deadline", "updated"] = "newest"
    limit: int = Field(50, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500, pattern=r"^[A-Za-z0-9_-]*$")


class ItemIn(Strict):
    sku: str = Field(min_length=1, max_length=64, pattern=NON_BLANK)
    quantity: int = Field(1, ge=1, le=10000)


class CaseCreate(Strict):
    order_id: str = Field(
        min_length=1, max_length=64, pattern=NON_BLANK, description="The marketplace order id."
    )
    type: CaseType
    reason: CaseReason
    items: list[ItemIn] | None = Field(
        None, max_length=100, description="Items of the order the case is about; all of them when omitted."
    )
    note: str | None = Field(None, max_length=4000, pattern=TEXT, description="What the buyer said.")
    buyer_email: str | None = Field(
        None,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="The buyer's e-mail address (own-site orders), so messages about the case can reach "
        "them by e-mail.",
        examples=["sam@example.com"],
    )
    return_insurance: bool | None = Field(
        None,
        description="Whether the order was sold with return-shipping insurance (the insurer pays the "
        "return postage); the policy reads it as `return_insurance`. Omitted: unknown.",
    )
    return_insurer: str | None = Field(
        None, max_length=80, pattern=NON_BLANK, description="Who insures the return postage.",
        examples=["Ping An"],
    )


class ReturnShippedIn(Strict):
    event: Literal["return_shipped"]
    carrier: str = Field(min_length=1, max_length=40, pattern=NON_BLANK, examples=["UPS"])
    tracking_number: str = Field(min_length=1, max_length=64, pattern=NON_BLANK)


class ReturnReceivedIn(Strict):
    event: Literal["return_received"]


class InspectionDoneIn(Strict):
    event: Literal["inspection_done"]
    result: InspectionResult
    disposition: Disposition
    notes: str | None = Field(None, max_length=2000, pattern=TEXT)
    inspector: str | None = Field(None, max_length=120, pattern=TEXT)


class ExchangeShippedIn(Strict):
    event: Literal["exchange_shipped"]
    carrier: str = Field(min_length=1, max_length=40, pattern=NON_BLANK)
    tracking_number: str = Field(min_length=1, max_length=64, pattern=NON_BLANK)


class EventIn(
    RootModel[
        Annotated[
            ReturnShippedIn | ReturnReceivedIn | InspectionDoneIn | ExchangeShippedIn,
            Field(discriminator="event"),
        ]
    ]
):
    pass


EVIDENCE_UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file", "kind"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "A photo, video or PDF."},
        "kind": {"$ref": "#/components/schemas/EvidenceKind"},
        "caption": {"type": "string", "maxLength": 300},
    },
}

REQUEST_MODELS: list[type[BaseModel]] = [CaseCreate, EventIn, CaseListQuery]
RESPONSE_MODELS: list[type[BaseModel]] = [CaseDetail, CasePage, DecisionList, EventResult, EvidenceOut, Error]
