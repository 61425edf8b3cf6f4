"""Which rewards a referral earns: base, milestones, every-N, the friend's, charity."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from referral_plugin.domain.decisions import Beneficiary, Outcome
from referral_plugin.domain.money import Money
from referral_plugin.domain.programs import (
    Conditions,
    EveryN,
    Milestone,
    ProgramKind,
    RewardKind,
    RewardSpec,
    ValueBasis,
)
from referral_plugin.domain.rules import decide
from tests.unit.builders import (
    NOW,
    a_claim,
    a_program,
    a_snapshot,
    a_spec,
    an_advocate,
    an_order,
)

MILESTONES = (
    Milestone(count=3, reward=a_spec(amount=Decimal("30"))),
    Milestone(count=5, reward=a_spec(amount=Decimal("50"))),
)
EVERY_4 = EveryN(n=4, reward=RewardSpec(kind=RewardKind.FREE_SHIPPING))


def rule_keys(successful: int, earned: frozenset[str] = frozenset()) -> list[str]:
    program = a_program(kind=ProgramKind.TIERED, milestones=MILESTONES, every_n=EVERY_4)
    advocate = an_advocate(successful_referrals=successful, earned_rule_keys=earned)
    decision = decide(an_order(), a_snapshot(program=program, advocate=advocate), NOW)
    assert decision.outcome is Outcome.ACCEPTED
    return [r.rule_key for r in decision.rewards]


@pytest.mark.parametrize(
    ("successful", "earned", "expected"),
    [
        pytest.param(0, frozenset(), ["advocate", "friend"], id="1st referral: base only"),
        pytest.param(2, frozenset(), ["advocate", "milestone:3", "friend"], id="3rd: milestone"),
        pytest.param(3, frozenset(), ["advocate", "every:4", "friend"], id="4th: every-4"),
        pytest.param(4, frozenset(), ["advocate", "milestone:5", "friend"], id="5th: milestone"),
        pytest.param(
            5, frozenset({"milestone:3"}), ["advocate", "friend"], id="6th: nothing extra"
        ),
        pytest.param(7, frozenset(), ["advocate", "every:8", "friend"], id="8th: every-4 again"),
        pytest.param(
            2,
            frozenset({"milestone:3"}),
            ["advocate", "friend"],
            id="3rd again after a reversal: milestone not earned twice",
        ),
        pytest.param(
            3,
            frozenset({"every:4"}),
            ["advocate", "friend"],
            id="4th again after a reversal: every-N not earned twice",
        ),
        pytest.param(
            3,
            frozenset({"milestone:3"}),
            ["advocate", "every:4", "friend"],
            id="jumped past milestone 3: never back-filled",
        ),
        pytest.param(
            0,
            frozenset({"advocate"}),
            ["advocate", "friend"],
            id="the base reward is earned on every referral",
        ),
    ],
)
def test_milestones_and_every_n(
    successful: int, earned: frozenset[str], expected: list[str]
) -> None:
    assert rule_keys(successful, earned) == expected


def test_duplicate_milestones_give_one_reward() -> None:
    twice = (Milestone(count=1, reward=a_spec()), Milestone(count=1, reward=a_spec()))
    program = a_program(advocate_reward=None, friend_reward=None, milestones=twice)
    decision = decide(an_order(), a_snapshot(program=program), NOW)
    assert [r.rule_key for r in decision.rewards] == ["milestone:1"]


FRIEND_PERCENT = RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("15"))
FRIEND_CREDIT = RewardSpec(
    kind=RewardKind.STORE_CREDIT, basis=ValueBasis.PERCENT_OF_ORDER, percent=Decimal("5")
)


@pytest.mark.parametrize(
    ("spec", "order", "expected"),
    [
        pytest.param(
            FRIEND_PERCENT,
            {},
            (True, Money.of("15.00", "USD")),
            id="by code: the code was the discount, valued at discount_total",
        ),
        pytest.param(
            FRIEND_PERCENT,
            {"discount_total": None},
            (True, None),
            id="by code, discount total unknown",
        ),
        pytest.param(
            FRIEND_PERCENT,
            {"discount_codes": ()},
            (False, None),
            id="by claim: a post-purchase percent code (no money value)",
        ),
        pytest.param(
            FRIEND_CREDIT,
            {},
            (False, Money.of("5.00", "USD")),
            id="by code, store credit: a code cannot give credit, so post-purchase",
        ),
        pytest.param(
            a_spec(amount=Decimal("20")),
            {"discount_codes": ()},
            (False, Money.of("20.00", "USD")),
            id="by claim: fixed amount post-purchase",
        ),
    ],
)
def test_the_friends_reward(
    spec: RewardSpec, order: dict[str, Any], expected: tuple[bool, Money | None]
) -> None:
    snapshot = a_snapshot(program=a_program(friend_reward=spec), claims=(a_claim(),))
    decision = decide(an_order(**order), snapshot, NOW)
    friend = [r for r in decision.rewards if r.rule_key == "friend"]
    assert len(friend) == 1
    assert friend[0].beneficiary is Beneficiary.FRIEND
    assert (friend[0].at_checkout, friend[0].value) == expected


def test_a_charity_spec_benefits_the_charity_whoever_it_is_for() -> None:
    donation = RewardSpec(kind=RewardKind.CHARITY, amount=Decimal("2"), charity="Oxfam")
    program = a_program(friend_reward=donation, advocate_reward=donation)
    decision = decide(an_order(), a_snapshot(program=program), NOW)
    assert [(r.beneficiary, r.rule_key) for r in decision.rewards] == [
        (Beneficiary.CHARITY, "advocate"),
        (Beneficiary.CHARITY, "friend"),
    ]


def test_percent_rewards_use_the_eligible_subtotal() -> None:
    spec = a_spec(RewardKind.CASH, basis=ValueBasis.PERCENT_OF_ORDER, percent=Decimal("10"))
    program = a_program(advocate_reward=spec, conditions=Conditions(product_ids=frozenset({"p2"})))
    decision = decide(an_order(), a_snapshot(program=program), NOW)
    assert decision.rewards[0].value == Money.of("4.00", "USD")  # 10% of p2's 40.00


def test_advocate_debt_does_not_change_the_nominal_value() -> None:
    advocate = an_advocate(debt=Decimal("7"))
    decision = decide(an_order(), a_snapshot(advocate=advocate), NOW)
    assert decision.rewards[0].value == Money.of("10.00", "USD")
