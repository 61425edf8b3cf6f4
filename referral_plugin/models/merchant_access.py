"""Tables for merchant dashboard access (issue 7): magic links and sessions.

- `merchant_sign_in_links`: one emailed sign-in link each. Only the SHA-256 of the link's
  random token is kept; a link is used at most once (`used_at`, set by one conditional UPDATE)
  and expires 15 minutes after it was sent.
- `merchant_sessions`: one signed-in browser each. The cookie holds a random token; only its
  SHA-256 is kept. A session ends at `expires_at` (absolute), after an idle gap longer than the
  configured idle time since `last_seen_at`, or at sign-out (`ended_at`).

Shopify merchants inside Shopify admin need neither: every request carries an App Bridge
session token (see `web/dashboard/access.py`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import BigId, UTCDateTime

SHOP_FK = "shops.id"


class MerchantSignInLink(Base):
    """A single-use sign-in link sent to the store's admin email."""

    __tablename__ = "merchant_sign_in_links"
    __table_args__ = (
        Index("ix_merchant_sign_in_links_shop_id_expires_at", "shop_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MerchantSession(Base):
    """A signed-in dashboard browser of one shop."""

    __tablename__ = "merchant_sessions"
    __table_args__ = (Index("ix_merchant_sessions_shop_id_expires_at", "shop_id", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the cookie
    actor: Mapped[str] = mapped_column(String(255))  # who, for the audit log
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute end
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # signed out
