"""Tables for shopper emails (issue 6): unsubscribes, the friends an advocate invited, and the
automatic-enrollment cursor per program.

No raw email address is kept here: unsubscribes and invites hold a keyed HMAC of the identity
email (`services.email_unsubscribes.recipient_hash`, keyed from SECRET_KEY and the shop), so
the tables answer "is this address unsubscribed / already invited" and nothing else.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .orders import Conversion
from .types import BigId, UTCDateTime

SHOP_FK = "shops.id"


class EmailUnsubscribe(Base):
    """One address that asked the shop to send no more shopper emails (any kind)."""

    __tablename__ = "email_unsubscribes"
    __table_args__ = (UniqueConstraint("shop_id", "email_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    email_hash: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256 of the identity email
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FriendInvite(Base):
    """An advocate invited one friend address by email: once per advocate and address, ever."""

    __tablename__ = "friend_invites"
    __table_args__ = (UniqueConstraint("shop_id", "advocate_id", "friend_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    advocate_id: Mapped[int] = mapped_column(BigId, ForeignKey("advocates.id"))
    friend_hash: Mapped[str] = mapped_column(String(64))  # as EmailUnsubscribe.email_hash
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AutoEnrollCursor(Base):
    """How far automatic enrollment has read the shop's conversions for one program: every
    conversion updated before (`after_updated_at`, `after_conversion_id`) was looked at."""

    __tablename__ = "auto_enroll_cursors"
    __table_args__ = (UniqueConstraint("shop_id", "program_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    after_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    after_conversion_id: Mapped[int] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Automatic enrollment reads each shop's conversions in (updated_at, id) order; the index lives
# here, next to its only reader, and attaches to the conversions table (migration 0008).
Index(
    "ix_conversions_shop_id_updated_at_id",
    Conversion.shop_id,
    Conversion.updated_at,
    Conversion.id,
)
