"""Tables for connecting stores and keeping them connected.

- `connect_requests`: one-time WooCommerce key-flow requests. The random `user_id` we hand to
  `/wc-auth/v1/authorize` maps to the store URL the merchant typed; WooCommerce's key POST does
  not name the store and is not signed, so this row is the only link. Only a hash of the
  `user_id` is kept; the row expires, is used once, and keeps the outcome for the return page.
- `shop_job_leases`: per-shop, per-job leases of the worker's store jobs (reconcile orders,
  ensure webhook subscriptions), so several workers never call one store for the same job at
  once, and the last outcome (with the error) stays visible per shop.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.events import Platform
from .base import Base
from .types import BigId, EnumText, UTCDateTime


class ConnectRequest(Base):
    """A merchant asked to connect a store; its outcome once the platform called back."""

    __tablename__ = "connect_requests"
    __table_args__ = (Index("ix_connect_requests_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[Platform] = mapped_column(EnumText(Platform, 16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the user_id
    store_url: Mapped[str] = mapped_column(String(255))  # store_url.normalize_store_url
    status: Mapped[str] = mapped_column(String(16))  # pending / connected / failed / declined
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, shown to the merchant
    shop_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("shops.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShopJobLease(Base):
    """One store job's lease and last outcome for one shop."""

    __tablename__ = "shop_job_leases"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"), primary_key=True)
    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))  # ok / failed
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
