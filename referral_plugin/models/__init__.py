"""SQLAlchemy models: every shop-owned table carries shop_id and an index that starts with it."""

from __future__ import annotations

from . import compliance, connections  # noqa: F401  (tables register on Base)
from .base import Base
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
from .messaging import AuditEntry, JobRun, OutboxMessage, WebhookDelivery
from .orders import CharityEntry, Conversion, LedgerEntry, OrderEventRecord, Referral, Reward
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
    "Conversion",
    "DeliveryStatus",
    "JobRun",
    "LedgerEntry",
    "LedgerKind",
    "OrderEventRecord",
    "OutboxMessage",
    "OutboxStatus",
    "Program",
    "ProgramStatus",
    "Referral",
    "RevokeState",
    "Reward",
    "Shop",
    "ShopStatus",
    "UTCDateTime",
    "WebhookDelivery",
]
