"""Charts of several series over the same time buckets (pure functions, inline SVG): lines
(revenue gross and net, with the previous period as a faint dashed line) and grouped bars
(rewards issued beside rewards redeemed).

Like `charts`, each SVG names itself for screen readers (`role="img"`, `<title>`, and a
`<desc>` summing every series up), every dot or bar carries its own `<title>` (shown on
hover), and colours come from the page's stylesheet through the classes `series-<style>`,
so a series is told apart by its dash pattern and legend too, not by colour alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

from .svg_plot import Plot, axis_top, svg
from .svg_plot import coordinate as _n

WIDTH, HEIGHT = 440, 250  # narrow, so the words stay readable on a phone
LEFT, RIGHT, TOP, BOTTOM = 72, 14, 40, 28  # the legend runs along the top
FONT = 13
PLOT = Plot(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, font=FONT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    name: str  # in the legend and every tooltip
    values: Sequence[Decimal | int]  # one per label
    style: str  # "main", "second" or "faint" (the stylesheet's `series-<style>`)
    moments: Sequence[str] = ()  # per value, when it is ("week of 2026-03-01"); else the labels


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeChart:
    chart_id: str
    title: str
    labels: Sequence[str]  # along the time axis, one per bucket
    series: Sequence[Series]
    shown: Callable[[Decimal | int], str]  # a value as a person reads it


def lines_chart(chart: TimeChart) -> Markup:
    """A line per series, with a dot per value carrying its tooltip."""
    top, slot = _top(chart), _slot(chart)
    body = []
    for series in chart.series:
        spots = [
            (LEFT + slot * index + slot / 2, _y(value, top))
            for index, value in enumerate(series.values)
        ]
        line = " ".join(f"{_n(x)},{_n(y)}" for x, y in spots)
        body.append(
            f'<g class="series-{series.style}"><polyline points="{line}" fill="none" '
            f'stroke="currentColor" stroke-width="2.5"/>'
        )
        for index, (x, y) in enumerate(spots):
            body.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{2 if series.style == "faint" else 3.5}" '
                'fill="currentColor">'
                f"<title>{escape(_tooltip(chart, series, index))}</title></circle>"
            )
        body.append("</g>")
    return _svg(chart, top, slot, "".join(body))


def grouped_bars_chart(chart: TimeChart) -> Markup:
    """The series' bars side by side in each bucket, each with its tooltip."""
    top, slot = _top(chart), _slot(chart)
    width = slot * Decimal("0.8") / max(len(chart.series), 1)
    body = []
    for number, series in enumerate(chart.series):
        body.append(f'<g class="series-{series.style}">')
        for index, value in enumerate(series.values):
            bar_top = _y(value, top)
            body.append(
                f'<rect x="{_n(LEFT + slot * index + slot / 10 + width * number)}" '
                f'y="{_n(bar_top)}" width="{_n(width)}" height="{_n(_y(0, top) - bar_top)}" '
                f'fill="currentColor"><title>{escape(_tooltip(chart, series, index))}</title>'
                "</rect>"
            )
        body.append("</g>")
    return _svg(chart, top, slot, "".join(body))


def _tooltip(chart: TimeChart, series: Series, index: int) -> str:
    moment = series.moments[index] if series.moments else chart.labels[index]
    return f"{series.name}, {moment}: {chart.shown(series.values[index])}"


def _top(chart: TimeChart) -> Decimal:
    return axis_top(value for series in chart.series for value in series.values)


def _slot(chart: TimeChart) -> Decimal:
    return PLOT.slot(len(chart.labels))


def _y(value: Decimal | int, top: Decimal) -> Decimal:
    return PLOT.y(value, top)


def _svg(chart: TimeChart, top: Decimal, slot: Decimal, body: str) -> Markup:
    count = len(chart.labels)
    shown_labels = sorted({0, count // 2, count - 1}) if count else []
    labels = "".join(
        f'<text x="{_n(LEFT + slot * index + slot / 2)}" y="{HEIGHT - 8}" '
        f'text-anchor="{_anchor(index, count)}" font-size="{FONT}">'
        f"{escape(chart.labels[index])}</text>"
        for index in shown_labels
    )
    ticks = PLOT.gridlines(top, chart.shown)
    return svg(
        chart.chart_id, chart.title, summary(chart), (WIDTH, HEIGHT),
        f"{_legend(chart)}{ticks}{labels}{body}",
    )  # fmt: skip


def _anchor(index: int, count: int) -> str:
    """The first label starts at its bucket and the last ends there, so neither is cut off."""
    if count > 1 and index == 0:
        return "start"
    return "end" if count > 1 and index == count - 1 else "middle"


def _legend(chart: TimeChart) -> str:
    """A swatch and the name of each series, left to right along the top."""
    parts, x = [], LEFT
    for series in chart.series:
        parts.append(
            f'<g class="series-{series.style}" aria-hidden="true">'
            f'<line x1="{x}" x2="{x + 18}" y1="14" y2="14" stroke="currentColor" '
            f'stroke-width="4"/><text x="{x + 23}" y="19" font-size="{FONT}">'
            f"{escape(series.name)}</text></g>"
        )
        x += 34 + 7 * len(series.name)
    return "".join(parts)


def summary(chart: TimeChart) -> str:
    """Every series in a few words, for those who cannot see the chart."""
    if not chart.labels:
        return "No data in this period."
    parts = []
    for series in chart.series:
        total = sum((Decimal(v) for v in series.values), Decimal(0))
        parts.append(f"{series.name}: total {chart.shown(total)}")
    return f"From {chart.labels[0]} to {chart.labels[-1]}. " + "; ".join(parts) + "."
