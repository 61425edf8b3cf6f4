"""Tables for privacy compliance: customer data requests and redactions.

- `data_requests`: one row per data request of a store (Shopify `customers/data_request`),
  unique on the platform's request id, so a redelivery produces one export. The export is the
  JSON of everything we hold about that customer; a later redaction of the same customer erases
  it (status `erased`, export and identity gone).
- `redactions`: the record that a customer's personal data was erased: when, and how many rows
  of each table were touched. It holds no personal data: `request_key` is a keyed digest of the
  request, so a redelivery or a replay records one redaction.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import BigId, EnumText, Json, UTCDateTime

SHOP_FK = "shops.id"


class DataRequestStatus(StrEnum):
    READY = "ready"  # the export is stored and can be fetched
    ERASED = "erased"  # the customer was redacted since: the export is gone


class DataRequest(Base):
    """A store asked what we hold about one customer; the export we answer with."""

    __tablename__ = "data_requests"
    __table_args__ = (
        UniqueConstraint("shop_id", "request_id"),
        Index("ix_data_requests_shop_id_created_at", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    request_id: Mapped[str] = mapped_column(String(255))  # the platform's data request id
    status: Mapped[DataRequestStatus] = mapped_column(EnumText(DataRequestStatus, 16))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    order_ids: Mapped[list[Any] | None] = mapped_column(Json)  # the orders the request names
    export: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Redaction(Base):
    """One customer redaction done: when and how many rows per table (no personal data)."""

    __tablename__ = "redactions"
    __table_args__ = (
        UniqueConstraint("shop_id", "request_key"),
        Index("ix_redactions_shop_id_created_at", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    request_key: Mapped[str] = mapped_column(String(64))  # keyed digest of the request
    counts: Mapped[dict[str, Any]] = mapped_column(Json)  # table -> rows redacted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
