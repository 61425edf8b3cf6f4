"""Money: Decimal amounts with a currency, no floats, no mixing, minor-unit rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from referral_plugin.domain.money import CurrencyMismatch, Money, minor_unit, to_decimal


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        pytest.param("10.005", "USD", Decimal("10.01"), id="half up to cents"),
        pytest.param("10.004", "USD", Decimal("10.00"), id="below half to cents"),
        pytest.param("-10.005", "EUR", Decimal("-10.01"), id="half up away from zero"),
        pytest.param("1999.5", "JPY", Decimal("2000"), id="zero-decimal currency"),
        pytest.param("7", "KRW", Decimal("7"), id="whole units stay whole"),
    ],
)
def test_rounding_to_the_minor_unit(amount: str, currency: str, expected: Decimal) -> None:
    assert Money.of(amount, currency).rounded().amount == expected


@pytest.mark.parametrize(
    ("currency", "unit"),
    [pytest.param("USD", Decimal("0.01"), id="cents"), pytest.param("JPY", Decimal(1), id="yen")],
)
def test_minor_unit(currency: str, unit: Decimal) -> None:
    assert minor_unit(currency) == unit


def test_times_multiplies_and_rounds() -> None:
    assert Money.of("123.45", "USD").times(Decimal("0.025")) == Money.of("3.09", "USD")


def test_arithmetic_in_one_currency() -> None:
    ten, three = Money.of("10", "USD"), Money.of("3.50", "USD")
    assert ten + three == Money.of("13.50", "USD")
    assert ten - three == Money.of("6.50", "USD")
    assert -three == Money.of("-3.50", "USD")
    assert ten - ten == Money.of("0", "USD")


@pytest.mark.parametrize(
    "operation",
    [pytest.param(lambda a, b: a + b, id="add"), pytest.param(lambda a, b: a - b, id="subtract")],
)
def test_currencies_never_mix(operation) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CurrencyMismatch):
        operation(Money.of("1", "USD"), Money.of("1", "EUR"))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(1.5, TypeError, id="float"),
        pytest.param("NaN", ValueError, id="not a number"),
        pytest.param("Infinity", ValueError, id="infinite"),
    ],
)
def test_to_decimal_refuses_floats_and_non_finite(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        to_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "currency",
    [
        pytest.param("usd", id="lower case"),
        pytest.param("US", id="two letters"),
        pytest.param("U$D", id="not letters"),
    ],
)
def test_currency_must_be_an_upper_case_iso_code(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        Money(Decimal(1), currency)


def test_of_upper_cases_the_currency_and_str_shows_the_rounded_amount() -> None:
    money = Money.of("5.5", "eur")
    assert money.currency == "EUR"
    assert str(money) == "5.50 EUR"
