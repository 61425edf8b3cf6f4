"""Tables for the shopper side: rate-limit counters and what the advocate pages need.

- `rate_limit_counters`: fixed-window counters of shopper actions (join now; claim and invite
  next), one row per (shop, scope, keyed hash of the IP or email, window start). No raw IP or
  email is stored: the key is an HMAC (`services.rate_limits`). Old windows are deleted when
  the same key is counted again.
- The program's public id (the join page's address) lives on `programs.public_id`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import BigId, UTCDateTime


class RateLimitCounter(Base):
    """How many times one key did one thing in one window of one shop."""

    __tablename__ = "rate_limit_counters"

    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey("shops.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "join:ip"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256 hex
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
