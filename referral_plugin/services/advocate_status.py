"""Read-only: where an advocate's referrals and rewards stand, for their status page.

Every query is scoped by shop and advocate. Friends appear only as numbered referrals with
their order date: the advocate never sees a friend's email or order number here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.decisions import Beneficiary, CodeKind
from ..domain.lifecycle import RewardStatus
from ..domain.money import Money
from ..domain.programs import RewardKind
from ..domain.timeline import ReferralFacts, TimelineStep, referral_timeline
from ..errors import NotFound
from ..models import Advocate, Claim, Click, Code, Conversion, Referral, Reward


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferralLine:
    number: int  # 1 for the advocate's first referral
    steps: tuple[TimelineStep, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardLine:
    kind: RewardKind
    status: RewardStatus
    value: Money | None
    points: int | None
    percent: str | None  # a percent-off reward's percent, from its spec
    code: str | None  # the code in the store, once issued
    hold_until: datetime | None
    expires_at: datetime | None
    reason: str | None  # why it was reversed


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvocateStatus:
    first_name: str | None
    code: str
    balance: Money
    points: int
    clicks: int
    referrals: tuple[ReferralLine, ...]
    rewards: tuple[RewardLine, ...]


def advocate_status(session: Session, shop_id: int, advocate_id: int) -> AdvocateStatus:
    """The advocate's code, balance, link clicks, referrals (oldest first, each with its
    timeline) and rewards (newest first). Raises NotFound for another shop's advocate."""
    advocate = session.scalars(
        select(Advocate).where(Advocate.shop_id == shop_id, Advocate.id == advocate_id)
    ).one_or_none()
    if advocate is None:
        raise NotFound("advocate", advocate_id)
    code = session.scalars(
        select(Code).where(
            Code.shop_id == shop_id, Code.advocate_id == advocate_id, Code.kind == CodeKind.ADVOCATE
        )
    ).first()
    rewards = session.scalars(
        select(Reward)
        .where(
            Reward.shop_id == shop_id,
            Reward.advocate_id == advocate_id,
            Reward.beneficiary == Beneficiary.ADVOCATE,
        )
        .order_by(Reward.id)
    ).all()
    return AdvocateStatus(
        first_name=advocate.first_name,
        code="" if code is None else code.code,
        balance=Money(advocate.balance, advocate.currency),
        points=advocate.points,
        clicks=0 if code is None else _clicks(session, shop_id, code.id),
        referrals=_referrals(session, shop_id, advocate_id, rewards),
        rewards=tuple(_reward_line(reward) for reward in reversed(rewards)),
    )


def _clicks(session: Session, shop_id: int, code_id: int) -> int:
    query = select(func.count()).where(Click.shop_id == shop_id, Click.code_id == code_id)
    return int(session.execute(query).scalar_one())


def _referrals(
    session: Session, shop_id: int, advocate_id: int, rewards: list[Reward]
) -> tuple[ReferralLine, ...]:
    rows = session.execute(
        select(Referral, Conversion)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .where(
            Referral.shop_id == shop_id,
            Referral.advocate_id == advocate_id,
            Conversion.shop_id == shop_id,
        )
        .order_by(Referral.id)
    ).all()
    claims = dict(
        session.execute(
            select(Claim.identity_email, Claim.claimed_at).where(
                Claim.shop_id == shop_id, Claim.advocate_id == advocate_id
            )
        ).all()
    )
    by_referral: dict[int, Reward] = {}
    for reward in rewards:
        if reward.referral_id is not None:
            by_referral.setdefault(reward.referral_id, reward)
    lines = []
    for number, (referral, conversion) in enumerate(rows, start=1):
        reward = by_referral.get(referral.id)
        facts = ReferralFacts(
            status=referral.status,
            method=referral.method,
            ordered_at=_ordered_at(conversion),
            claimed_at=claims.get(conversion.identity_email or ""),
            hold_until=None if reward is None else reward.hold_until,
            approved_at=None if reward is None else reward.approved_at,
            reason=referral.status_reason or next(iter(referral.reasons or []), None),
        )
        lines.append(ReferralLine(number=number, steps=referral_timeline(facts)))
    return tuple(lines)


def _ordered_at(conversion: Conversion) -> datetime:
    """When the friend ordered, as well as we know it: paid, else when the order reached us."""
    if conversion.paid_at is not None and conversion.paid_at < conversion.decided_at:
        return conversion.paid_at
    return conversion.decided_at


def _reward_line(reward: Reward) -> RewardLine:
    percent = reward.spec.get("percent") if reward.kind is RewardKind.PERCENT_DISCOUNT else None
    return RewardLine(
        kind=reward.kind,
        status=reward.status,
        value=None if reward.value is None else Money(reward.value, reward.currency),
        points=reward.points,
        percent=None if percent is None else str(percent),
        code=reward.store_code,
        hold_until=reward.hold_until,
        expires_at=reward.expires_at,
        reason=reward.reversal_reason,
    )
