"""Reward state moves with their ledger effects, shared by the order and reward services.

Ledger rules (see services/ledger.py for the balance invariant):
- earned: +value for an advocate's money reward (MONEY_VALUE_KINDS), +points for points;
- reversed: minus the current value (or points); debt the reward absorbed goes back to debt;
- adjustment: the difference when a percent-of-order reward shrinks after a partial refund;
- redeemed: minus what the advocate actually used, value - debt_offset;
- clawback: minus the value of a redeemed reward whose order was refunded; debt grows by it.
Debt is absorbed when a reward is APPROVED (it survived the return window): min(debt, value)
moves into the reward's debt_offset, so the code issued in the store is worth value - offset.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from ..domain.decisions import Beneficiary
from ..domain.lifecycle import RewardStatus, check_move
from ..domain.programs import MONEY_VALUE_KINDS, RewardKind
from ..models import POINTS_UNIT, Advocate, CharityEntry, LedgerKind, RevokeState, Reward
from . import merchant_webhooks, shopper_emails
from .ledger import add_debt, post_entry

ZERO = Decimal(0)


def earned_entry(
    beneficiary: Beneficiary,
    advocate_id: int | None,
    kind: RewardKind,
    value: Decimal | None,
    currency: str,
    points: int | None,
) -> tuple[Decimal | int, str] | None:
    """What creating a reward posts to its advocate's ledger, as (amount, unit): money in the
    reward's currency, or points; None for a reward that holds neither (a friend's reward, a
    gift, a charity donation). For a stored reward (`book_earned`) and a decided one (the
    referral batch, `referral_writes`)."""
    if beneficiary is not Beneficiary.ADVOCATE or advocate_id is None:
        return None
    if kind in MONEY_VALUE_KINDS and value is not None:
        return value, currency
    if kind is RewardKind.POINTS and points is not None:
        return points, POINTS_UNIT
    return None


def _earned(reward: Reward) -> tuple[Decimal | int, str] | None:
    return earned_entry(
        reward.beneficiary, reward.advocate_id, reward.kind, reward.value, reward.currency,
        reward.points,
    )  # fmt: skip


def holds_money(reward: Reward) -> bool:
    """True when the reward's value counts toward the advocate's money balance."""
    earned = _earned(reward)
    return earned is not None and earned[1] != POINTS_UNIT


def holds_points(reward: Reward) -> bool:
    earned = _earned(reward)
    return earned is not None and earned[1] == POINTS_UNIT


def _post(
    session: Session,
    reward: Reward,
    kind: LedgerKind,
    amount: Decimal | int,
    unit: str,
    now: datetime,
    note: str | None = None,
) -> None:
    assert reward.advocate_id is not None
    post_entry(
        session,
        shop_id=reward.shop_id,
        advocate_id=reward.advocate_id,
        reward_id=reward.id,
        kind=kind,
        amount=amount,
        unit=unit,
        now=now,
        note=note,
    )


def book_earned(session: Session, reward: Reward, now: datetime) -> None:
    """Ledger and charity effects of a newly created reward (call once, after flush)."""
    earned = _earned(reward)
    if earned is not None:
        _post(session, reward, LedgerKind.EARNED, *earned, now)
    if reward.kind is RewardKind.CHARITY and reward.value is not None:
        session.add(
            CharityEntry(
                shop_id=reward.shop_id,
                program_id=reward.program_id,
                charity=str(reward.spec.get("charity") or ""),
                reward_id=reward.id,
                amount=reward.value,
                currency=reward.currency,
                created_at=now,
            )
        )


def _move(reward: Reward, target: RewardStatus, now: datetime) -> None:
    check_move(reward.status, target)
    reward.status = target
    reward.updated_at = now


def hold(reward: Reward, hold_until: datetime, now: datetime) -> None:
    """PENDING -> HELD until `hold_until`; a HELD reward gets `hold_until` recomputed. The
    first move queues the beneficiary's "reward pending" email in the same transaction."""
    became_held = reward.status is RewardStatus.PENDING
    if became_held:
        _move(reward, RewardStatus.HELD, now)
    if reward.status is RewardStatus.HELD and reward.hold_until != hold_until:
        reward.hold_until = hold_until
        reward.updated_at = now
    session = object_session(reward)
    if became_held and session is not None:
        shopper_emails.queue_reward_pending(session, reward, now)


