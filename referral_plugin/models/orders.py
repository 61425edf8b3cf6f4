"""Tables for what happened to orders: the event log, conversions, referrals, rewards, ledgers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.decisions import AttributionMethod, Beneficiary, Outcome
from ..domain.events import OrderEventKind
from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..domain.programs import RewardKind
from .base import Base
from .enums import LedgerKind, RevokeState
from .types import Amount, BigId, EnumText, Json, UTCDateTime

SHOP_FK = "shops.id"
# What the segments read of a customer's orders (`services.segments`).
CUSTOMER_ORDER_COLUMNS = (
    "paid", "paid_at", "cancelled", "is_test", "total", "refunded_total", "currency",
)  # fmt: skip


class OrderEventRecord(Base):
    """One distinct event of one order (the append-only log `merge_order_events` reads)."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("shop_id", "order_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    order_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[OrderEventKind] = mapped_column(EnumText(OrderEventKind, 16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[str] = mapped_column(Text)  # JSON of the OrderEvent (order_event_codec)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Conversion(Base):
    """One order as we decided it: flags follow the merged order state."""

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_conversions_shop_id_customer_id", "shop_id", "customer_id"),
        # Segments (migration 0014): a customer's counted orders, summed from the index alone.
        Index(
            "ix_conversions_shop_id_identity_email",
            "shop_id",
            "identity_email",
            postgresql_include=list(CUSTOMER_ORDER_COLUMNS),
        ),
        Index("ix_conversions_shop_id_advocate_id", "shop_id", "advocate_id"),
        # Analytics (migration 0010): attributed orders by paid time, covering what the
        # friends' conversion reads, so a year of them is one index-only range scan.
        Index(
            "ix_conversions_shop_id_paid_at_attributed",
            "shop_id",
            "paid_at",
            postgresql_where=text("advocate_id IS NOT NULL"),
            sqlite_where=text("advocate_id IS NOT NULL"),
            postgresql_include=["id", "identity_email", "paid", "cancelled", "is_test"],
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    order_id: Mapped[str] = mapped_column(String(64))
    order_number: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    identity_email: Mapped[str | None] = mapped_column(String(320))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Amount)
    total: Mapped[Decimal] = mapped_column(Amount)
    refunded_total: Mapped[Decimal] = mapped_column(Amount)
    paid: Mapped[bool] = mapped_column(Boolean)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled: Mapped[bool] = mapped_column(Boolean)
    is_test: Mapped[bool] = mapped_column(Boolean)
    method: Mapped[AttributionMethod | None] = mapped_column(EnumText(AttributionMethod, 16))
    advocate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("advocates.id"))
    program_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("programs.id"))
    code: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(EnumText(Outcome, 16))
    reasons: Mapped[list[Any]] = mapped_column(Json)
    fraud: Mapped[list[Any]] = mapped_column(Json)
    # Keyed hashes (HMAC with the code key) of the order's fraud signals, never raw values.
    signals: Mapped[dict[str, Any]] = mapped_column(Json)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("conversion_id"),
        Index(
            "ix_referrals_shop_id_advocate_id_created_at", "shop_id", "advocate_id", "created_at"
        ),
        Index("ix_referrals_shop_id_status", "shop_id", "status"),
        Index("ix_referrals_shop_id_program_id_status", "shop_id", "program_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    advocate_id: Mapped[int] = mapped_column(BigId, ForeignKey("advocates.id"))
    conversion_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversions.id"))
    status: Mapped[ReferralStatus] = mapped_column(EnumText(ReferralStatus, 16))
    method: Mapped[AttributionMethod] = mapped_column(EnumText(AttributionMethod, 16))
    code: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[Any]] = mapped_column(Json)
    status_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reward(Base):
    __tablename__ = "rewards"
    __table_args__ = (
        UniqueConstraint("conversion_id", "beneficiary", "rule_key"),
        Index("ix_rewards_shop_id_advocate_id", "shop_id", "advocate_id"),
        Index("ix_rewards_shop_id_status", "shop_id", "status"),
        Index("ix_rewards_status_hold_until", "status", "hold_until"),
        Index("ix_rewards_status_next_store_attempt_at", "status", "next_store_attempt_at"),
        # Analytics (migration 0010): the value of rewards issued / redeemed in a period, read
        # from these indexes alone.
        Index(
            "ix_rewards_shop_id_issued_at",
            "shop_id",
            "issued_at",
            postgresql_include=["value", "currency", "status", "program_id"],
        ),
        Index(
            "ix_rewards_shop_id_redeemed_at",
            "shop_id",
            "redeemed_at",
            postgresql_include=["value", "currency", "program_id"],
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    referral_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("referrals.id"))
    conversion_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversions.id"))
    advocate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("advocates.id"))
    beneficiary: Mapped[Beneficiary] = mapped_column(EnumText(Beneficiary, 16))
    rule_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[RewardKind] = mapped_column(EnumText(RewardKind, 32))
    status: Mapped[RewardStatus] = mapped_column(EnumText(RewardStatus, 16))
    value: Mapped[Decimal | None] = mapped_column(Amount)  # current value (after reductions)
    nominal_value: Mapped[Decimal | None] = mapped_column(Amount)  # as decided
    points: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    debt_offset: Mapped[Decimal] = mapped_column(Amount)  # part of value that paid off debt
    spec: Mapped[dict[str, Any]] = mapped_column(Json)  # program_codec.reward_spec_to_dict
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    store_code: Mapped[str | None] = mapped_column(String(64))
    store_ref: Mapped[str | None] = mapped_column(String(255))
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversal_reason: Mapped[str | None] = mapped_column(String(255))
    revoke_state: Mapped[RevokeState] = mapped_column(EnumText(RevokeState, 16))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clawed_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Store calls (issue, then revoke if reversed): attempts, when to try next, the last error.
    store_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_store_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_store_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """Append-only: never updated or deleted. Written only by services.ledger.post_entry."""

    __tablename__ = "reward_ledger"
    __table_args__ = (Index("ix_reward_ledger_shop_id_advocate_id", "shop_id", "advocate_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    advocate_id: Mapped[int] = mapped_column(BigId, ForeignKey("advocates.id"))
    reward_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("rewards.id"))
    kind: Mapped[LedgerKind] = mapped_column(EnumText(LedgerKind, 16))
    amount: Mapped[Decimal] = mapped_column(Amount)  # signed
    unit: Mapped[str] = mapped_column(String(8))  # currency code, or "POINTS"
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CharityEntry(Base):
    """One donation per charity reward; `amount` follows the reward, `reversed_at` its reversal."""

    __tablename__ = "charity_ledger"
    __table_args__ = (
        UniqueConstraint("reward_id"),
        Index("ix_charity_ledger_shop_id_program_id", "shop_id", "program_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    charity: Mapped[str] = mapped_column(String(200))
    reward_id: Mapped[int] = mapped_column(BigId, ForeignKey("rewards.id"))
    amount: Mapped[Decimal] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
