"""Whole UTC days as merchants pick them: a day typed as `YYYY-MM-DD` within the years we
answer for, and the named ranges of the analytics page (last 7 days, this month, ...)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

# Every day we accept lies here, so a day plus or minus a couple of years never overflows.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
DAY_LENGTH = len("2026-03-01")


class RangeName(StrEnum):
    LAST_7_DAYS = "last_7_days"
    LAST_30_DAYS = "last_30_days"
    LAST_90_DAYS = "last_90_days"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    YEAR_TO_DATE = "year_to_date"


def parse_day(text: str) -> date | None:
    """`text` as a day when it is exactly `YYYY-MM-DD` between EARLIEST and LATEST; else None."""
    if len(text) != DAY_LENGTH:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def named_range(name: RangeName, today: date) -> tuple[date, date]:
    """The first and last day (both included) of the range `name` as seen on `today`: the
    "last N days" end today; last month is the whole calendar month before this one."""
    if name is RangeName.THIS_MONTH:
        return today.replace(day=1), today
    if name is RangeName.LAST_MONTH:
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if name is RangeName.YEAR_TO_DATE:
        return today.replace(month=1, day=1), today
    days = {RangeName.LAST_7_DAYS: 7, RangeName.LAST_30_DAYS: 30, RangeName.LAST_90_DAYS: 90}
    return today - timedelta(days=days[name] - 1), today
