"""The counts and sums an A/B test's results are computed from, per group, in a few aggregate
statements over `experiment_assignments` (scoped to one shop and program).

Who counts: the advocates assigned in [since, until). What counts, each inside [since, until):
- clicks on their share codes, and the advocates with at least one (they shared);
- their referrals (any status), the converted ones (status `converted`: paid, past review,
  not reversed), the advocates with at least one converted referral, and the converted
  referrals' net revenue (order total minus refunds);
- the reward cost: the money value of the converted referrals' rewards that are not reversed
  (advocate, friend and charity rewards alike), in the program's currency;
- their own orders: counted orders (paid, neither cancelled nor a test) the advocate placed as
  a customer (same customer id or identity email) paid after their assignment, and the
  advocates with at least one. This is the one measure the holdout has too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from ..domain.decisions import CodeKind
from ..domain.lifecycle import ReferralStatus, RewardStatus
from ..models import Advocate, Click, Code, Conversion, ExperimentAssignment, Referral, Reward

A = ExperimentAssignment
Where = list[ColumnElement[bool]]
Groups = dict[str, "GroupFigures"]


@dataclass(slots=True, kw_only=True)
class GroupFigures:
    advocates: int = 0
    sharing_advocates: int = 0
    clicks: int = 0
    referrals: int = 0
    converted_referrals: int = 0
    converting_advocates: int = 0
    referred_revenue: Decimal = field(default_factory=Decimal)
    reward_cost: Decimal = field(default_factory=Decimal)
    ordering_advocates: int = 0  # placed at least one order of their own after assignment
    own_orders: int = 0


def group_figures(
    session: Session,
    shop_id: int,
    program_id: int,
    currency: str,
    since: datetime,
    until: datetime,
) -> dict[str, GroupFigures]:
    """The figures of each group that has advocates assigned in [since, until), by its key.
    Read-only."""
    assigned: Where = [
        A.shop_id == shop_id,
        A.program_id == program_id,
        A.assigned_at >= since,
        A.assigned_at < until,
    ]
    groups: dict[str, GroupFigures] = {}
    for variant, count in session.execute(
        select(A.variant, func.count()).where(*assigned).group_by(A.variant)
    ):
        groups[variant] = GroupFigures(advocates=count)
    if not groups:
        return groups
    _add_clicks(session, groups, assigned, since, until)
    _add_referrals(session, groups, assigned, since, until)
    _add_reward_cost(session, groups, assigned, currency, since, until)
    _add_own_orders(session, groups, assigned, since, until)
    return groups


def _add_clicks(
    session: Session, groups: Groups, assigned: Where, since: datetime, until: datetime
) -> None:
    rows = session.execute(
        select(A.variant, func.count(Click.id), func.count(distinct(A.advocate_id)))
        .join(Code, and_(Code.shop_id == A.shop_id, Code.advocate_id == A.advocate_id))
        .join(Click, and_(Click.shop_id == A.shop_id, Click.code_id == Code.id))
        .where(*assigned, Code.kind == CodeKind.ADVOCATE, *_inside(Click.created_at, since, until))
        .group_by(A.variant)
    )
    for variant, clicks, sharing in rows:
        groups[variant].clicks, groups[variant].sharing_advocates = clicks, sharing


def _add_referrals(
    session: Session, groups: Groups, assigned: Where, since: datetime, until: datetime
) -> None:
    converted = Referral.status == ReferralStatus.CONVERTED
    net = Conversion.total - Conversion.refunded_total
    rows = session.execute(
        select(
            A.variant,
            func.count(Referral.id),
            func.count(Referral.id).filter(converted),
            func.count(distinct(Referral.advocate_id)).filter(converted),
            func.coalesce(func.sum(net).filter(converted), 0),
        )
        .join(
            Referral,
            and_(Referral.shop_id == A.shop_id, Referral.advocate_id == A.advocate_id),
        )
        .join(
            Conversion,
            and_(Conversion.shop_id == A.shop_id, Conversion.id == Referral.conversion_id),
        )
        .where(*assigned, *_inside(Referral.created_at, since, until))
        .group_by(A.variant)
    )
    for variant, referrals, converted_count, converting, revenue in rows:
        group = groups[variant]
        group.referrals, group.converted_referrals = referrals, converted_count
        group.converting_advocates, group.referred_revenue = converting, Decimal(str(revenue))


def _add_reward_cost(
    session: Session,
    groups: Groups,
    assigned: Where,
    currency: str,
    since: datetime,
    until: datetime,
) -> None:
    rows = session.execute(
        select(A.variant, func.coalesce(func.sum(Reward.value), 0))
        .join(
            Referral,
            and_(Referral.shop_id == A.shop_id, Referral.advocate_id == A.advocate_id),
        )
        .join(Reward, and_(Reward.shop_id == A.shop_id, Reward.referral_id == Referral.id))
        .where(
            *assigned,
            *_inside(Referral.created_at, since, until),
            Referral.status == ReferralStatus.CONVERTED,
            Reward.status != RewardStatus.REVERSED,
            Reward.currency == currency,
        )
        .group_by(A.variant)
    )
    for variant, cost in rows:
        groups[variant].reward_cost = Decimal(str(cost))


def _add_own_orders(
    session: Session, groups: Groups, assigned: Where, since: datetime, until: datetime
) -> None:
    same_person = or_(
        Conversion.identity_email == Advocate.identity_email,
        and_(Advocate.customer_id.is_not(None), Conversion.customer_id == Advocate.customer_id),
    )
    rows = session.execute(
        select(A.variant, func.count(distinct(Conversion.id)), func.count(distinct(A.advocate_id)))
        .join(Advocate, and_(Advocate.shop_id == A.shop_id, Advocate.id == A.advocate_id))
        .join(Conversion, and_(Conversion.shop_id == A.shop_id, same_person))
        .where(
            *assigned,
            Conversion.paid.is_(True),
            Conversion.cancelled.is_(False),
            Conversion.is_test.is_(False),
            Conversion.paid_at >= A.assigned_at,
            *_inside(Conversion.paid_at, since, until),
        )
        .group_by(A.variant)
    )
    for variant, orders, ordering in rows:
        groups[variant].own_orders, groups[variant].ordering_advocates = orders, ordering


def _inside(column: Any, since: datetime, until: datetime) -> Where:
    return [column >= since, column < until]
