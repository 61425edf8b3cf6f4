"""The analytics' chart series: referred orders, their revenue (gross and net), link clicks
and the value of rewards issued and redeemed, per day, or per week for long periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..domain.lifecycle import RewardStatus
from ..models import Click, Code, Reward
from ..models.analytics import CustomerOrder
from ..models.types import UTCDateTime
from .analytics_queries import AnySelect, Scope, Window, referred_facts

DAILY_UP_TO_DAYS = 92  # longer periods are shown week by week
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """One bucket of the chart: `days` days from `start` (the last one may be shorter)."""

    start: date
    days: int
    referred_orders: int
    referred_revenue: Decimal  # net, in the scope's currency
    referred_revenue_gross: Decimal
    clicks: int
    reward_cost_issued: Decimal  # as the metric of that name, in the bucket
    reward_cost_redeemed: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    bucket_days: int  # 1 (daily) or 7 (weekly)
    points: tuple[SeriesPoint, ...]  # every bucket of the period, empty ones as zeros


def activity_series(session: Session, scope: Scope, window: Window) -> Series:
    """Referred orders, their revenue, link clicks and reward costs of `window` (whole UTC
    days), per day up to DAILY_UP_TO_DAYS days, else per week from the first day: four
    statements. Each count is an index range per bucket: no timestamp is turned into a day
    row by row."""
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
    in_currency = f.currency == scope.currency
    orders = {
        start: (count, net or ZERO, gross or ZERO)
        for start, count, net, gross in session.execute(
            referred_facts(scope, window)
            .with_only_columns(
                buckets.c.start,
                func.count(),
                func.sum(f.net).filter(in_currency),
                func.sum(f.total).filter(in_currency),
            )
            .join(buckets, in_bucket)
            .group_by(buckets.c.start)
        )
    }
    clicks: dict[datetime, int] = dict(session.execute(_clicks(scope, buckets)).all())
    issued = _reward_values(session, scope, buckets, Reward.issued_at, not_reversed=True)
    redeemed = _reward_values(session, scope, buckets, Reward.redeemed_at)
    points = []
    for start, end in zip(starts, ends, strict=True):
        count, net, gross = orders.get(start, (0, ZERO, ZERO))
        points.append(
            SeriesPoint(
                start=start.date(), days=(end - start).days, referred_orders=count,
                referred_revenue=net, referred_revenue_gross=gross, clicks=clicks.get(start, 0),
                reward_cost_issued=issued.get(start, ZERO),
                reward_cost_redeemed=redeemed.get(start, ZERO),
            )
        )  # fmt: skip
    return Series(bucket_days=size, points=tuple(points))


def _reward_values(
    session: Session, scope: Scope, buckets: Any, moment: Any, *, not_reversed: bool = False
) -> dict[datetime, Decimal]:
    """The money value of rewards whose `moment` (issued or redeemed) falls in each bucket,
    as `analytics_engagement.reward_figures` counts them for the whole period."""
    query = (
        select(buckets.c.start, func.sum(Reward.value))
        .select_from(buckets)
        .join(
            Reward,
            and_(
                Reward.shop_id == scope.shop_id,
                moment >= buckets.c.start,
                moment < buckets.c.end,
                Reward.currency == scope.currency,
                Reward.value.is_not(None),
            ),
        )
        .group_by(buckets.c.start)
    )
    if not_reversed:
        query = query.where(Reward.status != RewardStatus.REVERSED)
    if scope.program_id is not None:
        query = query.where(Reward.program_id == scope.program_id)
    return {start: value or ZERO for start, value in session.execute(query)}


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
