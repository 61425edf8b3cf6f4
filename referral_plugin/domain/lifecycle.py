"""Reward and referral lifecycle: the states and which moves between them are allowed.

    pending ──paid──▶ held ──hold ends──▶ approved ──issued in store──▶ issued ──▶ redeemed
       │               │                     │                            │   └──▶ expired
       └───────────────┴─────────────────────┴────────────────────────────┴──▶ reversed

Any state before `redeemed` can be reversed. A reversal after `issued` also asks the worker to
disable the code in the store; a refund after `redeemed` cannot take the reward back, so the
value becomes the advocate's debt, which their next money reward absorbs.
"""

from __future__ import annotations

from enum import StrEnum


class RewardStatus(StrEnum):
    PENDING = "pending"  # decided; the order is not paid yet
    HELD = "held"  # paid; waiting out the return window (and any review)
    APPROVED = "approved"  # hold over: due for issue
    ISSUED = "issued"  # the code / credit / tag exists in the store (or the payout is owed)
    REDEEMED = "redeemed"  # used (the code came back on an order) or paid out
    EXPIRED = "expired"  # issued but never used before its expiry
    REVERSED = "reversed"  # taken back: cancel, refund, fraud, merchant decision


class ReferralStatus(StrEnum):
    PENDING = "pending"  # ordered, not paid yet
    REVIEW = "review"  # flagged by a fraud check, waiting for the merchant
    CONVERTED = "converted"  # paid, counted
    REJECTED = "rejected"  # refused by a rule or the merchant
    REVERSED = "reversed"  # cancelled or refunded after conversion


REWARD_TRANSITIONS: dict[RewardStatus, frozenset[RewardStatus]] = {
    RewardStatus.PENDING: frozenset({RewardStatus.HELD, RewardStatus.REVERSED}),
    RewardStatus.HELD: frozenset({RewardStatus.APPROVED, RewardStatus.REVERSED}),
    RewardStatus.APPROVED: frozenset({RewardStatus.ISSUED, RewardStatus.REVERSED}),
    RewardStatus.ISSUED: frozenset(
        {RewardStatus.REDEEMED, RewardStatus.EXPIRED, RewardStatus.REVERSED}
    ),
    RewardStatus.REDEEMED: frozenset(),
    RewardStatus.EXPIRED: frozenset(),
    RewardStatus.REVERSED: frozenset(),
}


class IllegalTransition(ValueError):
    """A reward was asked to move where its lifecycle does not allow."""


def can_move(current: RewardStatus, target: RewardStatus) -> bool:
    return target in REWARD_TRANSITIONS[current]


def check_move(current: RewardStatus, target: RewardStatus) -> None:
    if not can_move(current, target):
        raise IllegalTransition(f"reward cannot move from {current} to {target}")
