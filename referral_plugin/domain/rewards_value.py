"""Reward values: what one RewardSpec is worth, in money or points, for one referred order."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from .money import Money
from .programs import RewardKind, RewardSpec, ValueBasis

# Kinds valued as money: a fixed amount or a percent of the order (donations included).
_MONEY_KINDS = frozenset(
    {RewardKind.FIXED_DISCOUNT, RewardKind.STORE_CREDIT, RewardKind.CASH, RewardKind.CHARITY}
)
# Kinds whose `amount` is only the merchant's declared cost, when given.
_DECLARED_COST_KINDS = frozenset({RewardKind.FREE_PRODUCT, RewardKind.CUSTOM})

_HUNDRED = Decimal(100)


def _percent_of(subtotal: Decimal, percent: Decimal) -> Decimal:
    return max(subtotal, Decimal(0)) * percent / _HUNDRED


def _money_value(spec: RewardSpec, subtotal: Decimal, currency: str) -> Money | None:
    if spec.basis is ValueBasis.PERCENT_OF_ORDER:
        if spec.percent is None:
            return None
        return Money(max(subtotal, Decimal(0)), currency).times(spec.percent / _HUNDRED)
    if spec.amount is None:
        return None
    return Money(spec.amount, currency).rounded()


def _points_value(spec: RewardSpec, subtotal: Decimal) -> int | None:
    if spec.basis is ValueBasis.PERCENT_OF_ORDER:
        if spec.percent is None:
            return None
        return int(_percent_of(subtotal, spec.percent).to_integral_value(rounding=ROUND_FLOOR))
    return spec.points


def reward_value(
    spec: RewardSpec, eligible_subtotal: Decimal, currency: str
) -> tuple[Money | None, int | None]:
    """The nominal (money value, points) of `spec` for an order's eligible subtotal.

    - FIXED_DISCOUNT, STORE_CREDIT, CASH, CHARITY: FIXED -> `amount`; PERCENT_OF_ORDER ->
      subtotal x percent / 100, rounded half-up to the currency's minor unit.
    - POINTS: FIXED -> `points`; PERCENT_OF_ORDER -> floor(subtotal x percent / 100) points.
    - FREE_PRODUCT, CUSTOM: `amount` as the declared cost, when given.
    - PERCENT_DISCOUNT, FREE_SHIPPING, VIP: no value (None, None).
    A missing amount/percent/points gives None rather than a guess; a negative subtotal counts
    as zero. Advocate debt is not subtracted here (the service books that).
    """
    if spec.kind in _MONEY_KINDS:
        return _money_value(spec, eligible_subtotal, currency), None
    if spec.kind is RewardKind.POINTS:
        return None, _points_value(spec, eligible_subtotal)
    if spec.kind in _DECLARED_COST_KINDS and spec.amount is not None:
        return Money(spec.amount, currency).rounded(), None
    return None, None
