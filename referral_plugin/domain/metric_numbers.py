"""The numbers of the metrics: units, rounding half up to each unit's places, division that
has no value for a zero denominator, how a value reads ("1,234.50 USD", "12.5 %", "—"), and
a computation whose numbers each edge writes in its own format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from .money import minor_unit

NO_VALUE = "—"
PERCENT_PLACES = Decimal("0.1")
RATIO_PLACES = Decimal("0.01")
HUNDRED = Decimal(100)

Value = Decimal | int | None


class Unit(StrEnum):
    COUNT = "count"
    MONEY = "money"  # in the period's currency
    PERCENT = "percent"  # 12.5 means 12.5 %
    RATIO = "ratio"


def format_value(value: Value, unit: Unit, currency: str) -> str:
    """A value as a person reads it: "1,234", "1,234.50 USD", "12.5 %", "1.25", or "—"."""
    if value is None:
        return NO_VALUE
    if unit is Unit.MONEY:
        places = 0 if minor_unit(currency) == 1 else 2
        return f"{value:,.{places}f} {currency}"
    if unit is Unit.PERCENT:
        return f"{value:,.1f} %"
    if unit is Unit.RATIO:
        return f"{value:,.2f}"
    return f"{value:,}"


def _quantum(unit: Unit, currency: str) -> Decimal:
    if unit is Unit.MONEY:
        return minor_unit(currency)
    return PERCENT_PLACES if unit is Unit.PERCENT else RATIO_PLACES


def divide(
    numerator: Decimal | int, denominator: Decimal | int, unit: Unit, currency: str = ""
) -> Decimal | None:
    """numerator ÷ denominator (in percent for a percentage), rounded half up to the unit's
    places (money: the currency's minor unit); None when the denominator is 0."""
    if denominator == 0:
        return None
    quotient = Decimal(numerator) / Decimal(denominator)
    if unit is Unit.PERCENT:
        quotient *= HUNDRED
    return quotient.quantize(_quantum(unit, currency), rounding=ROUND_HALF_UP)


Show = Callable[[Value, Unit], str]  # a value and its unit, written out


@dataclass(frozen=True, slots=True, kw_only=True)
class Operand:
    """One number the computation of a metric shows."""

    value: Value
    unit: Unit


@dataclass(frozen=True, slots=True, kw_only=True)
class Computation:
    """How a value came out of the period's numbers: `pattern` ("({0} - {1}) ÷ {1}") with
    the operands in it, so each edge can write them in its own number format."""

    pattern: str
    operands: tuple[Operand, ...]

    def shown(self, show: Show) -> str:
        return self.pattern.format(*(show(o.value, o.unit) for o in self.operands))
