"""The metric formulas: division and rounding, "—" for nothing to divide by, how values read,
each metric's value and computation from a period's figures, and changes between periods."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from referral_plugin.domain.metric_numbers import NO_VALUE
from referral_plugin.domain.metrics import (
    DEFINITIONS,
    Better,
    PeriodFigures,
    Unit,
    Value,
    compare,
    divide,
    format_value,
    period_metrics,
    relative_change,
)

D = Decimal

# A period computed by hand below: 400 customers, 50 advocates of whom 20 shared and 10
# referred (3 of them twice or more), 200 clicks, 30 invites, 40 claims of which 12 ordered,
# 16 referred orders for 1,600.00 (1,450.00 after refunds), 12 referred new customers who
# spent 1,800.00 so far, 300 other new customers who spent 24,000.00, rewards 240.00 issued
# and 90.00 redeemed.
FIGURES = PeriodFigures(
    currency="USD", customers=400, new_customers=312, advocates=50, sharing_advocates=20,
    referring_advocates=10, repeat_referrers=3, clicks=200, invites=30, claims=40,
    converted_claims=12, referred_orders=16, referred_revenue_gross=D("1600.00"),
    referred_revenue_net=D("1450.00"), reward_cost_issued=D("240.00"),
    reward_cost_redeemed=D("90.00"), referred_customers=12, referred_customers_net=D("1800.00"),
    other_customers=300, other_customers_net=D("24000.00"),
)  # fmt: skip
NOTHING = PeriodFigures(
    currency="USD", customers=0, new_customers=0, advocates=0, sharing_advocates=0,
    referring_advocates=0, repeat_referrers=0, clicks=0, invites=0, claims=0,
    converted_claims=0, referred_orders=0, referred_revenue_gross=D(0),
    referred_revenue_net=D(0), reward_cost_issued=D(0), reward_cost_redeemed=D(0),
    referred_customers=0, referred_customers_net=D(0), other_customers=0,
    other_customers_net=D(0),
)  # fmt: skip


@pytest.mark.parametrize(
    ("label", "numerator", "denominator", "unit", "currency", "expected"),
    [
        ("a third in percent", 1, 3, Unit.PERCENT, "", D("33.3")),
        ("two thirds round up", 2, 3, Unit.PERCENT, "", D("66.7")),
        ("a half rounds half up", 1, 16, Unit.PERCENT, "", D("6.3")),
        ("ratio to two places", 5, 4, Unit.RATIO, "", D("1.25")),
        ("ratio half up", 1, 8, Unit.RATIO, "", D("0.13")),
        ("money in cents", D("100.00"), 3, Unit.MONEY, "USD", D("33.33")),
        ("money in yen", D("100"), 3, Unit.MONEY, "JPY", D("33")),
        ("negative", -1, 3, Unit.PERCENT, "", D("-33.3")),
        ("nothing to divide by", 5, 0, Unit.PERCENT, "", None),
        ("zero over zero", 0, 0, Unit.RATIO, "", None),
    ],
)
def test_divide_rounds_half_up_to_the_units_places(
    label: str, numerator: Value, denominator: Value, unit: Unit, currency: str, expected: Value
) -> None:
    assert divide(numerator, denominator, unit, currency) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "unit", "currency", "shown"),
    [
        (None, Unit.MONEY, "USD", NO_VALUE),
        (1234, Unit.COUNT, "USD", "1,234"),
        (D("1234.5"), Unit.MONEY, "USD", "1,234.50 USD"),
        (D("1234"), Unit.MONEY, "JPY", "1,234 JPY"),
        (D("12.5"), Unit.PERCENT, "USD", "12.5 %"),
        (D("1.25"), Unit.RATIO, "USD", "1.25"),
    ],
)
def test_values_read_as_a_person_expects(
    value: Value, unit: Unit, currency: str, shown: str
) -> None:
    assert format_value(value, unit, currency) == shown


# By hand: referral rate 10 / 400 = 2.5 %; share rate 20 / 50 = 40.0 %; click to claim
# 40 / 200 = 20.0 %; friend conversion 12 / 40 = 30.0 %; refunded 1,600 - 1,450 = 150.00;
# CAC 240 / 12 = 20.00; ROI (1,450 - 240) / 240 = 504.2 %; k 12 / 50 = 0.24; LTV referred
# 1,800 / 12 = 150.00; LTV other 24,000 / 300 = 80.00; ratio 150 / 80 = 1.875 -> 1.88.
HAND = {
    "customers": 400,
    "referral_rate": D("2.5"),
    "share_rate": D("40.0"),
    "clicks": 200,
    "claims": 40,
    "converted_claims": 12,
    "referred_orders": 16,
    "click_to_claim_rate": D("20.0"),
    "friend_conversion_rate": D("30.0"),
    "invites": 30,
    "referred_revenue_gross": D("1600.00"),
    "referred_refunds": D("150.00"),
    "referred_revenue_net": D("1450.00"),
    "reward_cost_issued": D("240.00"),
    "reward_cost_redeemed": D("90.00"),
    "referred_customers": 12,
    "other_customers": 300,
    "cac": D("20.00"),
    "roi": D("504.2"),
    "referring_advocates": 10,
    "repeat_referrers": 3,
    "k_factor": D("0.24"),
    "ltv_referred": D("150.00"),
    "ltv_other": D("80.00"),
    "ltv_ratio": D("1.88"),
}


def test_each_metric_equals_the_hand_computation() -> None:
    assert {m.key: m.value for m in period_metrics(FIGURES)} == HAND


@pytest.mark.parametrize(
    ("key", "computation"),
    [
        ("referral_rate", "10 ÷ 400"),
        ("cac", "240.00 USD ÷ 12"),
        ("roi", "(1,450.00 USD - 240.00 USD) ÷ 240.00 USD"),
        ("referred_refunds", "1,600.00 USD - 1,450.00 USD"),
        ("ltv_ratio", "150.00 USD ÷ 80.00 USD"),
        ("customers", "400"),
    ],
)
def test_the_computation_shows_the_periods_numbers(key: str, computation: str) -> None:
    assert {m.key: m.computation for m in period_metrics(FIGURES)}[key] == computation


def test_with_nothing_to_divide_by_rates_have_no_value() -> None:
    metrics = {m.key: m for m in period_metrics(NOTHING)}

    ratios = {k for k, m in metrics.items() if m.value is None}
    assert ratios == {
        "referral_rate", "share_rate", "click_to_claim_rate", "friend_conversion_rate", "cac",
        "roi", "k_factor", "ltv_referred", "ltv_other", "ltv_ratio",
    }  # fmt: skip
    assert metrics["ltv_ratio"].computation == f"{NO_VALUE} ÷ {NO_VALUE}"


def test_every_metric_says_how_it_is_computed_once() -> None:
    keys = [d.key for d in DEFINITIONS]

    assert len(keys) == len(set(keys)) == len(HAND)
    assert all(d.explanation.endswith(".") and len(d.explanation) > 30 for d in DEFINITIONS)


def test_the_previous_period_stands_beside_each_metric_with_the_change() -> None:
    before = dataclasses.replace(FIGURES, customers=320, referring_advocates=4, clicks=250)

    compared = {c.current.key: c for c in compare(FIGURES, before)}

    # customers 400 vs 320: +80, +25.0 %; referral rate 2.5 % vs 4 / 320 = 1.3 %: +1.2 points,
    # +92.3 %; clicks 200 vs 250: -50, -20.0 %; click to claim 20.0 % vs 16.0 %
    assert (compared["customers"].change, compared["customers"].change_percent) == (80, D("25.0"))
    referral = compared["referral_rate"]
    assert (referral.previous.value, referral.change, referral.change_percent) == (
        D("1.3"),
        D("1.2"),
        D("92.3"),
    )
    assert (compared["clicks"].change, compared["clicks"].change_percent) == (-50, D("-20.0"))
    assert compared["click_to_claim_rate"].previous.value == D("16.0")
    assert compare(FIGURES, NOTHING)[1].change is None  # no referral rate before: no change


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (D("-20"), D("-50"), D("60.0")),  # a loss that shrank improved
        (D("30"), D("-10"), D("400.0")),
        (5, 0, None),
        (None, 3, None),
        (3, None, None),
    ],
)
def test_relative_change_is_in_percent_of_the_previous_size(
    current: Value, previous: Value, expected: Value
) -> None:
    assert relative_change(current, previous) == expected


def test_every_computed_metric_has_its_formula_in_words() -> None:
    computed = {m.key for m in period_metrics(FIGURES) if m.worked.pattern != "{0}"}

    assert computed == {d.key for d in DEFINITIONS if d.formula is not None}
    assert {m.key: m.formula for m in period_metrics(FIGURES)}["roi"] == (
        "(net referred revenue - rewards issued) ÷ rewards issued"
    )


def test_an_edge_can_write_the_computations_numbers_its_own_way() -> None:
    metrics = {m.key: m for m in period_metrics(FIGURES)}

    def bracketed(value: Value, unit: Unit) -> str:
        return f"[{value} {unit}]"

    assert metrics["roi"].computation_in(bracketed) == (
        "([1450.00 money] - [240.00 money]) ÷ [240.00 money]"
    )
    assert metrics["referral_rate"].computation_in(bracketed) == "[10 count] ÷ [400 count]"


@pytest.mark.parametrize(
    ("key", "better"),
    [
        ("referred_revenue_net", Better.UP),
        ("roi", Better.UP),
        ("referral_rate", Better.UP),
        ("reward_cost_issued", Better.DOWN),
        ("reward_cost_redeemed", Better.DOWN),
        ("cac", Better.DOWN),
        ("referred_refunds", Better.DOWN),
        ("ltv_other", Better.EITHER),
    ],
)
def test_costs_going_up_are_not_good_news(key: str, better: Better) -> None:
    assert {d.key: d.better for d in DEFINITIONS}[key] is better
