"""The merchant's referral metrics: each one's formula, rounding and plain-words explanation.

The figures of one period (counts and sums the analytics queries read) go in; every metric
comes out with its value, the computation with the period's numbers, and a sentence saying
how it is computed (the dashboard shows both on hover). A metric whose denominator is zero has
no value (None, shown as "—"), never a division error or a misleading zero.

Words used in the explanations: an order *counts* when it is paid, neither cancelled nor a
test, and its paid time falls in the period; a *customer* is an identity email, else a
customer id, else (unidentifiable) the order itself; a *referred order* is a counted order with
a referral that is converted, or reversed after a refund (refunds come off net revenue);
referrals under review or rejected do not count. A *new customer* placed their first counted
order ever in the period; a *referred customer* is a new customer whose first order was
referred. Money is in the shop's currency; rates are percentages to one decimal; ratios have
two decimals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

# Unit, Value, divide and format_value are used here and read from here by the edges.
from .metric_numbers import Computation, Operand, Show, Unit, Value, divide, format_value


class Better(StrEnum):
    """Which way a metric is good news: costs going up are not."""

    UP = "up"
    DOWN = "down"
    EITHER = "either"  # neither way is good or bad in itself


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodFigures:
    """What the analytics queries count and sum for one period (and one program, or all)."""

    currency: str
    customers: int  # with a counted order in the period
    new_customers: int  # first counted order ever in the period
    advocates: int  # enrolled before the period ends
    sharing_advocates: int  # a click on their code or a friend invited in the period
    referring_advocates: int  # at least one referred order in the period
    repeat_referrers: int  # at least two referred orders in the period
    clicks: int
    invites: int
    claims: int
    converted_claims: int  # claimed in the period, then a referred order before it ended
    referred_orders: int
    referred_revenue_gross: Decimal  # sum of totals of referred orders
    referred_revenue_net: Decimal  # minus their refunds
    reward_cost_issued: Decimal  # rewards issued in the period and not taken back
    reward_cost_redeemed: Decimal  # rewards redeemed in the period
    referred_customers: int  # new customers whose first order was referred
    referred_customers_net: Decimal  # their net revenue up to the period's end
    other_customers: int  # new customers whose first order was not referred
    other_customers_net: Decimal  # their net revenue up to the period's end


Compute = Callable[[PeriodFigures], tuple[Value, Computation]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    key: str
    label: str
    unit: Unit
    value: Value
    computation: str  # the formula with this period's numbers, e.g. "12 ÷ 340"
    explanation: str  # how it is computed, in words
    formula: str | None  # the formula in words, e.g. "friends who claimed ÷ link clicks"
    better: Better
    worked: Computation  # `computation` before its numbers are written out

    def computation_in(self, show: Show) -> str:
        """The computation with its numbers written by `show` (value, unit → text)."""
        return self.worked.shown(show)


@dataclass(frozen=True, slots=True, kw_only=True)
class Definition:
    key: str
    label: str
    unit: Unit
    explanation: str
    compute: Compute
    formula: str | None = None
    better: Better = Better.UP


def _figure(name: str, unit: Unit = Unit.COUNT) -> Compute:
    def compute(f: PeriodFigures) -> tuple[Value, Computation]:
        value: Value = getattr(f, name)
        return value, Computation(pattern="{0}", operands=(Operand(value=value, unit=unit),))

    return compute


def _ratio(
    numerator: Callable[[PeriodFigures], Decimal | int],
    denominator: Callable[[PeriodFigures], Decimal | int],
    unit: Unit,
    parts: tuple[Unit, Unit] = (Unit.COUNT, Unit.COUNT),
) -> Compute:
    def compute(f: PeriodFigures) -> tuple[Value, Computation]:
        top, bottom = numerator(f), denominator(f)
        return divide(top, bottom, unit, f.currency), _worked("{0} ÷ {1}", (top, bottom), parts)

    return compute


def _worked(pattern: str, values: tuple[Value, ...], units: tuple[Unit, ...]) -> Computation:
    operands = tuple(Operand(value=v, unit=u) for v, u in zip(values, units, strict=True))
    return Computation(pattern=pattern, operands=operands)


MONEY_TWICE = (Unit.MONEY, Unit.MONEY)


def _roi(f: PeriodFigures) -> tuple[Value, Computation]:
    net, cost = f.referred_revenue_net, f.reward_cost_issued
    worked = _worked("({0} - {1}) ÷ {1}", (net, cost), MONEY_TWICE)
    return divide(net - cost, cost, Unit.PERCENT), worked


def _refunds(f: PeriodFigures) -> tuple[Value, Computation]:
    gross, net = f.referred_revenue_gross, f.referred_revenue_net
    return gross - net, _worked("{0} - {1}", (gross, net), MONEY_TWICE)


def _ltv_ratio(f: PeriodFigures) -> tuple[Value, Computation]:
    referred = divide(f.referred_customers_net, f.referred_customers, Unit.MONEY, f.currency)
    other = divide(f.other_customers_net, f.other_customers, Unit.MONEY, f.currency)
    worked = _worked("{0} ÷ {1}", (referred, other), MONEY_TWICE)
    if referred is None or other is None:
        return None, worked
    return divide(referred, other, Unit.RATIO, f.currency), worked


def _field(name: str) -> Callable[[PeriodFigures], Decimal | int]:
    return lambda figures: getattr(figures, name)


MONEY_PER_COUNT = (Unit.MONEY, Unit.COUNT)

PERCENT_OF = ", as a percentage"
FORMULAS = {
    "referral_rate": "advocates who referred ÷ customers",
    "share_rate": "advocates who shared ÷ advocates enrolled",
    "click_to_claim_rate": "friends who claimed ÷ link clicks",
    "friend_conversion_rate": "claimed friends who ordered ÷ friends who claimed",
    "referred_refunds": "referred revenue - net referred revenue",
    "cac": "rewards issued ÷ new referred customers",
    "roi": "(net referred revenue - rewards issued) ÷ rewards issued",
    "k_factor": "new referred customers ÷ advocates enrolled",
    "ltv_referred": "their net revenue so far ÷ new referred customers",
    "ltv_other": "their net revenue so far ÷ other new customers",
    "ltv_ratio": "lifetime value of referred ÷ of other customers",
}
BETTER = {  # every other metric is better up
    "referred_refunds": Better.DOWN,
    "reward_cost_issued": Better.DOWN,
    "reward_cost_redeemed": Better.DOWN,
    "cac": Better.DOWN,
    "ltv_other": Better.EITHER,  # other channels: good for the store, not the program's doing
}
DEFINITIONS: tuple[Definition, ...] = tuple(
    Definition(
        key=key, label=label, unit=unit, compute=compute, explanation=explanation,
        formula=FORMULAS.get(key), better=BETTER.get(key, Better.UP),
    )
    for key, label, unit, compute, explanation in (
        ("customers", "Customers", Unit.COUNT, _figure("customers"),
         "People with at least one counted order in the period (all channels)."),
        ("referral_rate", "Referral rate", Unit.PERCENT,
         _ratio(_field("referring_advocates"), _field("customers"), Unit.PERCENT),
         "Advocates with at least one referred order in the period ÷ customers in the period"
         + PERCENT_OF + "."),
        ("share_rate", "Share rate", Unit.PERCENT,
         _ratio(_field("sharing_advocates"), _field("advocates"), Unit.PERCENT),
         "Advocates who shared in the period (a click on their link, or a friend invited by "
         "email) ÷ advocates enrolled before the period ended" + PERCENT_OF + "."),
        ("clicks", "Link clicks", Unit.COUNT, _figure("clicks"),
         "Clicks on advocates' referral links in the period: the funnel's first step."),
        ("claims", "Friends who claimed", Unit.COUNT, _figure("claims"),
         "Friends who claimed the offer with their email in the period."),
        ("converted_claims", "Claimed friends who ordered", Unit.COUNT,
         _figure("converted_claims"),
         "Friends who claimed in the period and then placed a referred order (same email, same "
         "program) before the period ended: the funnel's last step."),
        ("referred_orders", "Referred orders", Unit.COUNT, _figure("referred_orders"),
         "Counted orders in the period with a referral that is converted, or reversed after "
         "a refund; referrals in review or rejected are left out."),
        ("click_to_claim_rate", "Clicks that became claims", Unit.PERCENT,
         _ratio(_field("claims"), _field("clicks"), Unit.PERCENT),
         "Friends who claimed in the period ÷ link clicks in the period" + PERCENT_OF + "."),
        ("friend_conversion_rate", "Friend conversion rate", Unit.PERCENT,
         _ratio(_field("converted_claims"), _field("claims"), Unit.PERCENT),
         "Friends who claimed in the period and then placed a referred order (same email, same "
         "program) before the period ended ÷ friends who claimed in the period"
         + PERCENT_OF + "."),
        ("invites", "Friends invited by email", Unit.COUNT, _figure("invites"),
         "Friend addresses advocates invited by email in the period."),
        ("referred_revenue_gross", "Referred revenue", Unit.MONEY,
         _figure("referred_revenue_gross", Unit.MONEY),
         "Sum of the order totals of the period's referred orders."),
        ("referred_refunds", "Refunded", Unit.MONEY, _refunds,
         "Referred revenue minus net referred revenue: what was refunded on them so far."),
        ("referred_revenue_net", "Net referred revenue", Unit.MONEY,
         _figure("referred_revenue_net", Unit.MONEY),
         "Sum over the period's referred orders of each total minus what was refunded."),
        ("reward_cost_issued", "Rewards issued", Unit.MONEY,
         _figure("reward_cost_issued", Unit.MONEY),
         "Value of the rewards (advocates' and friends') issued in the period and not taken "
         "back since; points are not money and are left out."),
        ("reward_cost_redeemed", "Rewards redeemed", Unit.MONEY,
         _figure("reward_cost_redeemed", Unit.MONEY),
         "Value of the rewards redeemed in the period (codes used, credit paid out)."),
        ("referred_customers", "New referred customers", Unit.COUNT,
         _figure("referred_customers"),
         "Customers whose first counted order ever was paid in the period and was referred."),
        ("other_customers", "New customers from other channels", Unit.COUNT,
         _figure("other_customers"),
         "Customers whose first counted order ever was paid in the period and was not "
         "referred (every other channel, from all orders the store sends us)."),
        ("cac", "Cost per referred customer (CAC)", Unit.MONEY,
         _ratio(_field("reward_cost_issued"), _field("referred_customers"), Unit.MONEY,
                MONEY_PER_COUNT),
         "Rewards issued in the period ÷ new referred customers in the period."),
        ("roi", "Return on rewards (ROI)", Unit.PERCENT, _roi,
         "(Net referred revenue minus rewards issued) ÷ rewards issued" + PERCENT_OF
         + ". Revenue, not profit: the store's margins are not known here."),
        ("referring_advocates", "Advocates who referred", Unit.COUNT,
         _figure("referring_advocates"),
         "Advocates with at least one referred order in the period."),
        ("repeat_referrers", "Repeat referrers", Unit.COUNT, _figure("repeat_referrers"),
         "Advocates with two or more referred orders in the period."),
        ("k_factor", "Viral coefficient (k-factor)", Unit.RATIO,
         _ratio(_field("referred_customers"), _field("advocates"), Unit.RATIO),
         "k = i c: invitations per advocate (i) times new customers per invitation (c), which "
         "is new referred customers in the period ÷ advocates enrolled before it ended. Above "
         "1, each advocate brings in more than one new customer."),
        ("ltv_referred", "Lifetime value, referred customers", Unit.MONEY,
         _ratio(_field("referred_customers_net"), _field("referred_customers"), Unit.MONEY,
                MONEY_PER_COUNT),
         "Net revenue (totals minus refunds) of every order the period's new referred "
         "customers placed up to the period's end ÷ their number."),
        ("ltv_other", "Lifetime value, other customers", Unit.MONEY,
         _ratio(_field("other_customers_net"), _field("other_customers"), Unit.MONEY,
                MONEY_PER_COUNT),
         "The same for the period's new customers whose first order was not referred (every "
         "other channel, from all orders the store sends us)."),
        ("ltv_ratio", "Referred vs other lifetime value", Unit.RATIO, _ltv_ratio,
         "Lifetime value of referred customers ÷ lifetime value of other customers."),
    )
)  # fmt: skip


def period_metrics(figures: PeriodFigures) -> tuple[Metric, ...]:
    """Every metric of DEFINITIONS for one period, in their order."""
    metrics = []

    def show(value: Value, unit: Unit) -> str:
        return format_value(value, unit, figures.currency)

    for d in DEFINITIONS:
        value, worked = d.compute(figures)
        metrics.append(
            Metric(
                key=d.key, label=d.label, unit=d.unit, value=value,
                computation=worked.shown(show), explanation=d.explanation, formula=d.formula,
                better=d.better, worked=worked,
            )
        )  # fmt: skip
    return tuple(metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparedMetric:
    current: Metric
    previous: Metric
    change: Value  # current minus previous (percentage points for a percentage)
    change_percent: Decimal | None  # that change in percent of |previous|


def compare(current: PeriodFigures, previous: PeriodFigures) -> tuple[ComparedMetric, ...]:
    """Each metric of `current` beside its value in `previous` and the change between them."""
    return tuple(
        ComparedMetric(
            current=now,
            previous=before,
            change=change(now.value, before.value),
            change_percent=relative_change(now.value, before.value),
        )
        for now, before in zip(period_metrics(current), period_metrics(previous), strict=True)
    )


def change(current: Value, previous: Value) -> Value:
    """current minus previous, or None when either has no value."""
    if current is None or previous is None:
        return None
    return current - previous


def relative_change(current: Value, previous: Value) -> Decimal | None:
    """The change in percent of |previous|; None when previous is 0 or either has no value."""
    if current is None or previous is None:
        return None
    return divide(current - previous, previous if previous >= 0 else -previous, Unit.PERCENT)
