"""Every table of the portal; import models from here."""

from portal.domain.models.analytics import (
    AnalyticsDaily,
    AnalyticsDekad,
    AnalyticsDirty,
    AnalyticsDuration,
    AnalyticsDurationDekad,
    AnalyticsDurationMonthly,
    AnalyticsMonthly,
)
from portal.domain.models.api import ApiIdempotencyKey, ApiToken
from portal.domain.models.audit import (
    AuditCheckpoint,
    AuditEntry,
    AuditLeaf,
    AuditNode,
    AuditPending,
    AuditTreeState,
)
from portal.domain.models.base import Base
from portal.domain.models.cases import (
    Attachment,
    Case,
    CaseEvent,
    CaseItem,
    CaseTag,
    Deadline,
    Decision,
    Dispute,
    EvidenceItem,
    Exchange,
    Inspection,
    InsuranceClaim,
    Message,
    Refund,
    ReturnShipment,
)
from portal.domain.models.catalog import Campaign, ExchangeRate, Market, Product, ReturnAddress, Shop
from portal.domain.models.conversations import Macro, MessageTemplateVersion
from portal.domain.models.deadline_config import BusinessCalendarSetting, DeadlineSetting
from portal.domain.models.intake import ImportBatch, TrackingStaleMark, UnmatchedTrackingUpdate
from portal.domain.models.jobs import Job
from portal.domain.models.marketplace import (
    MarketplaceCommand,
    MarketplaceEntity,
    MarketplaceEvent,
    MarketplaceSyncCursor,
)
from portal.domain.models.orders import Buyer, Order, OrderItem, Shipment, TrackingEvent
from portal.domain.models.policy import Policy, PolicyVersion, PublishRequest
from portal.domain.models.queue_flow import AgentAvailability, AutoAssignQueue, CasePresence, SavedView
from portal.domain.models.sessions import RecoveryCode, ThrottleBucket, UserSession
from portal.domain.models.shops import ShopConnection
from portal.domain.models.system import SchedulerHeartbeat
from portal.domain.models.users import User

__all__ = [
    "AgentAvailability",
    "AutoAssignQueue",
    "CasePresence",
    "SavedView",
    "AnalyticsDaily",
    "AnalyticsDekad",
    "AnalyticsDirty",
    "AnalyticsDuration",
    "AnalyticsDurationDekad",
    "AnalyticsDurationMonthly",
    "AnalyticsMonthly",
    "ApiIdempotencyKey",
    "ApiToken",
    "Attachment",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditLeaf",
    "AuditNode",
    "AuditPending",
    "AuditTreeState",
    "Base",
    "BusinessCalendarSetting",
    "Buyer",
    "Campaign",
    "Case",
    "CaseEvent",
    "CaseItem",
    "CaseTag",
    "Deadline",
    "DeadlineSetting",
    "Decision",
    "Dispute",
    "EvidenceItem",
    "Exchange",
    "ExchangeRate",
    "Inspection",
    "InsuranceClaim",
    "ImportBatch",
    "Job",
    "Macro",
    "Market",
    "MarketplaceCommand",
    "MarketplaceEntity",
    "MarketplaceEvent",
    "MarketplaceSyncCursor",
    "Message",
    "MessageTemplateVersion",
    "Order",
    "OrderItem",
    "Policy",
    "PolicyVersion",
    "PublishRequest",
    "Product",
    "RecoveryCode",
    "Refund",
    "ReturnAddress",
    "ReturnShipment",
    "SchedulerHeartbeat",
    "Shipment",
    "Shop",
    "ShopConnection",
    "ThrottleBucket",
    "TrackingEvent",
    "TrackingStaleMark",
    "UnmatchedTrackingUpdate",
    "User",
    "UserSession",
]
