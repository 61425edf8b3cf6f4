"""What the analytics page is asked for: the period (a named range such as the last 30 days,
custom dates, or a program's campaign period), and the program (all, or one). Read from the
query string, so every view of the page is a link; what cannot be read is kept as an error
naming its field, for the page to say (never a 500)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import request

from referral_plugin.domain.days import RangeName, named_range
from referral_plugin.errors import FieldError, ValidationError
from referral_plugin.models.types import row_id
from referral_plugin.query_dates import query_dates
from referral_plugin.services.analytics import DayRange

DEFAULT_PERIOD = RangeName.LAST_30_DAYS.value
CUSTOM = "custom"
CAMPAIGN = "campaign-"  # followed by the program's id
PERIODS = (
    (RangeName.LAST_7_DAYS.value, "Last 7 days"),
    (RangeName.LAST_30_DAYS.value, "Last 30 days"),
    (RangeName.LAST_90_DAYS.value, "Last 90 days"),
    (RangeName.THIS_MONTH.value, "This month"),
    (RangeName.LAST_MONTH.value, "Last month"),
    (RangeName.YEAR_TO_DATE.value, "Year to date"),
    (CUSTOM, "Custom dates"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Controls:
    period: str  # a RangeName value, CUSTOM, or CAMPAIGN + a program id
    days: DayRange | None  # None for a campaign (the service knows its dates) or an error
    campaign_id: int | None
    program_id: int | None
    typed_from: str  # the dates as typed, shown back in the form
    typed_to: str
    errors: tuple[FieldError, ...]


def read_controls(today: date) -> Controls:
    """The period and program asked for in the query string, `today` ending named ranges."""
    args = request.args
    typed_from, typed_to = args.get("from", "").strip(), args.get("to", "").strip()
    period = args.get("period", "").strip() or (
        CUSTOM if typed_from or typed_to else DEFAULT_PERIOD
    )
    errors: list[FieldError] = []
    program_id = _id(args.get("program", "").strip(), "program", errors)
    days, campaign_id = None, None
    if period in {name.value for name in RangeName}:
        first, last = named_range(RangeName(period), today)
        days = DayRange(first=first, last=last)
    elif period == CUSTOM:
        days = _custom_days(errors)
    elif period.startswith(CAMPAIGN):
        campaign_id = _id(period.removeprefix(CAMPAIGN), "period", errors)
    else:
        errors.append(FieldError("period", "choose one of the periods in the list"))
    return Controls(
        period=period, days=days, campaign_id=campaign_id, program_id=program_id,
        typed_from=typed_from, typed_to=typed_to, errors=tuple(errors),
    )  # fmt: skip


def _custom_days(errors: list[FieldError]) -> DayRange | None:
    try:
        first, last = query_dates("from", "to")
    except ValidationError as refused:
        errors.extend(refused.errors)
        return None
    for name, day in (("from", first), ("to", last)):
        if day is None:
            errors.append(FieldError(name, "enter a date for custom dates"))
    if first is None or last is None:
        return None
    return DayRange(first=first, last=last)


def _id(raw: str, field: str, errors: list[FieldError]) -> int | None:
    """An id from the query ('' is none); a value that is not one is an error on `field`."""
    if not raw:
        return None
    if (found := row_id(raw)) is not None:
        return found
    errors.append(FieldError(field, "choose one from the list"))
    return None
