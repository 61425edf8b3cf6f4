"""What a shopper email draft says, read from the database when the worker renders it.

`facts_for_draft` turns one outbox draft (`services.shopper_emails`) into `EmailFacts`: plain
values for the renderer (`referral_plugin.email_rendering`), or a `Skip` with the reason the
email must not go out any more (switched off, the reward moved on, the advocate was blocked or
redacted). Reading at render time rather than at queue time means an email never states
something that stopped being true while it waited. Every query is scoped to the draft's shop.

The recipient's language: an advocate's own (`advocates.language`, recorded at join), an
invitation's page language, a friend's language as an advocate of the program if they are one;
else the program's store language, else English.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.decisions import Beneficiary, CodeKind
from ..domain.emails import identity_email
from ..domain.experiments import program_for
from ..domain.languages import DEFAULT_LANGUAGE, supported_language
from ..domain.lifecycle import RewardStatus
from ..domain.money import Money
from ..domain.offers import RewardTerms
from ..domain.programs import Program, RewardKind, ShopperEmail
from ..models import (
    Advocate,
    AdvocateStatus,
    Code,
    Conversion,
    OutboxMessage,
    Referral,
    Reward,
    Shop,
)
from ..models import Program as ProgramRow
from .snapshots import load_program

# Rewards whose store code the shopper types at checkout (the others have no code to show).
CHECKOUT_CODE_KINDS = frozenset(
    {
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FIXED_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.FREE_PRODUCT,
    }
)
# Drafts of these kinds name an advocate (`advocate_id`); the others name a reward.
ADVOCATE_DRAFTS = {ShopperEmail.WELCOME, ShopperEmail.SHARE_NUDGE, ShopperEmail.INVITE}


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str  # recorded in the outbox row's last_error


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardFacts:
    terms: RewardTerms
    code: str | None  # the code to type at checkout, once issued
    hold_until: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailFacts:
    kind: ShopperEmail
    shop_id: int
    recipient: str
    language: str
    store_name: str
    store_url: str
    program: Program
    public_id: str
    to_advocate: bool  # the recipient is the advocate: the email carries their status link
    advocate_code: str | None = None  # the advocate's share code (theirs, or the inviter's)
    code_in_store: bool = False  # that code is a discount in the store (friends can type it)
    advocate_name: str | None = None  # the inviter's first name
    reward: RewardFacts | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Source:
    shop: Shop
    program_row: ProgramRow
    program: Program


def facts_for_draft(session: Session, message: OutboxMessage, now: datetime) -> EmailFacts | Skip:
    """The facts of one draft, or why it is not sent. Read-only."""
    draft = message.payload.get("draft")
    kind = _kind(draft)
    if kind is None or not isinstance(draft, dict):
        return Skip("nothing to send")  # e.g. redacted while it waited
    if identity_email(message.recipient) is None:
        return Skip("no valid address")
    if kind in ADVOCATE_DRAFTS:
        return _advocate_facts(session, message, kind, draft)
    return _reward_facts(session, message, kind, draft, now)


def _kind(draft: Any) -> ShopperEmail | None:
    kind = draft.get("kind") if isinstance(draft, dict) else None
    try:
        return ShopperEmail(kind) if isinstance(kind, str) else None
    except ValueError:
        return None


def _advocate_facts(
    session: Session, message: OutboxMessage, kind: ShopperEmail, draft: dict[str, Any]
) -> EmailFacts | Skip:
    advocate = _advocate(session, message.shop_id, draft.get("advocate_id"))
    if advocate is None:
        return Skip("advocate inactive")
    source = _source(session, message.shop_id, advocate.program_id, kind)
    if isinstance(source, Skip):
        return source
    invite = kind is ShopperEmail.INVITE
    own_language = draft.get("language") if invite else advocate.language
    code, in_store = _advocate_code(session, advocate)
    return _facts(
        _seen_by(source, advocate.variant), kind, message, own_language, to_advocate=not invite,
        advocate_code=code, code_in_store=in_store,
        advocate_name=advocate.first_name if invite else None,
    )  # fmt: skip


def _reward_facts(
    session: Session,
    message: OutboxMessage,
    kind: ShopperEmail,
    draft: dict[str, Any],
    now: datetime,
) -> EmailFacts | Skip:
    reward = session.scalars(
        select(Reward).where(Reward.shop_id == message.shop_id, Reward.id == draft.get("reward_id"))
    ).one_or_none()
    if reward is None:
        return Skip("nothing to send")
    moved_on = _moved_on(reward, kind, now)
    if moved_on is not None:
        return moved_on
    source = _source(session, message.shop_id, reward.program_id, kind)
    if isinstance(source, Skip):
        return source
    advocate = None
    if reward.beneficiary is Beneficiary.ADVOCATE:
        advocate = _advocate(session, message.shop_id, reward.advocate_id)
        if advocate is None:
            return Skip("advocate inactive")
    language = advocate.language if advocate else _friend_language(session, reward)
    code = None if advocate is None else _advocate_code(session, advocate)[0]
    variant = advocate.variant if advocate else _referrers_variant(session, reward)
    return _facts(
        _seen_by(source, variant), kind, message, language, to_advocate=advocate is not None,
        advocate_code=code, reward=_reward(reward),
    )  # fmt: skip


def _seen_by(source: _Source, variant: str | None) -> _Source:
    """The source with the program as A/B group `variant` sees it (the offer in the email)."""
    return dataclasses.replace(source, program=program_for(source.program, variant))


def _referrers_variant(session: Session, reward: Reward) -> str | None:
    """The A/B group of the advocate whose referral earned a friend's reward."""
    return session.scalar(
        select(Advocate.variant)
        .join(Referral, (Referral.advocate_id == Advocate.id) & (Referral.id == reward.referral_id))
        .where(Advocate.shop_id == reward.shop_id, Referral.shop_id == reward.shop_id)
    )


