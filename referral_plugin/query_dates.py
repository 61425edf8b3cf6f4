"""Dates in query strings, read alike by the admin API and the dashboard: `YYYY-MM-DD`, one
whole UTC day between `domain.days.EARLIEST` and `LATEST`, so nothing computed from it can
overflow (`to=9999-12-31` once answered 500 in the CSV exports)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import request

from referral_plugin.domain.days import EARLIEST, LATEST, parse_day
from referral_plugin.errors import FieldError, ValidationError

DATE_MESSAGE = f"must be a date as YYYY-MM-DD, from {EARLIEST} to {LATEST}"


def query_date(name: str) -> date | None:
    """The query parameter `name` as a day (None when missing or blank); raises
    ValidationError naming it when it is not a day we accept."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    day = parse_day(raw)
    if day is None:
        raise ValidationError.single(name, DATE_MESSAGE)
    return day


def query_dates(*names: str) -> tuple[date | None, ...]:
    """Each of the query parameters `names` as by `query_date`, in order; raises one
    ValidationError naming every one that is wrong."""
    days: list[date | None] = []
    errors: list[FieldError] = []
    for name in names:
        try:
            days.append(query_date(name))
        except ValidationError as refused:
            errors.extend(refused.errors)
    if errors:
        raise ValidationError(errors)
    return tuple(days)


def date_window() -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC from the `from` and `to` days (whole days, `to` included); raises
    ValidationError naming them (both bad ones at once, or `to` before `from`)."""
    first, last = query_dates("from", "to")
    if first is not None and last is not None and last < first:
        raise ValidationError.single("to", "must not be before from")
    start = None if first is None else datetime.combine(first, time(), tzinfo=UTC)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    return start, end
