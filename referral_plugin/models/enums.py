"""Status values that exist only in persistence (the domain's enums are reused elsewhere)."""

from __future__ import annotations

from enum import StrEnum


class ShopStatus(StrEnum):
    ACTIVE = "active"
    UNINSTALLED = "uninstalled"


class ProgramStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class AdvocateStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class LedgerKind(StrEnum):
    EARNED = "earned"
    REVERSED = "reversed"
    REDEEMED = "redeemed"
    CLAWBACK = "clawback"
    ADJUSTMENT = "adjustment"
    MANUAL = "manual"  # a merchant's balance adjustment (no reward; the note is the reason)


class RevokeState(StrEnum):
    NONE = "none"
    PENDING = "pending"  # reversed after issue: the worker must disable the code in the store
    DONE = "done"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    DEAD = "dead"


class OutboxStatus(StrEnum):
    DRAFT = "draft"  # a shopper email recorded where it happened, rendered later by the worker
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"
    SKIPPED = "skipped"  # never sent on purpose: `last_error` says why (e.g. unsubscribed)


POINTS_UNIT = "POINTS"  # reward_ledger.unit for loyalty points; money uses the currency code
