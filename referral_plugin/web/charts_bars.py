"""Charts that compare a few values (pure functions, inline SVG): horizontal bars, split into
parts when a value is made of some (advocates who referred once and those who did again),
with an optional reference line (a k-factor of 1), and the click → claim → order funnel
with what was lost between its steps.

Each SVG names itself for screen readers (`role="img"`, `<title>`, `<desc>` with every value
in words) and each bar carries its own `<title>`; colours come from the stylesheet's
`series-<style>` classes, and every value is also written beside its bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

from .svg_plot import axis_top, svg
from .svg_plot import coordinate as _n

WIDTH = 440  # narrow, so the words stay readable on a phone
LABEL_HEIGHT, BAR_HEIGHT, GAP = 22, 24, 12  # each row: its label above, then its bar
VALUE_ROOM = 190  # to the right of the longest bar, for its value in words
FONT = 13


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    value: Decimal | int
    style: str  # the stylesheet's `series-<style>`
    tooltip: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    label: str  # above the bar
    parts: Sequence[Part]  # laid end to end
    shown: str  # the whole row's value in words, right of the bar


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    value: Decimal
    label: str  # e.g. "1.00: each advocate brings one new customer"


@dataclass(frozen=True, slots=True, kw_only=True)
class BarsChart:
    chart_id: str
    title: str
    rows: Sequence[Row]
    reference: Reference | None = None
    legend: Sequence[tuple[str, str]] = ()  # (style, what it means) when rows have parts


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    label: str
    value: int
    shown: str  # the value in words, e.g. "4 clicks"


def bars_chart(chart: BarsChart) -> Markup:
    """A horizontal bar per row on one scale from zero."""
    values = [sum((Decimal(p.value) for p in row.parts), Decimal(0)) for row in chart.rows]
    if chart.reference is not None:
        values.append(chart.reference.value)
    top = axis_top(values)
    room = Decimal(WIDTH - VALUE_ROOM)
    body, y = [_legend(chart.legend)], LABEL_HEIGHT if chart.legend else 0
    for row in chart.rows:
        body.append(f'<text x="0" y="{y + 16}" font-size="{FONT}">{escape(row.label)}</text>')
        x, bar_y = Decimal(0), y + LABEL_HEIGHT
        for part in row.parts:
            width = room * Decimal(part.value) / top
            body.append(
                f'<rect class="series-{part.style}" x="{_n(x)}" y="{bar_y}" width="{_n(width)}" '
                f'height="{BAR_HEIGHT}" fill="currentColor"><title>{escape(part.tooltip)}'
                "</title></rect>"
            )
            x += width
        body.append(
            f'<text x="{_n(x + 8)}" y="{bar_y + 18}" font-size="{FONT}" font-weight="600">'
            f"{escape(row.shown)}</text>"
        )
        y = bar_y + BAR_HEIGHT + GAP
    if chart.reference is not None:
        body.append(_reference(chart.reference, room * chart.reference.value / top, y))
        y += LABEL_HEIGHT
    words = "; ".join(f"{row.label}: {row.shown}" for row in chart.rows)
    return _svg(chart.chart_id, chart.title, f"{words}.", y, "".join(body))


def _legend(legend: Sequence[tuple[str, str]]) -> str:
    parts, x = [], 0
    for style, name in legend:
        parts.append(
            f'<g aria-hidden="true"><rect class="series-{style}" x="{x}" y="4" width="14" '
            f'height="14" fill="currentColor"/><text x="{x + 19}" y="16" font-size="{FONT}">'
            f"{escape(name)}</text></g>"
        )
        x += 32 + 7 * len(name)
    return "".join(parts)


def _reference(reference: Reference, x: Decimal, bottom: int) -> str:
    return (
        f'<g class="reference"><line x1="{_n(x)}" x2="{_n(x)}" y1="0" y2="{bottom}" '
        f'stroke="currentColor" stroke-width="2" stroke-dasharray="5 4"/>'
        f'<text x="{_n(min(x, Decimal(WIDTH - VALUE_ROOM)))}" y="{bottom + 16}" '
        f'font-size="{FONT}" text-anchor="middle">{escape(reference.label)}</text></g>'
    )


def funnel_chart(chart_id: str, title: str, steps: Sequence[Step]) -> Markup:
    """Each step as a centred bar as wide as its share of the first step, and between two
    steps the share that went on and how many dropped off."""
    first = max((step.value for step in steps[:1]), default=0)
    widest = max((step.value for step in steps), default=0) or 1
    body, y, words = [], 0, []
    for index, step in enumerate(steps):
        if index:
            went_on = _went_on(steps[index - 1].value, step.value)
            body.append(
                f'<text x="{WIDTH // 2}" y="{y + 16}" font-size="{FONT}" text-anchor="middle" '
                f'class="drop">▼ {escape(went_on)}</text>'
            )
            words.append(went_on)
            y += LABEL_HEIGHT + 4
        width = Decimal(WIDTH) * Decimal(step.value) / widest
        body.append(
            f'<text x="{WIDTH // 2}" y="{y + 16}" font-size="{FONT}" text-anchor="middle" '
            f'font-weight="600">{escape(step.label)}: {escape(step.shown)}</text>'
            f'<rect class="series-main" x="{_n((WIDTH - width) / 2)}" y="{y + LABEL_HEIGHT}" '
            f'width="{_n(width)}" height="{BAR_HEIGHT}" fill="currentColor">'
            f"<title>{escape(step.label)}: {escape(step.shown)}</title></rect>"
        )
        words.append(f"{step.label}: {step.shown}")
        y += LABEL_HEIGHT + BAR_HEIGHT + 6
    summary = "; ".join(words) + "." if steps and first else "No clicks, claims or orders yet."
    return _svg(chart_id, title, summary, y, "".join(body))


def _went_on(before: int, after: int) -> str:
    """ "75.0 % went on, 1 dropped off", or what can be said when nothing came before."""
    if before == 0:
        return "nothing to go on from"
    share = (Decimal(after) * 100 / before).quantize(Decimal("0.1"))
    lost = before - after
    dropped = f"{lost:,} dropped off" if lost >= 0 else f"{-lost:,} more than the step before"
    return f"{share}% went on, {dropped}"


def _svg(chart_id: str, title: str, summary: str, height: int, body: str) -> Markup:
    return svg(chart_id, title, summary, (WIDTH, max(height, 1)), body, css="chart bars")