def approve(session: Session, reward: Reward, now: datetime) -> None:
    """HELD -> APPROVED, absorbing the advocate's debt into the reward's debt_offset."""
    _move(reward, RewardStatus.APPROVED, now)
    reward.approved_at = now
    merchant_webhooks.record_referral_approved(session, reward, now)
    if not holds_money(reward) or reward.value is None:
        return
    debt = session.execute(
        select(Advocate.debt).where(
            Advocate.id == reward.advocate_id, Advocate.shop_id == reward.shop_id
        )
    ).scalar_one()
    offset = min(debt, reward.value - reward.debt_offset)
    if offset > 0:
        reward.debt_offset += offset
        add_debt(
            session, shop_id=reward.shop_id, advocate_id=reward.advocate_id or 0, amount=-offset
        )


def reverse(session: Session, reward: Reward, reason: str, now: datetime) -> None:
    """Any non-terminal state -> REVERSED: ledger minus the value, absorbed debt given back,
    charity entry marked reversed, and an ISSUED code queued for revocation in the store."""
    was_issued = reward.status is RewardStatus.ISSUED
    _move(reward, RewardStatus.REVERSED, now)
    reward.reversed_at = now
    reward.reversal_reason = reason[:255]
    if was_issued:
        reward.revoke_state = RevokeState.PENDING
    if holds_money(reward):
        _post(
            session,
            reward,
            LedgerKind.REVERSED,
            -(reward.value or ZERO),
            reward.currency,
            now,
            reason[:255],
        )
        _give_back_offset(session, reward, reward.debt_offset)
    elif holds_points(reward):
        _post(session, reward, LedgerKind.REVERSED, -(reward.points or 0), POINTS_UNIT, now)
    session.execute(
        update(CharityEntry)
        .where(CharityEntry.reward_id == reward.id, CharityEntry.reversed_at.is_(None))
        .values(reversed_at=now)
    )
    merchant_webhooks.record_reward_reversed(session, reward, now)


def _give_back_offset(session: Session, reward: Reward, amount: Decimal) -> None:
    if amount > 0:
        reward.debt_offset -= amount
        add_debt(
            session, shop_id=reward.shop_id, advocate_id=reward.advocate_id or 0, amount=amount
        )


def redeem(session: Session, reward: Reward, now: datetime) -> None:
    """ISSUED -> REDEEMED; the ledger loses what the advocate used (value - debt_offset)."""
    _move(reward, RewardStatus.REDEEMED, now)
    reward.redeemed_at = now
    if holds_money(reward):
        used = (reward.value or ZERO) - reward.debt_offset
        _post(session, reward, LedgerKind.REDEEMED, -used, reward.currency, now)


def claw_back(session: Session, reward: Reward, reason: str, now: datetime) -> None:
    """A REDEEMED money reward whose order became void: its value becomes the advocate's
    debt (once; guarded by clawed_back_at)."""
    if reward.status is not RewardStatus.REDEEMED or reward.clawed_back_at is not None:
        return
    if not holds_money(reward):
        return
    reward.clawed_back_at = now
    reward.updated_at = now
    value = reward.value or ZERO
    _post(session, reward, LedgerKind.CLAWBACK, -value, reward.currency, now, reason[:255])
    add_debt(session, shop_id=reward.shop_id, advocate_id=reward.advocate_id or 0, amount=value)


def reduce_value(session: Session, reward: Reward, new_value: Decimal, now: datetime) -> None:
    """Lower a reward's value (never raise it); ledger `adjustment` for the difference."""
    current = reward.value
    if current is None or new_value >= current:
        return
    reward.value = new_value
    reward.updated_at = now
    if holds_money(reward):
        _post(
            session,
            reward,
            LedgerKind.ADJUSTMENT,
            new_value - current,
            reward.currency,
            now,
            "partial refund",
        )
        if reward.debt_offset > new_value:
            _give_back_offset(session, reward, reward.debt_offset - new_value)
    session.execute(
        update(CharityEntry).where(CharityEntry.reward_id == reward.id).values(amount=new_value)
    )


def restate_reversed_value(
    session: Session, reward: Reward, new_value: Decimal, now: datetime
) -> None:
    """Lower a reversed reward's recorded value to what the order's merged state says, so the
    final rows do not depend on whether a refund arrived before or after the reversal.

    No ledger entry: a reversed reward's entries already net to zero either way.
    """
    if reward.value is None or new_value >= reward.value:
        return
    reward.value = new_value
    reward.updated_at = now
    session.execute(
        update(CharityEntry).where(CharityEntry.reward_id == reward.id).values(amount=new_value)
    )


def check_issue(reward: Reward) -> None:
    """Raise IllegalTransition unless the reward may move to ISSUED."""
    check_move(reward.status, RewardStatus.ISSUED)
