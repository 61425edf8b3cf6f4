"""The analytics page's numbers in words: each metric's value and previous value in the
shop's currency, the change with its arrow and tone (a cost going up is bad news), and the
explanation shown on hover or focus: the formula with this period's numbers filled in.
Pure: everything comes from the analytics service's one answer."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from referral_plugin.domain.metric_numbers import NO_VALUE
from referral_plugin.domain.metrics import Better, ComparedMetric, Metric, Unit, Value
from referral_plugin.web.dashboard.render import format_money

HEADLINE = (
    "referred_revenue_net",
    "roi",
    "cac",
    "referral_rate",
    "friend_conversion_rate",
    "reward_cost_issued",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    arrow: str  # "▲", "▼" or "" (shown, hidden from screen readers)
    words: str  # "up", "down", "no change", "nothing to compare with" (for screen readers)
    amount: str  # e.g. "$355.00 (+443.8%)" or "3.3 pts"; "" with no change
    tone: str  # "good", "bad" or "neutral"


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    key: str
    label: str
    value: str
    previous: str
    change: Change
    worked: str  # "ROI = <formula> = <this period's numbers> = <value>", or the value alone
    explanation: str
    previous_worked: str  # the previous period's numbers = its value


class Numbers:
    """Values of one currency as the dashboard writes them."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def shown(self, value: Value, unit: Unit) -> str:
        if value is None:
            return NO_VALUE
        if unit is Unit.MONEY:
            return format_money(Decimal(value), self.currency)
        if unit is Unit.PERCENT:
            return f"{value:,.1f}%"
        if unit is Unit.RATIO:
            return f"{value:,.2f}"
        return f"{value:,}"


def figure(compared: ComparedMetric, numbers: Numbers) -> Figure:
    now, before = compared.current, compared.previous
    value, previous = numbers.shown(now.value, now.unit), numbers.shown(before.value, now.unit)
    return Figure(
        key=now.key, label=now.label, value=value, previous=previous,
        change=change(compared, numbers), worked=_worked(now, numbers, with_formula=True),
        explanation=now.explanation, previous_worked=_worked(before, numbers),
    )  # fmt: skip


def figures(metrics: tuple[ComparedMetric, ...], currency: str) -> dict[str, Figure]:
    numbers = Numbers(currency)
    return {m.current.key: figure(m, numbers) for m in metrics}


def _worked(metric: Metric, numbers: Numbers, *, with_formula: bool = False) -> str:
    value = numbers.shown(metric.value, metric.unit)
    if metric.formula is None:
        return value
    computed = f"{metric.computation_in(numbers.shown)} = {value}"
    return f"{metric.label} = {metric.formula} = {computed}" if with_formula else computed


def change(compared: ComparedMetric, numbers: Numbers) -> Change:
    """The change from the previous period: its direction, size and whether it is good."""
    amount, unit = compared.change, compared.current.unit
    if amount is None:
        return Change(arrow="", words="nothing to compare with", amount="", tone="neutral")
    if amount == 0:
        return Change(arrow="", words="no change", amount="", tone="neutral")
    up = amount > 0
    better = compared.current.better
    good = (better is Better.UP) == up
    tone = "neutral" if better is Better.EITHER else "good" if good else "bad"
    size = abs(amount)
    if unit is Unit.PERCENT:
        text = f"{size:,.1f} pts"
    else:
        text = numbers.shown(size, unit)
        if compared.change_percent is not None:
            text += f" ({compared.change_percent:+,.1f}%)"
    return Change(arrow="▲" if up else "▼", words="up" if up else "down", amount=text, tone=tone)
