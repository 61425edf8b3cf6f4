"""The analytics' chart series: referred orders, their net revenue and link clicks per day,
or per week for long periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..models import Click, Code
from ..models.analytics import CustomerOrder
from ..models.types import UTCDateTime
from .analytics_queries import AnySelect, Scope, Window, referred_facts

DAILY_UP_TO_DAYS = 92  # longer periods are shown week by week


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """One bucket of the chart: `days` days from `start` (the last one may be shorter)."""

    start: date
    days: int
    referred_orders: int
    referred_revenue: Decimal  # net, in the scope's currency
    clicks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    bucket_days: int  # 1 (daily) or 7 (weekly)
    points: tuple[SeriesPoint, ...]  # every bucket of the period, empty ones as zeros


def activity_series(session: Session, scope: Scope, window: Window) -> Series:
    """Referred orders, their net revenue and link clicks of `window` (whole UTC days), per
    day up to DAILY_UP_TO_DAYS days, else per week from the first day. Each count is an index
    range per bucket: no timestamp is turned into a day row by row."""
    days = (window.end - window.start).days
    size = 1 if days <= DAILY_UP_TO_DAYS else 7
    starts = [window.start + timedelta(days=offset) for offset in range(0, days, size)]
    ends = [*starts[1:], window.end]
    buckets = union_all(
        *[
            select(
                literal(start, UTCDateTime()).label("start"),
                literal(end, UTCDateTime()).label("end"),
            )
            for start, end in zip(starts, ends, strict=True)
        ]
    ).subquery("buckets")
    f = CustomerOrder
    in_bucket = and_(f.paid_at >= buckets.c.start, f.paid_at < buckets.c.end)
    orders = {
        start: (count, net or Decimal(0))
        for start, count, net in session.execute(
            referred_facts(scope, window)
            .with_only_columns(
                buckets.c.start,
                func.count(),
                func.sum(f.net).filter(f.currency == scope.currency),
            )
            .join(buckets, in_bucket)
            .group_by(buckets.c.start)
        )
    }
    clicks: dict[datetime, int] = dict(session.execute(_clicks(scope, buckets)).all())
    return Series(
        bucket_days=size,
        points=tuple(
            SeriesPoint(
                start=start.date(),
                days=(end - start).days,
                referred_orders=orders.get(start, (0, Decimal(0)))[0],
                referred_revenue=orders.get(start, (0, Decimal(0)))[1],
                clicks=clicks.get(start, 0),
            )
            for start, end in zip(starts, ends, strict=True)
        ),
    )


def _clicks(scope: Scope, buckets: Any) -> AnySelect:
    """Link clicks per bucket start."""
    query = (
        select(buckets.c.start, func.count())
        .select_from(buckets)
        .join(
            Click,
            and_(
                Click.shop_id == scope.shop_id,
                Click.created_at >= buckets.c.start,
                Click.created_at < buckets.c.end,
            ),
        )
        .group_by(buckets.c.start)
    )
    if scope.program_id is not None:
        codes = select(Code.id).where(
            Code.shop_id == scope.shop_id, Code.program_id == scope.program_id
        )
        query = query.where(Click.code_id.in_(codes))
    return query
