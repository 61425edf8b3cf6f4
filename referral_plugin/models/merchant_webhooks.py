"""Tables for the merchant's outbound webhooks: registered endpoints and the delivery log.

- `merchant_webhook_endpoints`: one URL of the merchant's CRM/ESP with the events it wants, its
  signing secret (sealed with the `SecretBox`), whether it is active, and why it was disabled.
- `merchant_webhook_deliveries`: one event for one endpoint (the transactional outbox and the
  delivery log in one row): the exact JSON body sent on every attempt, the attempt count, the
  last answer, the next attempt and the sender's lease. Unique per (endpoint, dedup key), so
  recording the same happening twice is a no-op.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import BigId, EnumText, Json, UTCDateTime

# The conventional name would pass PostgreSQL's 63-character limit.
ENDPOINT_FK = "fk_merchant_webhook_deliveries_endpoint_id"


class MerchantDeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (a first try or a retry)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # gave up (max attempts, 410 Gone, endpoint disabled); replayable


class MerchantWebhookEndpoint(Base):
    """A URL the merchant registered for some event types."""

    __tablename__ = "merchant_webhook_endpoints"
    __table_args__ = (Index("ix_merchant_webhook_endpoints_shop_id_active", "shop_id", "active"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(255))
    events: Mapped[list[Any]] = mapped_column(Json)  # event type names, sorted
    active: Mapped[bool] = mapped_column(Boolean)
    secret: Mapped[str] = mapped_column(Text)  # SecretBox-sealed signing secret
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first failure in a row
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MerchantWebhookDelivery(Base):
    """One event for one endpoint: what is sent, and how sending it went."""

    __tablename__ = "merchant_webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "dedup_key"),
        Index(
            "ix_merchant_webhook_deliveries_shop_id_endpoint_id_id", "shop_id", "endpoint_id", "id"
        ),
        Index("ix_merchant_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"))
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("merchant_webhook_endpoints.id", name=ENDPOINT_FK)
    )
    event_id: Mapped[str] = mapped_column(String(36))  # uuid4, the same for every endpoint
    event_type: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(255))  # e.g. "reward.issued:42"
    body: Mapped[str] = mapped_column(Text)  # the exact JSON sent (and signed) every attempt
    status: Mapped[MerchantDeliveryStatus] = mapped_column(EnumText(MerchantDeliveryStatus, 16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a sender's lease
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
