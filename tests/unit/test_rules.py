"""The rules engine's outcomes: program kinds, review vs reject, determinism, programmer errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from referral_plugin.domain.decisions import (
    AttributionMethod,
    Beneficiary,
    CodeKind,
    Decision,
    Outcome,
    Snapshot,
)
from referral_plugin.domain.money import Money
from referral_plugin.domain.programs import (
    Conditions,
    FraudAction,
    FraudCheck,
    Milestone,
    ProgramKind,
    RewardKind,
    RewardSpec,
)
from referral_plugin.domain.rules import decide
from tests.unit.builders import (
    ADVOCATE_ID,
    NOW,
    Case,
    a_claim,
    a_code,
    a_program,
    a_snapshot,
    a_spec,
    an_order,
)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def summary(decision: Decision) -> tuple[tuple[Any, ...], ...]:
    """(beneficiary, rule key, value, points, at checkout) per reward: what a table can state."""
    return tuple(
        (r.beneficiary, r.rule_key, r.value, r.points, r.at_checkout) for r in decision.rewards
    )


# --- program kinds --------------------------------------------------------------------------

FIXED_10 = a_spec(RewardKind.FIXED_DISCOUNT, amount=Decimal("10"))
PERCENT_15 = a_spec(RewardKind.PERCENT_DISCOUNT, percent=Decimal("15"))


@pytest.mark.parametrize(
    ("program_overrides", "expected"),
    [
        pytest.param(
            {"kind": ProgramKind.ONE_SIDED, "friend_reward": PERCENT_15},
            ((Beneficiary.ADVOCATE, "advocate", usd("10.00"), None, False),),
            id="one-sided: only the advocate, even with a friend spec configured",
        ),
        pytest.param(
            {"kind": ProgramKind.TWO_SIDED},
            (
                (Beneficiary.ADVOCATE, "advocate", usd("10.00"), None, False),
                (Beneficiary.FRIEND, "friend", usd("15.00"), None, True),
            ),
            id="two-sided: advocate and friend (discount taken at checkout)",
        ),
        pytest.param(
            {
                "kind": ProgramKind.TIERED,
                "advocate_reward": None,
                "friend_reward": None,
                "milestones": (Milestone(count=1, reward=a_spec(amount=Decimal("25"))),),
            },
            ((Beneficiary.ADVOCATE, "milestone:1", usd("25.00"), None, False),),
            id="tiered: the first milestone",
        ),
        pytest.param(
            {"kind": ProgramKind.CONTEST},
            (),
            id="contest: accepted, no per-referral reward",
        ),
        pytest.param(
            {
                "kind": ProgramKind.CHARITY,
                "friend_reward": None,
                "advocate_reward": RewardSpec(
                    kind=RewardKind.CHARITY, amount=Decimal("5"), charity="Red Cross"
                ),
            },
            ((Beneficiary.CHARITY, "advocate", usd("5.00"), None, False),),
            id="charity: a donation per referral",
        ),
        pytest.param(
            {
                "kind": ProgramKind.POINTS,
                "friend_reward": None,
                "advocate_reward": RewardSpec(kind=RewardKind.POINTS, points=500),
            },
            ((Beneficiary.ADVOCATE, "advocate", None, 500, False),),
            id="points: loyalty points per referral",
        ),
    ],
)
def test_each_program_kind_accepts_and_rewards(
    program_overrides: dict[str, Any], expected: tuple[tuple[Any, ...], ...]
) -> None:
    decision = decide(an_order(), a_snapshot(program=a_program(**program_overrides)), NOW)
    assert decision.outcome is Outcome.ACCEPTED
    assert decision.attribution is not None
    assert decision.attribution.method is AttributionMethod.CODE
    assert summary(decision) == expected
    assert all(
        r.advocate_id == (None if r.beneficiary is Beneficiary.FRIEND else ADVOCATE_ID)
        for r in decision.rewards
    )


def test_review_keeps_rewards_so_approval_releases_them() -> None:
    decision = Case(advocate={"known_ips": frozenset({"203.0.113.7"})}).decide()
    assert decision.outcome is Outcome.REVIEW
    assert [r.rule_key for r in decision.rewards] == ["advocate", "friend"]


def test_redeemed_reward_ids_survive_a_rejection() -> None:
    reward = a_code("RWCODE", CodeKind.REWARD, reward_id=42)
    decision = Case(
        order={"discount_codes": ("RWCODE", "ANNA7Q2K9XPA"), "is_test": True},
        snapshot={"codes": (reward, a_code())},
    ).decide()
    assert decision.outcome is Outcome.REJECTED
    assert decision.redeemed_reward_ids == (42,)


# --- determinism and programmer errors ------------------------------------------------------


def test_same_inputs_give_the_same_decision() -> None:
    case = Case(
        advocate={"known_ips": frozenset({"203.0.113.7"}), "successful_referrals": 2},
        program={"milestones": (Milestone(count=3, reward=FIXED_10),)},
    )
    assert case.decide() == case.decide()


def test_snapshot_insertion_order_does_not_matter() -> None:
    claims = (a_claim(code="A1", advocate_id=1), a_claim(code="B2", advocate_id=2))
    one = a_snapshot(claims=claims)
    other = Snapshot(
        programs=one.programs,
        codes=dict(reversed(list(one.codes.items()))),
        advocates=one.advocates,
        claims=tuple(reversed(claims)),
    )
    order = an_order(discount_codes=())
    assert decide(order, one, NOW) == decide(order, other, NOW)


@pytest.mark.parametrize(
    ("order_overrides", "now"),
    [
        pytest.param({}, NOW.replace(tzinfo=None), id="naive now"),
        pytest.param(
            {"placed_at": None, "occurred_at": NOW.replace(tzinfo=None)}, NOW, id="naive order time"
        ),
    ],
)
def test_naive_datetimes_are_programmer_errors(order_overrides: dict[str, Any], now: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(an_order(**order_overrides), a_snapshot(), now)


def test_fraud_and_conditions_are_reported_together() -> None:
    decision = Case(
        order={"is_test": True},
        program={"fraud_policy": {FraudCheck.SAME_IP: FraudAction.REJECT}},
        advocate={"known_ips": frozenset({"203.0.113.7"})},
    ).decide()
    assert decision.reasons == ("test_order", "fraud")
    assert [f.check for f in decision.fraud] == [FraudCheck.SAME_IP]


def test_conditions_default_is_first_order_only() -> None:
    assert Conditions().first_order_only is True
