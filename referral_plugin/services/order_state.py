"""Applies an order's merged state to its conversion, referral and rewards (idempotently).

Everything here is a function of the merged `OrderState`, so the same set of events gives the
same result whatever order they arrived in: paid holds pending rewards, a partial refund shrinks
percent-of-order rewards (PROPORTIONAL policy), and a void order (cancelled, fully refunded, or
refunded below the program minimum) reverses the referral and every reward still reversible,
clawing back those already redeemed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..domain.money import Money
from ..domain.orders import OrderState
from ..domain.programs import PartialRefundPolicy, Program, ValueBasis
from ..models import Conversion, Referral, Reward
from ..models import Program as ProgramRow
from . import reward_moves
from .ledger import bump_successful_referrals
from .snapshots import COUNTED_REFERRAL_STATUSES, load_program

REDUCIBLE = frozenset({RewardStatus.PENDING, RewardStatus.HELD, RewardStatus.APPROVED})
TERMINAL = frozenset({RewardStatus.REDEEMED, RewardStatus.EXPIRED, RewardStatus.REVERSED})


def apply_order_state(
    session: Session, conversion: Conversion, state: OrderState, *, now: datetime
) -> None:
    """Bring the conversion, its referral and rewards in line with `state`. Idempotent."""
    _update_flags(conversion, state, now)
    if conversion.program_id is None:  # never attributed: no referral, no rewards to load
        return
    referral = session.scalars(
        select(Referral).where(
            Referral.shop_id == conversion.shop_id, Referral.conversion_id == conversion.id
        )
    ).one_or_none()
    rewards = session.scalars(
        select(Reward)
        .where(Reward.shop_id == conversion.shop_id, Reward.conversion_id == conversion.id)
        .order_by(Reward.id)
    ).all()
    if referral is None and not rewards:
        return
    apply_to_referral(session, state, referral, rewards, _program(session, conversion), now=now)


def apply_to_referral(
    session: Session,
    state: OrderState,
    referral: Referral | None,
    rewards: Sequence[Reward],
    program: Program,
    *,
    now: datetime,
) -> None:
    """`apply_order_state` for a referral and rewards already loaded (or just created)."""
    if program.partial_refund_policy is PartialRefundPolicy.PROPORTIONAL:
        _reduce_for_refunds(session, program, rewards, state, now)
    reason = void_reason(state, program)
    if reason is not None:
        _void(session, referral, rewards, reason, now)
    elif (until := hold_until(state, program)) is not None:
        _hold(referral, rewards, until, now)


def hold_until(state: OrderState, program: Program) -> datetime | None:
    """When a paid order's rewards come out of their hold (the program's hold period after
    payment); None while the order is not paid."""
    if not state.paid or state.paid_at is None:
        return None
    return state.paid_at + timedelta(days=program.hold_days)


def void_reason(state: OrderState, program: Program) -> str | None:
    """Why the order no longer earns anything, or None while it still does."""
    if state.cancelled:
        return "order_cancelled"
    if state.fully_refunded:
        return "order_refunded"
    minimum = program.conditions.minimum_subtotal
    remaining = state.remaining_subtotal
    if state.refunds and minimum is not None and remaining is not None and remaining < minimum:
        return "refunded_below_minimum"
    return None


def _program(session: Session, conversion: Conversion) -> Program:
    row = session.scalars(
        select(ProgramRow).where(
            ProgramRow.shop_id == conversion.shop_id, ProgramRow.id == conversion.program_id
        )
    ).one()
    return load_program(row)


def _update_flags(conversion: Conversion, state: OrderState, now: datetime) -> None:
    values = {
        "paid": state.paid,
        "paid_at": state.paid_at,
        "cancelled": state.cancelled,
        "refunded_total": state.refunded_total,
        "is_test": state.is_test,
    }
    for name, value in values.items():
        if getattr(conversion, name) != value:
            setattr(conversion, name, value)
            conversion.updated_at = now


def _reduce_for_refunds(
    session: Session,
    program: Program,
    rewards: Sequence[Reward],
    state: OrderState,
    now: datetime,
) -> None:
    fraction = state.remaining_fraction
    for reward in rewards:
        if (
            reward.nominal_value is None
            or reward.spec.get("basis") != ValueBasis.PERCENT_OF_ORDER.value
        ):
            continue
        target = Money(reward.nominal_value, reward.currency).times(fraction).amount
        if reward.status in REDUCIBLE:
            reward_moves.reduce_value(session, reward, target, now)
        elif reward.status is RewardStatus.REVERSED:
            reward_moves.restate_reversed_value(session, reward, target, now)


def _void(
    session: Session,
    referral: Referral | None,
    rewards: Sequence[Reward],
    reason: str,
    now: datetime,
) -> None:
    if referral is not None and referral.status in COUNTED_REFERRAL_STATUSES:
        referral.status = ReferralStatus.REVERSED
        referral.status_reason = reason
        referral.updated_at = now
        bump_successful_referrals(
            session, shop_id=referral.shop_id, advocate_id=referral.advocate_id, by=-1
        )
    for reward in rewards:
        if reward.status not in TERMINAL:
            reward_moves.reverse(session, reward, reason, now)
        elif reward.status is RewardStatus.REDEEMED:
            reward_moves.claw_back(session, reward, reason, now)


def _hold(
    referral: Referral | None, rewards: Sequence[Reward], hold_until: datetime, now: datetime
) -> None:
    if referral is not None and referral.status is ReferralStatus.PENDING:
        referral.status = ReferralStatus.CONVERTED
        referral.updated_at = now
    for reward in rewards:
        if reward.status in (RewardStatus.PENDING, RewardStatus.HELD):
            reward_moves.hold(reward, hold_until, now)
