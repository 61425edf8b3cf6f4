"""What each RewardKind is worth for an order, in money or points."""

from __future__ import annotations

from decimal import Decimal

import pytest

from referral_plugin.domain.money import Money
from referral_plugin.domain.programs import RewardKind, RewardSpec, ValueBasis
from referral_plugin.domain.rewards_value import reward_value

PERCENT = ValueBasis.PERCENT_OF_ORDER
SUBTOTAL = Decimal("123.45")


def spec(kind: RewardKind, basis: ValueBasis = ValueBasis.FIXED, **values: object) -> RewardSpec:
    return RewardSpec(kind=kind, basis=basis, **values)  # type: ignore[arg-type]


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


VALUE_CASES = [
    pytest.param(
        spec(RewardKind.FIXED_DISCOUNT, amount=Decimal("10")),
        (usd("10.00"), None),
        id="fixed discount: the amount",
    ),
    pytest.param(
        spec(RewardKind.STORE_CREDIT, PERCENT, percent=Decimal("10")),
        (usd("12.35"), None),
        id="store credit: 10% of 123.45 rounds half up",
    ),
    pytest.param(
        spec(RewardKind.CASH, PERCENT, percent=Decimal("2.5")),
        (usd("3.09"), None),
        id="cash: 2.5% of 123.45 = 3.08625 -> 3.09",
    ),
    pytest.param(
        spec(RewardKind.CASH, amount=Decimal("5.005")),
        (usd("5.01"), None),
        id="cash: a fixed amount rounded to cents",
    ),
    pytest.param(
        spec(RewardKind.CHARITY, amount=Decimal("1"), charity="Oxfam"),
        (usd("1.00"), None),
        id="charity: the donation",
    ),
    pytest.param(spec(RewardKind.POINTS, points=250), (None, 250), id="points: fixed"),
    pytest.param(
        spec(RewardKind.POINTS, PERCENT, percent=Decimal("10")),
        (None, 12),
        id="points: floor(10% of 123.45) = 12",
    ),
    pytest.param(
        spec(RewardKind.PERCENT_DISCOUNT, percent=Decimal("15")),
        (None, None),
        id="percent discount: no money value",
    ),
    pytest.param(spec(RewardKind.FREE_SHIPPING), (None, None), id="free shipping: no value"),
    pytest.param(spec(RewardKind.VIP, tag="vip"), (None, None), id="vip: no value"),
    pytest.param(
        spec(RewardKind.FREE_PRODUCT, product_id="gift", amount=Decimal("8")),
        (usd("8.00"), None),
        id="free product: its declared cost",
    ),
    pytest.param(
        spec(RewardKind.FREE_PRODUCT, product_id="gift"),
        (None, None),
        id="free product without a declared cost",
    ),
    pytest.param(
        spec(RewardKind.CUSTOM, description="tickets", amount=Decimal("40")),
        (usd("40.00"), None),
        id="custom: its declared cost",
    ),
    pytest.param(
        spec(RewardKind.CUSTOM, description="a hug"),
        (None, None),
        id="custom without a declared cost",
    ),
    pytest.param(
        spec(RewardKind.FIXED_DISCOUNT), (None, None), id="misconfigured: no amount, no value"
    ),
    pytest.param(
        spec(RewardKind.STORE_CREDIT, PERCENT),
        (None, None),
        id="misconfigured: no percent, no value",
    ),
    pytest.param(
        spec(RewardKind.POINTS, PERCENT), (None, None), id="misconfigured points: no percent"
    ),
]


@pytest.mark.parametrize(("reward", "expected"), VALUE_CASES)
def test_reward_value_per_kind(
    reward: RewardSpec, expected: tuple[Money | None, int | None]
) -> None:
    assert reward_value(reward, SUBTOTAL, "USD") == expected


def test_every_reward_kind_is_in_the_table() -> None:
    kinds = {p.values[0].kind for p in VALUE_CASES if isinstance(p.values[0], RewardSpec)}
    assert kinds == set(RewardKind)


def test_zero_decimal_currencies_round_to_whole_units() -> None:
    reward = spec(RewardKind.STORE_CREDIT, PERCENT, percent=Decimal("3"))
    assert reward_value(reward, Decimal("1999"), "JPY") == (Money.of("60", "JPY"), None)


def test_a_negative_subtotal_counts_as_zero() -> None:
    reward = spec(RewardKind.CASH, PERCENT, percent=Decimal("10"))
    assert reward_value(reward, Decimal("-5"), "USD") == (usd("0.00"), None)
