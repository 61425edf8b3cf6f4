"""Charts render a series as accessible SVG: named for screen readers, a tooltip per point,
axis labels, bars and dots where the values say, text escaped, and an empty series readable."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from markupsafe import Markup

from referral_plugin.services.analytics_series import Series, SeriesPoint
from referral_plugin.web.charts import (
    BOTTOM,
    HEIGHT,
    TOP,
    Chart,
    ChartPoint,
    analytics_points,
    bar_chart,
    line_chart,
)
from referral_plugin.web.svg_plot import nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"
Draw = Callable[[Chart], Markup]


def chart(values: list[int], title: str = "Clicks") -> Chart:
    points = [
        ChartPoint(label=f"day {n}", value=value, tooltip=f"day {n}: {value} clicks")
        for n, value in enumerate(values, start=1)
    ]
    return Chart(chart_id="clicks", title=title, points=points, shown=str)


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        ("1", "1"),
        ("3", "5"),
        ("7", "10"),
        ("120", "200"),
        ("240", "250"),
        ("0.3", "0.5"),
        ("1000", "1000"),
        ("1001", "2000"),
    ],
)
def test_the_value_axis_ends_at_a_round_number(value: str, ceiling: str) -> None:
    assert nice_ceiling(Decimal(value)) == Decimal(ceiling)


@pytest.mark.parametrize(("label", "draw"), [("bars", bar_chart), ("line", line_chart)])
def test_the_chart_names_itself_and_summarizes_the_series(label: str, draw: Draw) -> None:
    root = parsed(draw(chart([2, 8, 4])))

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "clicks-title clicks-desc"
    assert root.findtext(f"{SVG}title") == "Clicks"
    assert root.findtext(f"{SVG}desc") == (
        "3 points from day 1 to day 3; total 14; highest 8 (day 2)."
    )


def test_every_bar_has_its_tooltip_and_a_height_in_proportion() -> None:
    root = parsed(bar_chart(chart([2, 8, 4, 0])))  # the axis runs to 10
    bars = list(root.iter(f"{SVG}rect"))

    assert [bar.findtext(f"{SVG}title") for bar in bars] == [
        "day 1: 2 clicks",
        "day 2: 8 clicks",
        "day 3: 4 clicks",
        "day 4: 0 clicks",
    ]
    plot = HEIGHT - TOP - BOTTOM
    assert [Decimal(bar.get("height", "")) for bar in bars] == [
        Decimal(plot) * share for share in (Decimal("0.2"), Decimal("0.8"), Decimal("0.4"), 0)
    ]


def test_the_line_has_a_dot_with_a_tooltip_per_point() -> None:
    root = parsed(line_chart(chart([5, 1, 3])))

    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 3
    dots = list(root.iter(f"{SVG}circle"))
    assert [d.findtext(f"{SVG}title") for d in dots] == [
        "day 1: 5 clicks",
        "day 2: 1 clicks",
        "day 3: 3 clicks",
    ]
    assert (
        float(dots[0].get("cy", "")) < float(dots[2].get("cy", "")) < float(dots[1].get("cy", ""))
    )


def test_both_axes_are_labelled() -> None:
    labels = texts(parsed(bar_chart(chart([2, 8, 4, 6, 1]))))

    assert labels[:3] == ["0", "5", "10"]  # the value axis: zero, half way, the top
    assert labels[3:] == ["day 1", "day 3", "day 5"]  # the time axis: first, middle, last


def test_text_is_escaped() -> None:
    markup = bar_chart(chart([1], title='<script>alert("x")</script>'))

    assert "<script>" not in markup
    assert parsed(markup).findtext(f"{SVG}title") == '<script>alert("x")</script>'


@pytest.mark.parametrize(("label", "draw"), [("bars", bar_chart), ("line", line_chart)])
def test_an_empty_series_says_so(label: str, draw: Draw) -> None:
    root = parsed(draw(chart([])))

    assert "No data" in texts(root)
    assert root.findtext(f"{SVG}desc") == "No data in this period."
    assert not list(root.iter(f"{SVG}rect")) and not list(root.iter(f"{SVG}circle"))


def test_the_analytics_series_becomes_points_in_money_or_counts() -> None:
    start = date(2026, 3, 1)
    series = Series(
        bucket_days=7,
        points=tuple(
            SeriesPoint(
                start=start + timedelta(days=7 * n), days=7 if n < 2 else 3,
                referred_orders=n, referred_revenue=Decimal("12.50") * n,
                referred_revenue_gross=Decimal("15.00") * n, clicks=10 * n,
                reward_cost_issued=Decimal(0), reward_cost_redeemed=Decimal(0),
            )
            for n in range(3)
        ),
    )  # fmt: skip

    revenue = analytics_points(series, "referred_revenue", "USD")
    orders = analytics_points(series, "referred_orders", "USD")

    assert revenue.title == "Net referred revenue"
    assert [p.tooltip for p in revenue.points] == [
        "week of 2026-03-01: 0.00 USD",
        "week of 2026-03-08: 12.50 USD",
        "3 days from 2026-03-15: 25.00 USD",
    ]
    assert [p.value for p in orders.points] == [0, 1, 2]
    assert parsed(bar_chart(revenue)).get("aria-labelledby") == (
        "chart-referred_revenue-title chart-referred_revenue-desc"
    )
