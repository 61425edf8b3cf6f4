"""Tables for a shop and its referral setup: shops, programs, advocates, codes, clicks, claims;
and the referral link's count of unknown codes per keyed IP (no shop: the code named none)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..domain.decisions import CodeKind
from ..domain.events import Platform
from ..domain.programs import ProgramKind
from .base import Base
from .enums import AdvocateStatus, ProgramStatus, ShopStatus
from .types import Amount, BigId, EnumText, Json, UTCDateTime

SHOP_FK = "shops.id"


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[Platform] = mapped_column(EnumText(Platform, 16))
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[ShopStatus] = mapped_column(EnumText(ShopStatus, 16))
    credentials: Mapped[str | None] = mapped_column(Text)  # SecretBox-sealed JSON object
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reconciliation: orders updated at or after this time are fetched on the next run.
    reconcile_watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The store asked us to slow down (429, THROTTLED): no call to it before this time.
    store_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Program(Base):
    __tablename__ = "programs"
    __table_args__ = (
        Index("ix_programs_shop_id_status", "shop_id", "status"),
        Index("ix_programs_public_id", "public_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    # The program's address on the shopper pages (`/p/<public_id>/join`): random, so program
    # ids are neither exposed nor guessable. Set on creation (migration 0006 filled old rows).
    public_id: Mapped[str | None] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ProgramKind] = mapped_column(EnumText(ProgramKind, 16))
    status: Mapped[ProgramStatus] = mapped_column(EnumText(ProgramStatus, 16))
    currency: Mapped[str] = mapped_column(String(3))
    config: Mapped[dict[str, Any]] = mapped_column(Json)  # program_codec.program_to_dict
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Advocate(Base):
    __tablename__ = "advocates"
    __table_args__ = (
        UniqueConstraint("program_id", "identity_email"),
        Index("ix_advocates_shop_id_program_id", "shop_id", "program_id"),
        Index("ix_advocates_shop_id_identity_email", "shop_id", "identity_email"),
        Index("ix_advocates_shop_id_customer_id", "shop_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    email: Mapped[str] = mapped_column(String(320))  # emails.normalize_email
    identity_email: Mapped[str] = mapped_column(String(320))  # emails.identity_email
    customer_id: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[AdvocateStatus] = mapped_column(EnumText(AdvocateStatus, 16))
    currency: Mapped[str] = mapped_column(String(3))  # the program's; the unit of `balance`
    # balance == sum(reward_ledger.amount where unit == currency); points likewise for POINTS.
    balance: Mapped[Decimal] = mapped_column(Amount)
    points: Mapped[int] = mapped_column(Integer)
    debt: Mapped[Decimal] = mapped_column(Amount)  # clawed back, absorbed by the next reward
    successful_referrals: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The language the advocate joined in (`languages.SHOPPER_LANGUAGES`): their emails speak
    # it. None when unknown (enrolled by the API or automatically): the store's language then.
    language: Mapped[str | None] = mapped_column(String(8))
    # The A/B group (`domain.experiments`): a variant key, "holdout", or None (enrolled while
    # no experiment assigned anyone). Set once at enrollment, with an `experiment_assignments`
    # row; the rules, the pages and the emails read it through `experiments.program_for`.
    variant: Mapped[str | None] = mapped_column(String(16))


# Codes the friend-code job still has to push (due) or that failed for good: a small index,
# since pushed codes and codes that never go to the store leave it.
CODES_IN_STORE_WORK = "store_next_attempt_at IS NOT NULL OR store_error IS NOT NULL"


class Code(Base):
    __tablename__ = "codes"
    __table_args__ = (
        UniqueConstraint("shop_id", "normalized"),
        Index("ix_codes_shop_id_advocate_id", "shop_id", "advocate_id"),
        Index(
            "ix_codes_shop_id_store_next_attempt_at",
            "shop_id",
            "store_next_attempt_at",
            postgresql_where=text(CODES_IN_STORE_WORK),
            sqlite_where=text(CODES_IN_STORE_WORK),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    advocate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("advocates.id"))
    reward_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("rewards.id"))
    kind: Mapped[CodeKind] = mapped_column(EnumText(CodeKind, 16))
    code: Mapped[str] = mapped_column(String(64))  # display form
    normalized: Mapped[str] = mapped_column(String(64))  # codes.normalize_code (upper case)
    friend_email: Mapped[str | None] = mapped_column(String(320))  # identity email
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An advocate's code in the store (the program's friend offer), or a friend's claimed code
    # (a single-use code of its own), pushed by `services.friend_codes`: due for the job while
    # `store_next_attempt_at` is set; in the store since `store_synced_at`; `store_error` says
    # why not (yet). Reward codes never go there this way.
    store_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    store_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    store_error: Mapped[str | None] = mapped_column(Text)
    store_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A friend's claimed (FRIEND) code: the address as they typed it (normalized), which the
    # store binds the code to; kept only until the code is in the store (then NULL).
    store_email: Mapped[str | None] = mapped_column(String(320))


class Click(Base):
    __tablename__ = "clicks"
    __table_args__ = (
        Index("ix_clicks_shop_id_code_id_created_at", "shop_id", "code_id", "created_at"),
        # Analytics (migration 0010): a period's clicks, counted per code from the index alone.
        Index(
            "ix_clicks_shop_id_created_at", "shop_id", "created_at", postgresql_include=["code_id"]
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("codes.id"))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    landing_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("program_id", "identity_email"),
        Index("ix_claims_shop_id_identity_email", "shop_id", "identity_email"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(BigId, ForeignKey(SHOP_FK))
    program_id: Mapped[int] = mapped_column(BigId, ForeignKey("programs.id"))
    advocate_id: Mapped[int] = mapped_column(BigId, ForeignKey("advocates.id"))
    identity_email: Mapped[str] = mapped_column(String(320))
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("codes.id"))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LinkMissCounter(Base):
    """Unknown codes asked for at `/r/<code>` by one keyed IP hash in one window: the link's
    guard against guessing codes (`services.clicks`). Not a shop's row: the code named none."""

    __tablename__ = "referral_link_misses"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256 hex
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
