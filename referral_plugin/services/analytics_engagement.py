"""The analytics' engagement queries: sharing, claims, reward costs and enrolled advocates.

Like `analytics_queries`, each reads one period in one aggregate statement and returns its
figures under the names of `domain.metrics.PeriodFigures`. Sharing counts link clicks on
advocates' codes (every click is on one: `services.clicks`) and friends invited by email
(`friend_invites`: one row per advocate and friend address).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, func, literal_column, select, union_all
from sqlalchemy.orm import Session, aliased

from ..domain.lifecycle import RewardStatus
from ..models import Advocate, Claim, Click, Code, Reward
from ..models.shopper_emails import FriendInvite
from .analytics_queries import AnySelect, Figures, Scope, Window, figures_of, referred_orders


def sharing_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """Link clicks, friends invited by email, and the advocates who did either. Clicks are
    counted per code first, so one row per code meets the codes table."""
    none = literal_column("0", Integer)
    per_code = (
        select(Click.code_id, func.count().label("clicks"))
        .where(Click.shop_id == scope.shop_id, window.holds(Click.created_at))
        .group_by(Click.code_id)
        .subquery()
    )
    clicks = (
        select(Code.advocate_id, per_code.c.clicks, none.label("invites"))
        .join(Code, Code.id == per_code.c.code_id)
        .where(Code.shop_id == scope.shop_id)
    )
    invites = (
        select(FriendInvite.advocate_id, none.label("clicks"), func.count().label("invites"))
        .where(FriendInvite.shop_id == scope.shop_id, window.holds(FriendInvite.created_at))
        .group_by(FriendInvite.advocate_id)
    )
    if scope.program_id is not None:
        clicks = clicks.where(Code.program_id == scope.program_id)
        invites = invites.where(FriendInvite.advocate_id.in_(program_advocates(scope)))
    shares = union_all(clicks, invites).subquery()
    query = select(
        func.sum(shares.c.clicks).label("clicks"),
        func.sum(shares.c.invites).label("invites"),
        func.count(shares.c.advocate_id.distinct()).label("sharing_advocates"),
    )
    return figures_of(session, query)


def program_advocates(scope: Scope) -> AnySelect:
    return select(Advocate.id).where(
        Advocate.shop_id == scope.shop_id, Advocate.program_id == scope.program_id
    )


def claim_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """Friends who claimed, and those of them with a referred order (same identity email, same
    program) paid after the claim and before the window ended."""
    referred = referred_orders(scope, window).subquery()
    claim = aliased(Claim)
    converted = (
        select(claim.id)
        .join(
            referred,
            and_(
                referred.c.identity_email == claim.identity_email,
                referred.c.program_id == claim.program_id,
                referred.c.paid_at >= claim.claimed_at,
            ),
        )
        .where(claim.shop_id == scope.shop_id, window.holds(claim.claimed_at))
    )
    query = select(
        func.count().label("claims"),
        func.count().filter(Claim.id.in_(converted)).label("converted_claims"),
    ).where(Claim.shop_id == scope.shop_id, window.holds(Claim.claimed_at))
    if scope.program_id is not None:
        query = query.where(Claim.program_id == scope.program_id)
    return figures_of(session, query)


def reward_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """The money value of rewards issued in the window (and not reversed since) and of
    rewards redeemed in it; each sum is one range of its own index."""

    def value_of(moment: Any, *more: ColumnElement[bool]) -> Any:
        query = select(func.sum(Reward.value)).where(
            Reward.shop_id == scope.shop_id,
            window.holds(moment),
            Reward.currency == scope.currency,
            Reward.value.is_not(None),
            *more,
        )
        if scope.program_id is not None:
            query = query.where(Reward.program_id == scope.program_id)
        return query.scalar_subquery()

    issued = value_of(Reward.issued_at, Reward.status != RewardStatus.REVERSED)
    query = select(
        issued.label("reward_cost_issued"),
        value_of(Reward.redeemed_at).label("reward_cost_redeemed"),
    )
    return figures_of(session, query)


def advocate_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """Advocates enrolled before the window ended."""
    query = select(func.count().label("advocates")).where(
        Advocate.shop_id == scope.shop_id, Advocate.created_at < window.end
    )
    if scope.program_id is not None:
        query = query.where(Advocate.program_id == scope.program_id)
    return figures_of(session, query)
