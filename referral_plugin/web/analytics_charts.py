"""The analytics page's charts, drawn from the analytics service's one answer: referred
revenue over time (gross, net, and the previous period's net faintly), the click → claim →
order funnel, reward costs issued and redeemed over time, lifetime value of referred
customers against other channels, the k-factor and the repeat referrers. Each chart comes
with its data as rows, for the table that stands in for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from babel.dates import format_date
from markupsafe import Markup

from ..domain.metric_numbers import Show
from ..domain.metrics import ComparedMetric, Unit
from ..services.analytics import ShopAnalytics
from ..services.analytics_series import Series as Buckets
from ..services.analytics_series import SeriesPoint
from .charts_bars import BarsChart, Part, Reference, Row, Step, bars_chart, funnel_chart
from .charts_time import Series, TimeChart, grouped_bars_chart, lines_chart

LOCALE = "en"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartTable:
    """The chart's numbers as a table, for those who read rather than look."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PageChart:
    chart_id: str
    title: str
    svg: Markup
    table: ChartTable | None  # None when the chart's own words say everything


def analytics_charts(found: ShopAnalytics, show: Show) -> tuple[PageChart, ...]:
    metrics = {m.current.key: m for m in found.metrics}
    return (
        revenue_chart(found, show),
        funnel(metrics, show),
        reward_cost_chart(found, show),
        lifetime_value_chart(metrics, show),
        k_factor_chart(metrics, show),
        repeat_referrers_chart(metrics),
    )


def _when(point: SeriesPoint) -> str:
    day = format_date(point.start, "d MMM yyyy", locale=LOCALE)
    if point.days == 1:
        return day
    return f"week of {day}" if point.days == 7 else f"{point.days} days from {day}"


def _labels(buckets: Buckets) -> list[str]:
    return [format_date(p.start, "d MMM", locale=LOCALE) for p in buckets.points]


def _money(show: Show) -> Callable[[Decimal | int], str]:
    return lambda value: show(value, Unit.MONEY)


def revenue_chart(found: ShopAnalytics, show: Show) -> PageChart:
    now, before = found.series.points, found.previous_series.points
    chart = TimeChart(
        chart_id="chart-revenue", title="Referred revenue over time", labels=_labels(found.series),
        shown=_money(show),
        series=(
            Series(name="Gross", values=[p.referred_revenue_gross for p in now], style="main"),
            Series(name="Net of refunds", values=[p.referred_revenue for p in now],
                   style="second"),
            Series(name="Net, previous period", values=[p.referred_revenue for p in before],
                   style="faint", moments=[_when(p) for p in before]),
        ),
    )  # fmt: skip
    rows = tuple(
        (_when(p), show(p.referred_revenue_gross, Unit.MONEY), show(p.referred_revenue, Unit.MONEY),
         show(b.referred_revenue, Unit.MONEY))
        for p, b in zip(now, before, strict=True)
    )  # fmt: skip
    columns = ("When", "Gross", "Net of refunds", "Net, previous period")
    return PageChart(
        chart_id=chart.chart_id, title=chart.title, svg=lines_chart(chart),
        table=ChartTable(columns=columns, rows=rows),
    )  # fmt: skip


def reward_cost_chart(found: ShopAnalytics, show: Show) -> PageChart:
    points = found.series.points
    chart = TimeChart(
        chart_id="chart-reward-cost", title="Reward cost: issued and redeemed",
        labels=_labels(found.series), shown=_money(show),
        series=(
            Series(name="Issued", values=[p.reward_cost_issued for p in points], style="main"),
            Series(name="Redeemed", values=[p.reward_cost_redeemed for p in points],
                   style="second"),
        ),
    )  # fmt: skip
    rows = tuple(
        (_when(p), show(p.reward_cost_issued, Unit.MONEY), show(p.reward_cost_redeemed, Unit.MONEY))
        for p in points
    )
    return PageChart(
        chart_id=chart.chart_id, title=chart.title, svg=grouped_bars_chart(chart),
        table=ChartTable(columns=("When", "Issued", "Redeemed"), rows=rows),
    )  # fmt: skip


