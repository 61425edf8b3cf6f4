"""Days typed as `YYYY-MM-DD` within the years we answer for, and the analytics page's named
ranges as seen on a given day (month ends, leap years and the turn of the year included)."""

from __future__ import annotations

from datetime import date

import pytest

from referral_plugin.domain.days import EARLIEST, LATEST, RangeName, named_range, parse_day


@pytest.mark.parametrize(
    ("label", "text", "day"),
    [
        ("a day", "2026-03-01", date(2026, 3, 1)),
        ("the first day we answer for", "2000-01-01", EARLIEST),
        ("the last day we answer for", "2099-12-31", LATEST),
        ("leap day", "2028-02-29", date(2028, 2, 29)),
        ("no leap day", "2026-02-29", None),
        ("no such month", "2026-13-01", None),
        ("the end of time", "9999-12-31", None),
        ("before 2000", "1999-12-31", None),
        ("after 2099", "2100-01-01", None),
        ("no dashes", "20260301", None),
        ("a time as well", "2026-03-01T10:00:00", None),
        ("words", "yesterday", None),
        ("empty", "", None),
    ],
)
def test_a_day_is_exactly_yyyy_mm_dd_within_the_years_we_answer_for(
    label: str, text: str, day: date | None
) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize(
    ("name", "today", "first", "last"),
    [
        (RangeName.LAST_7_DAYS, date(2026, 3, 10), date(2026, 3, 4), date(2026, 3, 10)),
        (RangeName.LAST_30_DAYS, date(2026, 3, 10), date(2026, 2, 9), date(2026, 3, 10)),
        (RangeName.LAST_90_DAYS, date(2026, 3, 10), date(2025, 12, 11), date(2026, 3, 10)),
        (RangeName.THIS_MONTH, date(2026, 3, 10), date(2026, 3, 1), date(2026, 3, 10)),
        (RangeName.THIS_MONTH, date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 1)),
        (RangeName.LAST_MONTH, date(2026, 3, 10), date(2026, 2, 1), date(2026, 2, 28)),
        (RangeName.LAST_MONTH, date(2028, 3, 31), date(2028, 2, 1), date(2028, 2, 29)),
        (RangeName.LAST_MONTH, date(2026, 1, 15), date(2025, 12, 1), date(2025, 12, 31)),
        (RangeName.YEAR_TO_DATE, date(2026, 3, 10), date(2026, 1, 1), date(2026, 3, 10)),
        (RangeName.YEAR_TO_DATE, date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1)),
    ],
)
def test_named_ranges_end_today_or_cover_last_month(
    name: RangeName, today: date, first: date, last: date
) -> None:
    assert named_range(name, today) == (first, last)
