"""The analytics page's chart kinds: several series over time (lines, grouped bars) and
comparisons (horizontal bars with parts and a reference line, the funnel). Each names itself
for screen readers, puts a tooltip on every mark, draws values in proportion and escapes text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from referral_plugin.web.charts_bars import (
    VALUE_ROOM,
    WIDTH,
    BarsChart,
    Part,
    Reference,
    Row,
    Step,
    bars_chart,
    funnel_chart,
)
from referral_plugin.web.charts_time import (
    BOTTOM,
    HEIGHT,
    TOP,
    Series,
    TimeChart,
    grouped_bars_chart,
    lines_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
D = Decimal


def parsed(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def money(value: Decimal | int) -> str:
    return f"${Decimal(value):,.2f}"


def revenue(labels: tuple[str, ...] = ("1 Mar", "2 Mar", "3 Mar")) -> TimeChart:
    count = len(labels)
    return TimeChart(
        chart_id="revenue", title="Revenue", labels=labels, shown=money,
        series=(
            Series(name="Gross", values=[D(100), D(40), D(0)][:count], style="main"),
            Series(name="Net", values=[D(80), D(40), D(0)][:count], style="second"),
            Series(name="Before", values=[D(10), D(0), D(5)][:count], style="faint",
                   moments=["29 Jan", "30 Jan", "31 Jan"][:count]),
        ),
    )  # fmt: skip


def test_lines_one_per_series_with_a_tooltip_on_every_dot() -> None:
    root = parsed(lines_chart(revenue()))

    groups = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}polyline") is not None]
    assert [g.get("class") for g in groups] == ["series-main", "series-second", "series-faint"]
    tooltips = [c.findtext(f"{SVG}title") for c in root.iter(f"{SVG}circle")]
    assert tooltips[:2] == ["Gross, 1 Mar: $100.00", "Gross, 2 Mar: $40.00"]
    assert tooltips[-1] == "Before, 31 Jan: $5.00"  # the previous period's own days
    assert root.get("role") == "img" and root.findtext(f"{SVG}desc") == (
        "From 1 Mar to 3 Mar. Gross: total $140.00; Net: total $120.00; Before: total $15.00."
    )


def test_lines_run_from_the_zero_line_to_a_round_top() -> None:
    root = parsed(lines_chart(revenue()))
    gross = next(
        g for g in root.iter(f"{SVG}g")
        if g.get("class") == "series-main" and g.find(f"{SVG}polyline") is not None
    )  # fmt: skip
    heights = [D(c.get("cy", "")) for c in gross.iter(f"{SVG}circle")]

    plot = D(HEIGHT - TOP - BOTTOM)  # the axis runs to 100: 100, 40 and 0
    assert heights == [D(TOP), TOP + plot * D("0.6"), D(TOP) + plot]
    assert [t.text for t in root.iter(f"{SVG}text")][-6:-3] == ["$0.00", "$50.00", "$100.00"]


def test_grouped_bars_stand_side_by_side_in_each_bucket() -> None:
    chart = revenue(("1 Mar", "2 Mar"))
    root = parsed(grouped_bars_chart(chart))
    bars = list(root.iter(f"{SVG}rect"))

    assert len(bars) == 3 * 2
    first, second = bars[0], bars[2]  # Gross and Net on 1 Mar
    assert D(second.get("x", "")) == D(first.get("x", "")) + D(first.get("width", ""))
    assert D(bars[2].get("height", "")) == D(bars[0].get("height", "")) * D("0.8")
    assert bars[2].findtext(f"{SVG}title") == "Net, 1 Mar: $80.00"


def test_a_time_chart_without_buckets_says_so() -> None:
    root = parsed(lines_chart(revenue(())))

    assert root.findtext(f"{SVG}desc") == "No data in this period."


def test_bars_are_in_proportion_with_parts_end_to_end_and_a_reference() -> None:
    chart = BarsChart(
        chart_id="k", title="Referrers <b>",
        rows=(
            Row(label="This period", shown="3, 1 again",
                parts=(Part(value=2, style="second", tooltip="once: 2"),
                       Part(value=1, style="main", tooltip="again: 1"))),
            Row(label="Previous", shown="1", parts=(Part(value=1, style="faint", tooltip="1"),)),
        ),
        reference=Reference(value=D(4), label="4: the goal"),
    )  # fmt: skip
    root = parsed(bars_chart(chart))
    bars = list(root.iter(f"{SVG}rect"))

    room = D(WIDTH - VALUE_ROOM)  # the scale runs to 5 (the reference is 4)
    assert [D(b.get("width", "")) for b in bars] == [room * D("0.4"), room * D("0.2"), room / 5]
    assert D(bars[1].get("x", "")) == D(bars[0].get("width", ""))
    assert [b.findtext(f"{SVG}title") for b in bars] == ["once: 2", "again: 1", "1"]
    (line,) = root.iter(f"{SVG}line")
    assert D(line.get("x1", "")) == room * D("0.8")
    assert root.findtext(f"{SVG}title") == "Referrers <b>"
    assert root.findtext(f"{SVG}desc") == "This period: 3, 1 again; Previous: 1."


@pytest.mark.parametrize(
    ("label", "values", "words"),
    [
        ("the usual funnel", (40, 10, 4),
         ["25.0% went on, 30 dropped off", "40.0% went on, 6 dropped off"]),
        ("nothing at the top", (0, 0, 0), ["nothing to go on from", "nothing to go on from"]),
        ("more orders than claims", (4, 2, 3),
         ["50.0% went on, 2 dropped off", "150.0% went on, 1 more than the step before"]),
    ],
)  # fmt: skip
def test_the_funnel_says_what_went_on_between_steps(
    label: str, values: tuple[int, int, int], words: list[str]
) -> None:
    steps = [Step(label=f"step {n}", value=v, shown=str(v)) for n, v in enumerate(values)]
    root = parsed(funnel_chart("funnel", "Funnel", steps))

    drops = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "drop"]
    assert [d.removeprefix("▼ ") for d in drops] == words
    widths = [D(b.get("width", "")) for b in root.iter(f"{SVG}rect")]
    widest = max(values) or 1
    assert widths == [D(WIDTH) * v / widest for v in values]
