"""SQLAlchemy models: every shop-owned table carries shop_id and an index that starts with it."""

from __future__ import annotations

from . import (  # noqa: F401  (tables register on Base)
    analytics,
    compliance,
    connections,
    contests,
    experiments,
    merchant_access,
    merchant_webhooks,
    shopper,
    shopper_emails,
)
from .base import Base
from .compliance import DataRequest, DataRequestStatus, Redaction
from .connections import ConnectRequest, ShopJobLease
from .enums import (
    POINTS_UNIT,
    AdvocateStatus,
    DeliveryStatus,
    LedgerKind,
    OutboxStatus,
    ProgramStatus,
    RevokeState,
    ShopStatus,
)
from .experiments import ExperimentAssignment
from .merchant_webhooks import (
    MerchantDeliveryStatus,
    MerchantWebhookDelivery,
    MerchantWebhookEndpoint,
)
from .messaging import AuditEntry, JobRun, OutboxMessage, WebhookDelivery
from .orders import CharityEntry, Conversion, LedgerEntry, OrderEventRecord, Referral, Reward
from .shopper import RateLimitCounter
from .shops import Advocate, Claim, Click, Code, Program, Shop
from .types import UTCDateTime

__all__ = [
    "POINTS_UNIT",
    "Advocate",
    "AdvocateStatus",
    "AuditEntry",
    "Base",
    "CharityEntry",
    "Claim",
    "Click",
    "Code",
    "ConnectRequest",
    "Conversion",
    "DataRequest",
    "DataRequestStatus",
    "DeliveryStatus",
    "ExperimentAssignment",
    "JobRun",
    "LedgerEntry",
    "LedgerKind",
    "MerchantDeliveryStatus",
    "MerchantWebhookDelivery",
    "MerchantWebhookEndpoint",
    "OrderEventRecord",
    "OutboxMessage",
    "OutboxStatus",
    "Program",
    "ProgramStatus",
    "RateLimitCounter",
    "Redaction",
    "Referral",
    "RevokeState",
    "Reward",
    "Shop",
    "ShopJobLease",
    "ShopStatus",
    "UTCDateTime",
    "WebhookDelivery",
]
