"""domain.experiments: group choice, the program each group sees, and the statistics, checked
against numbers computed by hand."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from referral_plugin.domain.experiments import (
    HOLDOUT,
    choose_variant,
    compare_proportions,
    enough_outcomes,
    in_holdout,
    lift,
    program_for,
    rate,
    variant_keys,
)
from referral_plugin.domain.programs import (
    Experiment,
    Milestone,
    Program,
    ProgramKind,
    RewardKind,
    RewardSpec,
    Variant,
)

STARTED = datetime(2026, 3, 1, tzinfo=UTC)
TEN = RewardSpec(kind=RewardKind.FIXED_DISCOUNT, amount=Decimal("10"))
TWENTY = RewardSpec(kind=RewardKind.FIXED_DISCOUNT, amount=Decimal("20"))
FRIEND_15 = RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("15"))
FRIEND_25 = RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("25"))


def an_experiment(holdout: int = 0, weights: tuple[int, ...] = (1, 1)) -> Experiment:
    keys = "abcdefghij"
    return Experiment(
        variants=tuple(
            Variant(key=keys[i], name=keys[i].upper(), weight=w) for i, w in enumerate(weights)
        ),
        holdout_percent=holdout,
        started_at=STARTED,
    )


# Boundaries by hand. 10% holdout, weights 1:3: holdout [0, 0.1); a [0.1, 0.1 + 0.9/4 =
# 0.325); b [0.325, 1). No holdout, 1:1: a [0, 0.5), b [0.5, 1). 20% holdout, 1:1:2:
# holdout [0, 0.2); a [0.2, 0.4); b [0.4, 0.6); c [0.6, 1).
CHOICES = [
    ("1:1 lowest value", 0, (1, 1), 0.0, "a"),
    ("1:1 just below half", 0, (1, 1), 0.4999999, "a"),
    ("1:1 exactly half", 0, (1, 1), 0.5, "b"),
    ("1:1 highest value", 0, (1, 1), 0.9999999, "b"),
    ("10% holdout, first value", 10, (1, 3), 0.0, HOLDOUT),
    ("10% holdout, just below 0.1", 10, (1, 3), 0.0999999, HOLDOUT),
    ("10% holdout, 0.1 is a", 10, (1, 3), 0.1, "a"),
    ("10% holdout, 0.3249 is a", 10, (1, 3), 0.3249, "a"),
    ("10% holdout, 0.325 is b", 10, (1, 3), 0.325, "b"),
    ("20% holdout, 1:1:2, 0.39 is a", 20, (1, 1, 2), 0.39, "a"),
    ("20% holdout, 1:1:2, 0.59 is b", 20, (1, 1, 2), 0.59, "b"),
    ("20% holdout, 1:1:2, 0.6 is c", 20, (1, 1, 2), 0.6, "c"),
]


@pytest.mark.parametrize(
    ("holdout", "weights", "value", "expected"),
    [pytest.param(h, w, v, e, id=label) for label, h, w, v, e in CHOICES],
)
def test_choose_variant_splits_the_unit_interval_by_holdout_then_weight(
    holdout: int, weights: tuple[int, ...], value: float, expected: str
) -> None:
    assert choose_variant(an_experiment(holdout, weights), value) == expected


def test_choose_variant_shares_follow_the_weights() -> None:
    """10,000 evenly spaced values land in the groups in proportion: 10% holdout, then 1:3."""
    experiment = an_experiment(10, (1, 3))
    counts: dict[str, int] = {}
    for i in range(10_000):
        key = choose_variant(experiment, i / 10_000)
        counts[key] = counts.get(key, 0) + 1
    assert counts == {HOLDOUT: 1000, "a": 2250, "b": 6750}


@pytest.mark.parametrize("value", [-0.1, 1.0, 2.0])
def test_choose_variant_refuses_values_outside_the_unit_interval(value: float) -> None:
    with pytest.raises(ValueError, match="random_value"):
        choose_variant(an_experiment(), value)


def a_program(experiment: Experiment | None) -> Program:
    return Program(
        id=7,
        shop_id=1,
        name="Refer",
        kind=ProgramKind.TWO_SIDED,
        currency="USD",
        advocate_reward=TEN,
        friend_reward=FRIEND_15,
        milestones=(Milestone(count=3, reward=TWENTY),),
        experiment=experiment,
    )


def test_program_for_replaces_only_what_the_variant_sets() -> None:
    experiment = Experiment(
        variants=(
            Variant(key="a", name="Base"),
            Variant(key="b", name="More", advocate_reward=TWENTY),
            Variant(key="c", name="Friend", friend_reward=FRIEND_25),
        ),
        holdout_percent=10,
        started_at=STARTED,
    )
    program = a_program(experiment)
    assert program_for(program, "a") == program
    assert program_for(program, "b") == dataclasses.replace(program, advocate_reward=TWENTY)
    assert program_for(program, "c") == dataclasses.replace(program, friend_reward=FRIEND_25)
    # Enrolled before the experiment, or in a variant removed since: the program's own offer.
    assert program_for(program, None) == program
    assert program_for(program, "gone") == program
    held_out = program_for(program, HOLDOUT)
    assert (held_out.advocate_reward, held_out.friend_reward, held_out.milestones) == (
        None,
        None,
        (),
    )
    assert variant_keys(program) == ("a", "b", "c", HOLDOUT)


def test_without_an_experiment_every_key_sees_the_program_and_nobody_is_held_out() -> None:
    program = a_program(None)
    assert program_for(program, "b") == program_for(program, HOLDOUT) == program
    assert not in_holdout(program, HOLDOUT)
    assert in_holdout(a_program(an_experiment(10)), HOLDOUT)
    assert not in_holdout(a_program(an_experiment(10)), "a")
    assert variant_keys(program) == ()


def test_the_z_test_matches_the_hand_computed_values() -> None:
    """150/1000 against 120/1000. Pooled p = 270/2000 = 0.135; SE = sqrt(0.135 * 0.865 *
    (1/1000 + 1/1000)) = sqrt(0.00023355) = 0.0152823; z = (0.15 - 0.12) / 0.0152823 =
    1.96305; two-sided p = 2 * (1 - Phi(1.96305)) = 0.04964: just significant at 95%."""
    test = compare_proportions(150, 1000, 120, 1000)
    assert test is not None
    assert test.z == pytest.approx(1.96305, abs=1e-5)
    assert test.p_value == pytest.approx(0.04964, abs=1e-5)
    assert test.significant
    reverse = compare_proportions(120, 1000, 150, 1000)
    assert reverse.z == pytest.approx(-test.z) and reverse.p_value == pytest.approx(test.p_value)


def test_a_smaller_difference_is_not_significant() -> None:
    """30/200 against 24/200: pooled 54/400 = 0.135; SE = sqrt(0.135 * 0.865 * 0.01) =
    0.0341723; z = 0.03 / 0.0341723 = 0.87790; p = 2 * (1 - Phi(0.8779)) = 0.37999."""
    test = compare_proportions(30, 200, 24, 200)
    assert test.z == pytest.approx(0.87790, abs=1e-5)
    assert test.p_value == pytest.approx(0.37999, abs=1e-5)
    assert not test.significant


@pytest.mark.parametrize(
    ("args", "label"),
    [((1, 0, 1, 10), "no treatment trials"), ((0, 10, 0, 10), "nobody converted in both"),
     ((10, 10, 10, 10), "everybody converted in both")],
)  # fmt: skip
def test_the_z_test_is_undefined_without_variance(args: tuple[int, ...], label: str) -> None:
    assert compare_proportions(*args) is None, label


def test_lift_and_its_interval_match_the_hand_computed_values() -> None:
    """150/1000 over 120/1000: ratio 1.25, lift 25%. Katz: SE(log ratio) = sqrt(1/150 -
    1/1000 + 1/120 - 1/1000) = sqrt(0.013) = 0.1140175; log 1.25 = 0.2231436; 95% interval
    exp(0.2231436 -/+ 1.959964 * 0.1140175) - 1 = exp(-0.0003267) - 1 .. exp(0.4466) - 1
    = [-0.00033, +0.56301]: the interval just includes 0 while the pooled z-test (p = 0.0496)
    is just significant; the two methods differ at the edge."""
    found = lift(150, 1000, 120, 1000)
    assert found.relative == pytest.approx(0.25)
    assert found.low == pytest.approx(-0.00033, abs=1e-5)
    assert found.high == pytest.approx(0.56301, abs=1e-5)
    none_converted = lift(0, 1000, 120, 1000)
    assert (none_converted.relative, none_converted.low, none_converted.high) == (-1.0, None, None)
    assert lift(5, 100, 0, 100) is None  # no lift over a zero rate


def test_rate_and_enough_outcomes() -> None:
    assert rate(3, 12) == 0.25 and rate(0, 0) is None
    assert enough_outcomes((5, 10), (5, 10))
    assert not enough_outcomes((4, 100), (50, 100))  # too few successes in one group
    assert not enough_outcomes((96, 100), (50, 100))  # too few failures
    assert math.isclose(rate(1, 3) or 0, 1 / 3)
