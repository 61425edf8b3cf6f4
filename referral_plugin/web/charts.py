"""Charts for the merchant dashboard: a series as an accessible inline SVG (pure functions).

`bar_chart` and `line_chart` draw points (label, value, tooltip) on a zero-based value axis
with three labelled ticks and a few labels along the time axis. The SVG names itself for
screen readers (`role="img"`, a `<title>` and a `<desc>` summing the series up) and every bar
or dot carries its own `<title>`, which browsers show on hover. Nothing is fetched at run
time: the markup goes straight into the page. `analytics_points` turns one measure of the
analytics series (`services.analytics_series.Series`) into points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

from ..domain.metrics import Unit, format_value
from ..services.analytics_series import Series
from .svg_plot import Plot, axis_top, svg
from .svg_plot import coordinate as _n

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 96, 12, 12, 28  # room for the axis labels
PLOT = Plot(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, font=11)
SERIES_MEASURES = {
    "referred_revenue": ("Net referred revenue", Unit.MONEY),
    "referred_orders": ("Referred orders", Unit.COUNT),
    "clicks": ("Link clicks", Unit.COUNT),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartPoint:
    label: str  # along the time axis, e.g. "2026-03-02"
    value: Decimal | int
    tooltip: str  # the whole point in words, e.g. "2026-03-02: 120.00 USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class Chart:
    """What both chart kinds need: the points, the words, and how values read."""

    chart_id: str  # unique in the page: the SVG's title and description are found by it
    title: str
    points: Sequence[ChartPoint]
    shown: Callable[[Decimal | int], str]  # a value as a person reads it


def bar_chart(chart: Chart) -> Markup:
    """One bar per point, each with its tooltip."""
    top = _top(chart.points)
    slot = PLOT.slot(len(chart.points))
    bars = []
    for index, point in enumerate(chart.points):
        bar_top = _y(point.value, top)
        bars.append(
            f'<rect x="{_n(LEFT + slot * index + slot / 10)}" y="{_n(bar_top)}" '
            f'width="{_n(slot * 8 / 10)}" height="{_n(_y(0, top) - bar_top)}" '
            f'fill="currentColor"><title>{escape(point.tooltip)}</title></rect>'
        )
    return _svg(chart, top, slot, "".join(bars))


def line_chart(chart: Chart) -> Markup:
    """A line through the points, with a dot per point carrying its tooltip."""
    top = _top(chart.points)
    slot = PLOT.slot(len(chart.points))
    spots = [
        (LEFT + slot * index + slot / 2, _y(point.value, top))
        for index, point in enumerate(chart.points)
    ]
    line = " ".join(f"{_n(x)},{_n(y)}" for x, y in spots)
    dots = "".join(
        f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="currentColor">'
        f"<title>{escape(point.tooltip)}</title></circle>"
        for (x, y), point in zip(spots, chart.points, strict=True)
    )
    body = f'<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="2"/>'
    return _svg(chart, top, slot, body + dots if chart.points else "")


def analytics_points(series: Series, measure: str, currency: str) -> Chart:
    """One measure of the analytics series (`SERIES_MEASURES`) as a chart of its buckets."""
    title, unit = SERIES_MEASURES[measure]

    def shown(value: Decimal | int) -> str:
        return format_value(value, unit, currency)

    points = []
    for bucket in series.points:
        value = getattr(bucket, measure)
        when = bucket.start.isoformat()
        if bucket.days > 1:
            when = f"week of {when}" if bucket.days == 7 else f"{bucket.days} days from {when}"
        points.append(
            ChartPoint(
                label=bucket.start.isoformat(), value=value, tooltip=f"{when}: {shown(value)}"
            )
        )
    return Chart(chart_id=f"chart-{measure}", title=title, points=points, shown=shown)


def _top(points: Sequence[ChartPoint]) -> Decimal:
    return axis_top(p.value for p in points)


def _y(value: Decimal | int, top: Decimal) -> Decimal:
    return PLOT.y(value, top)


def _svg(chart: Chart, top: Decimal, slot: Decimal, body: str) -> Markup:
    shown_labels = (
        sorted({0, len(chart.points) // 2, len(chart.points) - 1}) if chart.points else []
    )
    labels = "".join(
        f'<text x="{_n(LEFT + slot * index + slot / 2)}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="11">{escape(chart.points[index].label)}</text>'
        for index in shown_labels
    )
    empty = (
        ""
        if chart.points
        else f'<text x="{WIDTH // 2}" y="{HEIGHT // 2}" text-anchor="middle">No data</text>'
    )
    ticks = PLOT.gridlines(top, chart.shown)
    return svg(
        chart.chart_id, chart.title, _summary(chart), (WIDTH, HEIGHT),
        f"{ticks}{labels}{body}{empty}",
    )  # fmt: skip


def _summary(chart: Chart) -> str:
    """The series in one sentence, for those who cannot see the chart."""
    if not chart.points:
        return "No data in this period."
    highest = max(chart.points, key=lambda p: Decimal(p.value))
    total = sum((Decimal(p.value) for p in chart.points), Decimal(0))
    return (
        f"{len(chart.points)} points from {chart.points[0].label} to {chart.points[-1].label}; "
        f"total {chart.shown(total)}; highest {chart.shown(highest.value)} ({highest.label})."
    )
