"""Reward use cases for jobs and the admin: mature, issue, redeem, reverse, review queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.codes import normalize_code
from ..domain.decisions import CodeKind
from ..domain.lifecycle import IllegalTransition, ReferralStatus, RewardStatus
from ..errors import Conflict, NotFound
from ..models import (
    POINTS_UNIT,
    Advocate,
    Code,
    Conversion,
    LedgerEntry,
    Referral,
    RevokeState,
    Reward,
)
from . import merchant_webhooks, reward_moves
from .advocate_locks import lock_advocates
from .ledger import bump_successful_referrals

TERMINAL = frozenset({RewardStatus.REDEEMED, RewardStatus.EXPIRED, RewardStatus.REVERSED})


def mature_held_rewards(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Approve HELD rewards whose hold ended, unless their referral is under review.

    Returns how many were approved; approval absorbs the advocate's debt. Safe to run from
    several workers (PostgreSQL: rows claimed with FOR UPDATE SKIP LOCKED). Idempotent.
    """
    query = (
        select(Reward)
        .outerjoin(Referral, Referral.id == Reward.referral_id)
        .where(
            Reward.status == RewardStatus.HELD,
            Reward.hold_until <= now,
            or_(Referral.id.is_(None), Referral.status != ReferralStatus.REVIEW),
        )
        .order_by(Reward.hold_until, Reward.id)
        .limit(limit)
    )
    query = query.with_for_update(skip_locked=True, of=Reward)  # SQLite renders none
    rewards = session.scalars(query).all()
    lock_advocates(session, (reward.advocate_id for reward in rewards))  # see advocate_locks
    for reward in rewards:
        reward_moves.approve(session, reward, now)
    session.flush()
    return len(rewards)


def rewards_due_for_issue(
    session: Session, *, shop_id: int | None = None, limit: int = 100
) -> list[Reward]:
    """APPROVED rewards, oldest approval first, for the issuing worker (every kind: the
    worker fulfils store kinds in the store and records cash/charity/custom as issued)."""
    query = select(Reward).where(Reward.status == RewardStatus.APPROVED)
    if shop_id is not None:
        query = query.where(Reward.shop_id == shop_id)
    return list(session.scalars(query.order_by(Reward.approved_at, Reward.id).limit(limit)))


def count_rewards_due_for_issue(session: Session) -> int:
    """How many rewards are approved and waiting to be issued, across shops (for `status`)."""
    query = select(func.count()).select_from(Reward).where(Reward.status == RewardStatus.APPROVED)
    return session.scalar(query) or 0


def rewards_due_for_revoke(
    session: Session, *, shop_id: int | None = None, limit: int = 100
) -> list[Reward]:
    """Reversed rewards whose store code must still be disabled (revoke_state == pending)."""
    query = select(Reward).where(Reward.revoke_state == RevokeState.PENDING)
    if shop_id is not None:
        query = query.where(Reward.shop_id == shop_id)
    return list(session.scalars(query.order_by(Reward.reversed_at, Reward.id).limit(limit)))


def mark_reward_revoked(session: Session, shop_id: int, reward_id: int, *, now: datetime) -> None:
    """Record that the store code of a reversed reward is disabled. Idempotent."""
    reward = _reward(session, shop_id, reward_id)
    if reward.revoke_state is RevokeState.PENDING:
        reward.revoke_state = RevokeState.DONE
        reward.revoked_at = now
        reward.updated_at = now


def _reward(session: Session, shop_id: int, reward_id: int) -> Reward:
    reward = session.scalars(
        select(Reward).where(Reward.shop_id == shop_id, Reward.id == reward_id)
    ).one_or_none()
    if reward is None:
        raise NotFound("reward", reward_id)
    return reward