def _count(metrics: dict[str, ComparedMetric], key: str) -> int:
    value = metrics[key].current.value
    return int(value) if value is not None else 0


def funnel(metrics: dict[str, ComparedMetric], show: Show) -> PageChart:
    steps = [
        Step(label=label, value=_count(metrics, key), shown=show(_count(metrics, key), Unit.COUNT))
        for key, label in (
            ("clicks", "Link clicks"),
            ("claims", "Friends who claimed"),
            ("converted_claims", "Claimed friends who ordered"),
        )
    ]
    title = "Click → claim → order funnel"
    return PageChart(
        chart_id="chart-funnel", title=title, svg=funnel_chart("chart-funnel", title, steps),
        table=None,
    )  # fmt: skip


def _amount(metric: ComparedMetric, previous: bool = False) -> Decimal:
    value = (metric.previous if previous else metric.current).value
    return Decimal(value) if value is not None else Decimal(0)


def lifetime_value_chart(metrics: dict[str, ComparedMetric], show: Show) -> PageChart:
    rows = []
    for key, count_key, label, style in (
        ("ltv_referred", "referred_customers", "Referred customers", "main"),
        ("ltv_other", "other_customers", "Customers from other channels", "second"),
    ):
        metric, count = metrics[key], _count(metrics, count_key)
        shown = show(metric.current.value, Unit.MONEY)
        people = f"{count:,} new customer{'s' if count != 1 else ''}"
        rows.append(
            Row(
                label=f"{label} ({people})", shown=shown,
                parts=(Part(value=_amount(metric), style=style,
                            tooltip=f"{label}: {shown} each, {people}"),),
            )
        )  # fmt: skip
    chart = BarsChart(chart_id="chart-ltv", title="Lifetime value: referred vs other", rows=rows)
    return PageChart(chart_id=chart.chart_id, title=chart.title, svg=bars_chart(chart), table=None)


def k_factor_chart(metrics: dict[str, ComparedMetric], show: Show) -> PageChart:
    metric = metrics["k_factor"]
    rows = [
        Row(label=label, shown=show(value, Unit.RATIO),
            parts=(Part(value=_amount(metric, previous), style=style,
                        tooltip=f"k-factor, {label.lower()}: {show(value, Unit.RATIO)}"),))
        for label, value, previous, style in (
            ("This period", metric.current.value, False, "main"),
            ("Previous period", metric.previous.value, True, "faint"),
        )
    ]  # fmt: skip
    chart = BarsChart(
        chart_id="chart-k-factor", title="Viral coefficient (k-factor)", rows=rows,
        reference=Reference(value=Decimal(1), label="1.00: each advocate brings one"),
    )  # fmt: skip
    return PageChart(chart_id=chart.chart_id, title=chart.title, svg=bars_chart(chart), table=None)


def repeat_referrers_chart(metrics: dict[str, ComparedMetric]) -> PageChart:
    referring, repeat = metrics["referring_advocates"], metrics["repeat_referrers"]
    rows = []
    for label, previous in (("This period", False), ("Previous period", True)):
        total, again = (int(_amount(m, previous)) for m in (referring, repeat))
        once = total - again
        rows.append(
            Row(
                label=label, shown=f"{total:,} referred, {again:,} more than once",
                parts=(
                    Part(value=once, style="second", tooltip=f"{label}: {once:,} referred once"),
                    Part(value=again, style="main",
                         tooltip=f"{label}: {again:,} referred twice or more"),
                ),
            )
        )  # fmt: skip
    chart = BarsChart(
        chart_id="chart-repeat", title="Advocates who referred, and again", rows=rows,
        legend=(("second", "Referred once"), ("main", "Twice or more")),
    )  # fmt: skip
    return PageChart(chart_id=chart.chart_id, title=chart.title, svg=bars_chart(chart), table=None)
