"""Reward caps: the start of each cap period and which advocate rewards a cap lets through."""

from __future__ import annotations

from datetime import datetime, timedelta

from .clock import utc
from .decisions import (
    Beneficiary,
    CapKey,
    CapUsage,
    Reason,
    Rejection,
    RewardDecision,
    Snapshot,
)
from .programs import Cap, CapMetric, CapPeriod, CapScope, Program

_CAP_REASONS = {
    CapScope.ADVOCATE: Reason.ADVOCATE_CAP_REACHED,
    CapScope.PROGRAM: Reason.PROGRAM_CAP_REACHED,
}


def period_start(period: CapPeriod, at: datetime) -> datetime | None:
    """The aware-UTC start of the cap period containing `at`; None for LIFETIME.

    DAY: midnight UTC; WEEK: Monday 00:00 UTC; MONTH: the 1st; YEAR: January 1st.
    Raises ValueError for a naive `at`.
    """
    moment = utc(at)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is CapPeriod.DAY:
        return midnight
    if period is CapPeriod.WEEK:
        return midnight - timedelta(days=midnight.weekday())
    if period is CapPeriod.MONTH:
        return midnight.replace(day=1)
    if period is CapPeriod.YEAR:
        return midnight.replace(month=1, day=1)
    return None


def cap_key(cap: Cap, program_id: int, advocate_id: int) -> CapKey:
    """The `Snapshot.cap_usage` key for one cap: its owner is the advocate or the program."""
    owner = advocate_id if cap.scope is CapScope.ADVOCATE else program_id
    return (cap.scope, owner, cap.period)


def usage_windows(
    program: Program, advocate_id: int, now: datetime
) -> tuple[tuple[CapKey, datetime | None], ...]:
    """Each cap usage the service must load for a decision, with the period start to count from.

    Usage is counted by reward creation time, so the period is anchored at `now` (decision
    time). Returns (key, start) pairs in the program's cap order, without duplicates.
    """
    windows: dict[CapKey, datetime | None] = {}
    for cap in program.caps:
        windows.setdefault(cap_key(cap, program.id, advocate_id), period_start(cap.period, now))
    return tuple(windows.items())


def _rejection(cap: Cap, reward: RewardDecision, detail: str) -> Rejection:
    return Rejection(reason=_CAP_REASONS[cap.scope], detail=detail, rule_key=reward.rule_key)


def _count_rejections(
    cap: Cap, usage: CapUsage, rewards: tuple[RewardDecision, ...]
) -> tuple[Rejection, ...]:
    # COUNT caps count rewarded referrals: this referral would be number usage.count + 1.
    if not rewards or usage.count + 1 <= cap.limit:
        return ()
    detail = f"{cap.scope} {cap.period} cap of {cap.limit} rewarded referrals reached"
    return tuple(_rejection(cap, reward, detail) for reward in rewards)


def _amount_rejections(
    cap: Cap, usage: CapUsage, rewards: tuple[RewardDecision, ...]
) -> tuple[Rejection, ...]:
    # No partial rewards: a reward that does not fit whole is dropped; later ones may still fit.
    spent = usage.amount
    dropped: list[Rejection] = []
    for reward in rewards:
        if reward.value is None:
            continue
        if spent + reward.value.amount > cap.limit:
            detail = (
                f"{cap.scope} {cap.period} cap of {cap.limit} would be exceeded "
                f"({spent} used, reward {reward.value.amount})"
            )
            dropped.append(_rejection(cap, reward, detail))
        else:
            spent += reward.value.amount
    return tuple(dropped)


def apply_caps(
    rewards: tuple[RewardDecision, ...], program: Program, advocate_id: int, snapshot: Snapshot
) -> tuple[tuple[RewardDecision, ...], tuple[Rejection, ...]]:
    """The rewards the program's caps let through, and one Rejection per reward dropped.

    Only ADVOCATE-beneficiary rewards are capped; others pass untouched. Caps apply in the
    program's order, each to the advocate rewards that survived the caps before it. A missing
    usage entry counts as zero usage.
    """
    rejections: list[Rejection] = []
    dropped: set[str] = set()
    for cap in program.caps:
        capped = tuple(
            r
            for r in rewards
            if r.beneficiary is Beneficiary.ADVOCATE and r.rule_key not in dropped
        )
        usage = snapshot.cap_usage.get(cap_key(cap, program.id, advocate_id), CapUsage())
        check = _count_rejections if cap.metric is CapMetric.COUNT else _amount_rejections
        found = check(cap, usage, capped)
        rejections.extend(found)
        dropped.update(r.rule_key for r in found if r.rule_key is not None)
    return tuple(r for r in rewards if r.rule_key not in dropped), tuple(rejections)
