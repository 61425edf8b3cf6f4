"""Dates in query strings, read alike by the admin API and the dashboard: `YYYY-MM-DD`, one
whole UTC day between `domain.days.EARLIEST` and `LATEST`, so nothing computed from it can
overflow (`to=9999-12-31` once answered 500 in the CSV exports)."""

from __future__ import annotations

from datetime import date

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