def mark_reward_issued(
    session: Session,
    shop_id: int,
    reward_id: int,
    *,
    store_code: str,
    store_ref: str | None = None,
    now: datetime,
) -> Reward:
    """APPROVED -> ISSUED with the store's code, which becomes a REWARD code we recognise
    on later orders. Idempotent for the same code; raises NotFound, IllegalTransition, or
    Conflict when the code belongs to something else."""
    reward = _reward(session, shop_id, reward_id)
    if reward.status is RewardStatus.ISSUED and reward.store_code == store_code:
        return reward
    reward_moves.check_issue(reward)
    code = Code(
        shop_id=shop_id,
        program_id=reward.program_id,
        advocate_id=reward.advocate_id,
        reward_id=reward.id,
        kind=CodeKind.REWARD,
        code=store_code,
        normalized=normalize_code(store_code),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(code)
    except IntegrityError as exc:
        raise Conflict(f"code {store_code!r} already exists in this shop") from exc
    reward.status = RewardStatus.ISSUED
    reward.store_code, reward.store_ref = store_code, store_ref
    reward.issued_at = reward.updated_at = now
    days = reward.spec.get("expires_in_days")
    reward.expires_at = now + timedelta(days=int(days)) if days else None
    session.flush()
    merchant_webhooks.record_reward_issued(session, reward, now)
    return reward


def mark_reward_redeemed(
    session: Session, shop_id: int, reward_id: int, *, now: datetime
) -> Reward:
    """ISSUED -> REDEEMED (ledger minus what the advocate used). Idempotent when already
    redeemed; raises NotFound or IllegalTransition from other states."""
    reward = _reward(session, shop_id, reward_id)
    if reward.status is not RewardStatus.REDEEMED:
        reward_moves.redeem(session, reward, now)
        session.flush()
    return reward


def reverse_reward(
    session: Session, shop_id: int, reward_id: int, *, reason: str, now: datetime
) -> Reward:
    """Reverse one reward (merchant decision): ledger minus its value; an issued code is
    queued for revocation. Raises NotFound or IllegalTransition (redeemed, expired, reversed)."""
    reward = _reward(session, shop_id, reward_id)
    reward_moves.reverse(session, reward, reason, now)
    session.flush()
    return reward


def _referral(session: Session, shop_id: int, referral_id: int) -> Referral:
    referral = session.scalars(
        select(Referral).where(Referral.shop_id == shop_id, Referral.id == referral_id)
    ).one_or_none()
    if referral is None:
        raise NotFound("referral", referral_id)
    if referral.status is not ReferralStatus.REVIEW:
        raise IllegalTransition(f"referral is {referral.status}, not under review")
    return referral


def approve_referral(
    session: Session, shop_id: int, referral_id: int, *, now: datetime
) -> Referral:
    """Release a referral from review: CONVERTED if its order is paid, else PENDING. Its held
    rewards then mature when their hold ends. Raises NotFound or IllegalTransition."""
    referral = _referral(session, shop_id, referral_id)
    paid = session.scalars(
        select(Conversion.paid).where(Conversion.id == referral.conversion_id)
    ).one()
    referral.status = ReferralStatus.CONVERTED if paid else ReferralStatus.PENDING
    referral.status_reason = "approved_by_merchant"
    referral.updated_at = now
    session.flush()
    return referral


def reject_referral(
    session: Session,
    shop_id: int,
    referral_id: int,
    *,
    now: datetime,
    reason: str = "rejected_by_merchant",
) -> Referral:
    """Reject a referral under review and reverse its rewards. Raises NotFound or
    IllegalTransition."""
    referral = _referral(session, shop_id, referral_id)
    referral.status = ReferralStatus.REJECTED
    referral.status_reason = reason
    referral.updated_at = now
    bump_successful_referrals(session, shop_id=shop_id, advocate_id=referral.advocate_id, by=-1)
    rewards = session.scalars(
        select(Reward).where(Reward.shop_id == shop_id, Reward.referral_id == referral.id)
    ).all()
    for reward in rewards:
        if reward.status not in TERMINAL:
            reward_moves.reverse(session, reward, reason, now)
    session.flush()
    return referral


def advocate_balance(session: Session, shop_id: int, advocate_id: int) -> dict[str, object]:
    """The advocate's balance, points and debt, and the ledger sums they must equal."""
    advocate = session.scalars(
        select(Advocate).where(Advocate.shop_id == shop_id, Advocate.id == advocate_id)
    ).one_or_none()
    if advocate is None:
        raise NotFound("advocate", advocate_id)
    sums = dict(
        session.execute(
            select(LedgerEntry.unit, func.coalesce(func.sum(LedgerEntry.amount), 0))
            .where(LedgerEntry.shop_id == shop_id, LedgerEntry.advocate_id == advocate_id)
            .group_by(LedgerEntry.unit)
        ).all()
    )
    return {
        "currency": advocate.currency,
        "balance": advocate.balance,
        "points": advocate.points,
        "debt": advocate.debt,
        "ledger_balance": Decimal(str(sums.get(advocate.currency, 0))),
        "ledger_points": int(sums.get(POINTS_UNIT, 0)),
    }
