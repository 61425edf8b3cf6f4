"""The analytics page's numbers in words: money in the shop's currency, the change with its
arrow and a tone that knows a cost going up is bad news, and the explanation with the
formula and this period's numbers."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from referral_plugin.domain.metrics import Unit, compare
from referral_plugin.web.dashboard.analytics_figures import Numbers, figures
from tests.unit.test_metrics import FIGURES

D = Decimal


@pytest.mark.parametrize(
    ("label", "value", "unit", "currency", "shown"),
    [
        ("dollars", D("1234.5"), Unit.MONEY, "USD", "$1,234.50"),
        ("yen have no cents", D("1234"), Unit.MONEY, "JPY", "¥1,234"),
        ("euros", D("99"), Unit.MONEY, "EUR", "€99.00"),
        ("a loss", D("-5"), Unit.MONEY, "USD", "-$5.00"),
        ("percent", D("1042.9"), Unit.PERCENT, "USD", "1,042.9%"),
        ("ratio", D("3.58"), Unit.RATIO, "USD", "3.58"),
        ("count", 12345, Unit.COUNT, "USD", "12,345"),
        ("nothing", None, Unit.MONEY, "USD", "—"),
    ],
)
def test_values_read_in_the_shops_currency(
    label: str, value: Decimal | int | None, unit: Unit, currency: str, shown: str
) -> None:
    assert Numbers(currency).shown(value, unit) == shown


# FIGURES beside a period with more customers, less revenue, cheaper rewards and as many
# referred customers from other channels: each change's arrow, size and tone.
BEFORE = dataclasses.replace(
    FIGURES, customers=500, referred_revenue_net=D("1600.00"), reward_cost_issued=D("300.00"),
    other_customers_net=D("20000.00"), invites=30,
)  # fmt: skip


@pytest.mark.parametrize(
    ("key", "arrow", "words", "amount", "tone"),
    [
        ("referred_revenue_net", "▼", "down", "$150.00 (-9.4%)", "bad"),
        ("reward_cost_issued", "▼", "down", "$60.00 (-20.0%)", "good"),  # a cost that fell
        ("cac", "▼", "down", "$5.00 (-20.0%)", "good"),
        ("referral_rate", "▲", "up", "0.5 pts", "good"),  # 2.5 % from 2.0 %: points
        ("roi", "▲", "up", "70.9 pts", "good"),
        ("ltv_other", "▲", "up", "$13.33 (+20.0%)", "neutral"),  # other channels' doing
        ("invites", "", "no change", "", "neutral"),
    ],
)
def test_the_change_knows_which_way_is_good_news(
    key: str, arrow: str, words: str, amount: str, tone: str
) -> None:
    change = figures(compare(FIGURES, BEFORE), "USD")[key].change

    assert (change.arrow, change.words, change.amount, change.tone) == (arrow, words, amount, tone)


def test_nothing_before_is_nothing_to_compare_with() -> None:
    nothing = dataclasses.replace(BEFORE, customers=0, referring_advocates=0)

    change = figures(compare(FIGURES, nothing), "USD")["referral_rate"].change

    assert (change.arrow, change.words, change.tone) == ("", "nothing to compare with", "neutral")


def test_the_explanation_fills_the_formula_with_the_periods_numbers() -> None:
    shown = figures(compare(FIGURES, BEFORE), "USD")

    assert shown["roi"].worked == (
        "Return on rewards (ROI) = (net referred revenue - rewards issued) ÷ rewards issued"
        " = ($1,450.00 - $240.00) ÷ $240.00 = 504.2%"
    )
    assert shown["roi"].previous_worked == "($1,600.00 - $300.00) ÷ $300.00 = 433.3%"
    assert shown["referred_orders"].worked == "16"  # a plain count: its words explain it
    assert shown["referred_orders"].explanation.startswith("Counted orders in the period")
