"""rules.decide follows the advocate's A/B group: a variant's rewards replace the program's;
the holdout earns nothing and is told why; no group (or a group the program no longer has)
gets the program's own offer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from referral_plugin.domain.decisions import Beneficiary, Outcome, Reason
from referral_plugin.domain.experiments import HOLDOUT
from referral_plugin.domain.money import Money
from referral_plugin.domain.programs import Experiment, RewardKind, RewardSpec, Variant
from tests.unit.builders import Case, at

TWENTY_CREDIT = RewardSpec(kind=RewardKind.STORE_CREDIT, amount=Decimal("20"))
FRIEND_CREDIT_5 = RewardSpec(kind=RewardKind.STORE_CREDIT, amount=Decimal("5"))
EXPERIMENT = Experiment(
    variants=(
        Variant(key="a", name="The program's offer"),
        Variant(key="b", name="Twenty in credit", advocate_reward=TWENTY_CREDIT),
        Variant(key="c", name="Friend credit", friend_reward=FRIEND_CREDIT_5),
    ),
    holdout_percent=10,
    started_at=at("2024-05-01"),
)


def rewards_of(variant: str | None, experiment: Experiment | None = EXPERIMENT):
    decision = Case(
        program={"experiment": experiment},
        advocate={"variant": variant},
        order={"discount_codes": (), "landing_ref": "ANNA7Q2K9XPA"},
    ).decide()
    return decision, {r.beneficiary: (r.spec.kind, r.value) for r in decision.rewards}


@pytest.mark.parametrize(
    ("variant", "advocate", "friend"),
    [
        pytest.param("a", (RewardKind.FIXED_DISCOUNT, Money(Decimal("10"), "USD")), None,
                     id="a: the program's 10 off"),
        pytest.param("b", (RewardKind.STORE_CREDIT, Money(Decimal("20"), "USD")), None,
                     id="b: 20 in credit"),
        pytest.param("c", (RewardKind.FIXED_DISCOUNT, Money(Decimal("10"), "USD")),
                     (RewardKind.STORE_CREDIT, Money(Decimal("5"), "USD")),
                     id="c: the friend gets 5 in credit"),
        pytest.param(None, (RewardKind.FIXED_DISCOUNT, Money(Decimal("10"), "USD")), None,
                     id="enrolled before the test: the program"),
        pytest.param("removed", (RewardKind.FIXED_DISCOUNT, Money(Decimal("10"), "USD")), None,
                     id="a removed variant: the program"),
    ],
)  # fmt: skip
def test_rewards_follow_the_advocates_variant(variant, advocate, friend) -> None:
    decision, rewards = rewards_of(variant)
    assert decision.outcome is Outcome.ACCEPTED
    assert rewards[Beneficiary.ADVOCATE] == advocate
    if friend is not None:  # the friend's 15% percent discount is a post-purchase 15% here
        assert rewards[Beneficiary.FRIEND] == friend
    else:
        assert rewards[Beneficiary.FRIEND][0] is RewardKind.PERCENT_DISCOUNT


def test_the_holdout_earns_nothing_with_a_clear_reason() -> None:
    decision, rewards = rewards_of(HOLDOUT)
    assert decision.outcome is Outcome.REJECTED and rewards == {}
    (rejection,) = decision.rejections
    assert rejection.reason is Reason.HOLDOUT
    assert rejection.detail == "holdout group: this advocate is in the program's control group"


def test_a_holdout_key_without_an_experiment_is_the_program() -> None:
    decision, rewards = rewards_of(HOLDOUT, experiment=None)
    assert decision.outcome is Outcome.ACCEPTED
    assert rewards[Beneficiary.ADVOCATE] == (RewardKind.FIXED_DISCOUNT, Money(Decimal("10"), "USD"))
