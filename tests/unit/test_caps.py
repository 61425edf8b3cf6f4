"""Caps: period starts at their boundaries, and caps by scope x metric x period in decisions."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import product

import pytest

from referral_plugin.domain.caps import period_start, usage_windows
from referral_plugin.domain.decisions import CapUsage, Decision, Outcome, Reason
from referral_plugin.domain.money import Money
from referral_plugin.domain.programs import (
    Cap,
    CapMetric,
    CapPeriod,
    CapScope,
    Milestone,
    RewardKind,
    RewardSpec,
)
from referral_plugin.domain.rules import decide
from tests.unit.builders import (
    ADVOCATE_ID,
    NOW,
    PROGRAM_ID,
    a_program,
    a_snapshot,
    a_spec,
    an_advocate,
    an_order,
    at,
)

# --- period_start ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "moment", "expected"),
    [
        pytest.param(CapPeriod.DAY, "2024-05-15T13:45:10", "2024-05-15", id="day"),
        pytest.param(CapPeriod.DAY, "2024-05-15T00:00:00", "2024-05-15", id="day: at midnight"),
        pytest.param(
            CapPeriod.DAY, "2024-05-15T23:59:59.999999", "2024-05-15", id="day: last microsecond"
        ),
        pytest.param(CapPeriod.WEEK, "2024-05-15T12:00", "2024-05-13", id="week: Wednesday"),
        pytest.param(CapPeriod.WEEK, "2024-05-13T00:00", "2024-05-13", id="week: Monday 00:00"),
        pytest.param(CapPeriod.WEEK, "2024-05-19T23:59:59", "2024-05-13", id="week: Sunday night"),
        pytest.param(CapPeriod.WEEK, "2024-01-03T08:00", "2024-01-01", id="week: across years"),
        pytest.param(CapPeriod.WEEK, "2025-01-02T08:00", "2024-12-30", id="week: starts last year"),
        pytest.param(CapPeriod.MONTH, "2024-05-31T23:59", "2024-05-01", id="month: last minute"),
        pytest.param(CapPeriod.MONTH, "2024-03-01T00:00", "2024-03-01", id="month: first instant"),
        pytest.param(CapPeriod.MONTH, "2024-02-29T12:00", "2024-02-01", id="month: leap day"),
        pytest.param(CapPeriod.YEAR, "2024-12-31T23:59", "2024-01-01", id="year: New Year's Eve"),
        pytest.param(CapPeriod.YEAR, "2024-01-01T00:00", "2024-01-01", id="year: first instant"),
    ],
)
def test_period_start(period: CapPeriod, moment: str, expected: str) -> None:
    start = period_start(period, at(moment))
    assert start == at(expected)
    assert start is not None
    assert start.utcoffset() == timedelta(0)


def test_lifetime_has_no_start() -> None:
    assert period_start(CapPeriod.LIFETIME, NOW) is None


def test_period_start_works_in_utc_whatever_the_input_zone() -> None:
    # 01:30 on the 1st in UTC+2 is still the previous day (and month, and year) in UTC.
    moment = datetime(2025, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert period_start(CapPeriod.DAY, moment) == at("2024-12-31")
    assert period_start(CapPeriod.MONTH, moment) == at("2024-12-01")
    assert period_start(CapPeriod.YEAR, moment) == at("2024-01-01")


def test_period_start_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_start(CapPeriod.DAY, datetime(2024, 5, 15))


def test_usage_windows_name_each_key_once_with_its_start() -> None:
    program = a_program(
        caps=(
            Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(3)),
            Cap(scope=CapScope.ADVOCATE, metric=CapMetric.AMOUNT, limit=Decimal(50)),
            Cap(
                scope=CapScope.PROGRAM,
                metric=CapMetric.COUNT,
                limit=Decimal(9),
                period=CapPeriod.MONTH,
            ),
        )
    )
    assert usage_windows(program, ADVOCATE_ID, NOW) == (
        ((CapScope.ADVOCATE, ADVOCATE_ID, CapPeriod.LIFETIME), None),
        ((CapScope.PROGRAM, PROGRAM_ID, CapPeriod.MONTH), at("2024-05-01")),
    )


# --- caps in decisions ----------------------------------------------------------------------

REASONS = {
    CapScope.ADVOCATE: Reason.ADVOCATE_CAP_REACHED,
    CapScope.PROGRAM: Reason.PROGRAM_CAP_REACHED,
}
OWNERS = {CapScope.ADVOCATE: ADVOCATE_ID, CapScope.PROGRAM: PROGRAM_ID}
# COUNT limit 3: 2 used lets this one through, 3 used does not.
# AMOUNT limit 50 with a 10.00 reward: 40 used fits exactly, 40.01 used does not.
LIMITS = {CapMetric.COUNT: Decimal(3), CapMetric.AMOUNT: Decimal(50)}
UNDER = {CapMetric.COUNT: CapUsage(count=2), CapMetric.AMOUNT: CapUsage(amount=Decimal("40"))}
AT_LIMIT = {
    CapMetric.COUNT: CapUsage(count=3),
    CapMetric.AMOUNT: CapUsage(amount=Decimal("40.01")),
}


def decide_with_cap(cap: Cap, usage: CapUsage, period: CapPeriod | None = None) -> Decision:
    key = (cap.scope, OWNERS[cap.scope], period or cap.period)
    snapshot = a_snapshot(program=a_program(caps=(cap,)), cap_usage={key: usage})
    return decide(an_order(), snapshot, NOW)


COMBINATIONS = [
    pytest.param(scope, metric, period, id=f"{scope}-{metric}-{period}")
    for scope, metric, period in product(CapScope, CapMetric, CapPeriod)
]


@pytest.mark.parametrize(("scope", "metric", "period"), COMBINATIONS)
def test_usage_under_the_limit_keeps_the_reward(
    scope: CapScope, metric: CapMetric, period: CapPeriod
) -> None:
    cap = Cap(scope=scope, metric=metric, limit=LIMITS[metric], period=period)
    decision = decide_with_cap(cap, UNDER[metric])
    assert [r.rule_key for r in decision.rewards] == ["advocate", "friend"]
    assert decision.rejections == ()


@pytest.mark.parametrize(("scope", "metric", "period"), COMBINATIONS)
def test_usage_at_the_limit_drops_the_advocate_reward_only(
    scope: CapScope, metric: CapMetric, period: CapPeriod
) -> None:
    cap = Cap(scope=scope, metric=metric, limit=LIMITS[metric], period=period)
    decision = decide_with_cap(cap, AT_LIMIT[metric])
    assert decision.outcome is Outcome.ACCEPTED
    assert [r.rule_key for r in decision.rewards] == ["friend"]
    assert [(r.reason, r.rule_key) for r in decision.rejections] == [(REASONS[scope], "advocate")]


@pytest.mark.parametrize(("scope", "metric", "period"), COMBINATIONS)
def test_usage_of_another_period_does_not_count(
    scope: CapScope, metric: CapMetric, period: CapPeriod
) -> None:
    other = CapPeriod.DAY if period is not CapPeriod.DAY else CapPeriod.YEAR
    cap = Cap(scope=scope, metric=metric, limit=LIMITS[metric], period=period)
    decision = decide_with_cap(cap, AT_LIMIT[metric], period=other)
    assert [r.rule_key for r in decision.rewards] == ["advocate", "friend"]


def test_an_advocate_cap_reads_the_advocates_usage_not_anothers() -> None:
    cap = Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(1))
    usage = {(CapScope.ADVOCATE, ADVOCATE_ID + 1, CapPeriod.LIFETIME): CapUsage(count=5)}
    snapshot = a_snapshot(program=a_program(caps=(cap,)), cap_usage=usage)
    assert len(decide(an_order(), snapshot, NOW).rewards) == 2


def test_a_count_cap_drops_every_advocate_reward_of_the_referral() -> None:
    cap = Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(3))
    program = a_program(caps=(cap,), milestones=(Milestone(count=4, reward=a_spec()),))
    usage = {(CapScope.ADVOCATE, ADVOCATE_ID, CapPeriod.LIFETIME): CapUsage(count=3)}
    advocate = an_advocate(successful_referrals=3)
    decision = decide(
        an_order(), a_snapshot(program=program, advocate=advocate, cap_usage=usage), NOW
    )
    assert [r.rule_key for r in decision.rejections] == ["advocate", "milestone:4"]
    assert [r.rule_key for r in decision.rewards] == ["friend"]


def test_an_amount_cap_drops_what_does_not_fit_whole_and_keeps_the_rest() -> None:
    cap = Cap(scope=CapScope.PROGRAM, metric=CapMetric.AMOUNT, limit=Decimal(100))
    program = a_program(
        caps=(cap,),
        milestones=(Milestone(count=1, reward=a_spec(amount=Decimal("50"))),),
        advocate_reward=RewardSpec(kind=RewardKind.STORE_CREDIT, amount=Decimal("30")),
    )
    usage = {(CapScope.PROGRAM, PROGRAM_ID, CapPeriod.LIFETIME): CapUsage(amount=Decimal(60))}
    decision = decide(an_order(), a_snapshot(program=program, cap_usage=usage), NOW)
    # 60 used: the 30.00 base fits (90), the 50.00 milestone would make 140.
    assert [(r.rule_key, r.value) for r in decision.rewards] == [
        ("advocate", Money.of("30", "USD")),
        ("friend", Money.of("15", "USD")),
    ]
    assert [(r.reason, r.rule_key) for r in decision.rejections] == [
        (Reason.PROGRAM_CAP_REACHED, "milestone:1")
    ]


def test_amount_caps_ignore_rewards_without_a_money_value() -> None:
    cap = Cap(scope=CapScope.ADVOCATE, metric=CapMetric.AMOUNT, limit=Decimal(0))
    program = a_program(caps=(cap,), advocate_reward=RewardSpec(kind=RewardKind.POINTS, points=5))
    decision = decide(an_order(), a_snapshot(program=program), NOW)
    assert [r.rule_key for r in decision.rewards] == ["advocate", "friend"]


def test_a_reward_dropped_by_one_cap_is_not_reported_again_by_the_next() -> None:
    caps = (
        Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(1)),
        Cap(scope=CapScope.PROGRAM, metric=CapMetric.COUNT, limit=Decimal(1)),
    )
    usage = {
        (CapScope.ADVOCATE, ADVOCATE_ID, CapPeriod.LIFETIME): CapUsage(count=1),
        (CapScope.PROGRAM, PROGRAM_ID, CapPeriod.LIFETIME): CapUsage(count=1),
    }
    decision = decide(an_order(), a_snapshot(program=a_program(caps=caps), cap_usage=usage), NOW)
    assert decision.reasons == (Reason.ADVOCATE_CAP_REACHED.value,)


def test_caps_do_not_touch_charity_rewards() -> None:
    cap = Cap(scope=CapScope.ADVOCATE, metric=CapMetric.COUNT, limit=Decimal(0))
    donation = RewardSpec(kind=RewardKind.CHARITY, amount=Decimal("1"), charity="Oxfam")
    program = a_program(caps=(cap,), advocate_reward=donation, friend_reward=None)
    decision = decide(an_order(), a_snapshot(program=program), NOW)
    assert [r.rule_key for r in decision.rewards] == ["advocate"]
