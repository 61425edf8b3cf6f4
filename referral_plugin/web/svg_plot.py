"""What every dashboard chart draws the same way (pure functions, inline SVG): a zero-based
value axis ending at a round number, its three labelled gridlines, coordinates written short,
and the `<svg>` element that names itself for screen readers (`role="img"`, a `<title>` and a
`<desc>`). `charts`, `charts_time` and `charts_bars` draw their marks on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from markupsafe import Markup

NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value` (> 0)."""
    power = Decimal(10) ** (value.adjusted())
    return next(step * power for step in NICE_STEPS if step * power >= value)


def axis_top(values: Iterable[Decimal | int]) -> Decimal:
    """Where the value axis ends: the round number at or above the highest value (1 if none)."""
    highest = max((Decimal(value) for value in values), default=Decimal(0))
    return nice_ceiling(highest) if highest > 0 else Decimal(1)


def coordinate(number: Decimal | int) -> str:
    """A coordinate with at most two decimals."""
    return f"{Decimal(number).quantize(Decimal('0.01')).normalize():f}"


@dataclass(frozen=True, slots=True)
class Plot:
    """A chart's box: its size, the margins around the plotting area, its text size."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    font: int

    def y(self, value: Decimal | int, top: Decimal) -> Decimal:
        """Where `value` stands on a value axis from 0 (the bottom) to `top`."""
        plot = Decimal(self.height - self.top - self.bottom)
        return self.top + plot - plot * max(Decimal(value), Decimal(0)) / top

    def slot(self, count: int) -> Decimal:
        """The width of each of `count` buckets along the time axis."""
        return Decimal(self.width - self.left - self.right) / max(count, 1)

    def gridlines(self, top: Decimal, shown: Callable[[Decimal | int], str]) -> str:
        """Lines at zero, half way and the top, each labelled as a person reads the value."""
        return "".join(
            f'<line x1="{self.left}" x2="{self.width - self.right}" '
            f'y1="{coordinate(self.y(value, top))}" y2="{coordinate(self.y(value, top))}" '
            'stroke="currentColor" stroke-opacity="0.15"/>'
            f'<text x="{self.left - 6}" y="{coordinate(self.y(value, top) + 4)}" '
            f'text-anchor="end" font-size="{self.font}">{escape(shown(value))}</text>'
            for value in (Decimal(0), top / 2, top)
        )


def svg(
    chart_id: str, title: str, desc: str, size: tuple[int, int], body: str, css: str = "chart"
) -> Markup:
    """The `<svg>` element around `body` (markup whose text the caller escaped), named by
    `title` and described by `desc` for screen readers."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    width, height = size
    return Markup(  # noqa: S704 - title and desc escaped here, the body by the callers
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" class="{css}">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>{body}</svg>'
    )