def _moved_on(reward: Reward, kind: ShopperEmail, now: datetime) -> Skip | None:
    """Why the reward's email no longer fits the reward, if it does not."""
    if kind is ShopperEmail.REWARD_PENDING and reward.status is not RewardStatus.HELD:
        return Skip("reward no longer pending")
    if kind in (ShopperEmail.REWARD_ISSUED, ShopperEmail.EXPIRY_REMINDER) and (
        reward.status is not RewardStatus.ISSUED
    ):
        return Skip("reward no longer ready to use")
    expired = reward.expires_at is not None and reward.expires_at <= now
    if kind is ShopperEmail.EXPIRY_REMINDER and expired:
        return Skip("reward expired")
    return None


def _facts(
    source: _Source,
    kind: ShopperEmail,
    message: OutboxMessage,
    own_language: str | None,
    **details: Any,
) -> EmailFacts:
    language = (
        supported_language(own_language)
        or supported_language(source.program.appearance.language)
        or DEFAULT_LANGUAGE
    )
    domain = source.shop.domain
    return EmailFacts(
        kind=kind,
        shop_id=source.shop.id,
        recipient=message.recipient,
        language=language,
        store_name=source.shop.name or domain,
        store_url=domain if "://" in domain else f"https://{domain}",
        program=source.program,
        public_id=source.program_row.public_id or "",
        **details,
    )


def _source(session: Session, shop_id: int, program_id: int, kind: ShopperEmail) -> _Source | Skip:
    row = session.execute(
        select(ProgramRow, Shop)
        .join(Shop, Shop.id == ProgramRow.shop_id)
        .where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one()
    program = load_program(row[0])
    if not program.emails.sends(kind):
        return Skip("switched off")
    if row[0].public_id is None:
        return Skip("program has no public address")
    return _Source(shop=row[1], program_row=row[0], program=program)


def _advocate(session: Session, shop_id: int, advocate_id: object) -> Advocate | None:
    if not isinstance(advocate_id, int):
        return None
    return session.scalars(
        select(Advocate).where(
            Advocate.shop_id == shop_id,
            Advocate.id == advocate_id,
            Advocate.status == AdvocateStatus.ACTIVE,
        )
    ).one_or_none()


def _advocate_code(session: Session, advocate: Advocate) -> tuple[str | None, bool]:
    """The advocate's share code, and whether it is in the store yet."""
    row = session.execute(
        select(Code.code, Code.store_synced_at)
        .where(
            Code.shop_id == advocate.shop_id,
            Code.advocate_id == advocate.id,
            Code.kind == CodeKind.ADVOCATE,
        )
        .order_by(Code.id)
        .limit(1)
    ).one_or_none()
    return (None, False) if row is None else (row.code, row.store_synced_at is not None)


def _friend_language(session: Session, reward: Reward) -> str | None:
    """The friend's language, known when the friend is also an advocate of the program."""
    identity = session.scalars(
        select(Conversion.identity_email).where(
            Conversion.shop_id == reward.shop_id, Conversion.id == reward.conversion_id
        )
    ).one_or_none()
    if identity is None:
        return None
    return session.scalars(
        select(Advocate.language).where(
            Advocate.shop_id == reward.shop_id,
            Advocate.program_id == reward.program_id,
            Advocate.identity_email == identity,
        )
    ).one_or_none()


def _reward(reward: Reward) -> RewardFacts:
    spec = reward.spec
    percent = spec.get("percent") if reward.kind is RewardKind.PERCENT_DISCOUNT else None
    money = None
    if reward.value is not None and reward.kind in (
        RewardKind.FIXED_DISCOUNT,
        RewardKind.STORE_CREDIT,
        RewardKind.CASH,
        RewardKind.CHARITY,
    ):
        money = Money(reward.value - reward.debt_offset, reward.currency)
    label = spec.get("charity") if reward.kind is RewardKind.CHARITY else spec.get("description")
    terms = RewardTerms(
        kind=reward.kind,
        percent=None if percent is None else Decimal(str(percent)),
        money=money,
        points=reward.points,
        label=label,
    )
    code = reward.store_code if reward.kind in CHECKOUT_CODE_KINDS else None
    return RewardFacts(
        terms=terms, code=code, hold_until=reward.hold_until, expires_at=reward.expires_at
    )
