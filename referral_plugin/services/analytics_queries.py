"""The analytics' aggregate queries over orders: customers and referred orders of a period.

Each figure query reads one period (`Window`) in one aggregate statement, with conditional
sums (`count(*) FILTER (WHERE ...)`, which SQLite and PostgreSQL both run), and returns
`{figure: value}` under the names of `domain.metrics.PeriodFigures` (None: nothing to sum).
Every query is scoped to the shop, and to one program when the scope names one. Customers
come from `analytics_customer_orders` (see the model), so no query groups orders by customer;
referred orders from its partial index of referred orders, or (with the customer's email,
for the claims) from the attributed-orders index of `conversions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ..domain.lifecycle import ReferralStatus
from ..models import Conversion, Referral
from ..models.analytics import CustomerOrder

# A referral counts once converted; a reversed one stays a referred order (its refund comes
# off the net revenue; a cancelled order no longer counts at all).
COUNTED_REFERRALS = (ReferralStatus.CONVERTED, ReferralStatus.REVERSED)
Figures = dict[str, int | Decimal | None]
AnySelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """[start, end) in aware UTC."""

    start: datetime
    end: datetime

    def holds(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.start, column < self.end)

    def before(self) -> Window:
        """The window of the same length that ends where this one starts."""
        return Window(start=self.start - (self.end - self.start), end=self.start)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    shop_id: int
    currency: str  # money figures sum amounts in this currency only
    program_id: int | None = None


def counted_order() -> tuple[ColumnElement[bool], ...]:
    """An order that counts: paid (with a paid time), neither cancelled nor a test."""
    return (
        Conversion.paid.is_(True),
        Conversion.paid_at.is_not(None),
        Conversion.cancelled.is_(False),
        Conversion.is_test.is_(False),
    )


def figures_of(session: Session, query: AnySelect) -> Figures:
    """The one row of an aggregate query, by column label."""
    return dict(session.execute(query).one()._mapping)


def customer_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """Customers, new customers, and the new ones split by how they came, with their net
    revenue up to the window's end: one pass over the window's `analytics_customer_orders`."""
    f = CustomerOrder
    acquired = (
        f.acquired_by_program_id.is_not(None)
        if scope.program_id is None
        else f.acquired_by_program_id == scope.program_id
    )
    other = f.acquired_by_program_id.is_(None)
    first_order = f.previous_paid_at.is_(None)
    # A customer whose first order is in the window placed all their orders in it so far.
    cohort = and_(f.first_paid_at >= window.start, f.currency == scope.currency)
    query = select(
        func.count().filter(or_(first_order, f.previous_paid_at < window.start)).label("customers"),
        func.count().filter(first_order).label("new_customers"),
        func.count().filter(first_order, acquired).label("referred_customers"),
        func.sum(f.net).filter(cohort, acquired).label("referred_customers_net"),
        func.count().filter(first_order, other).label("other_customers"),
        func.sum(f.net).filter(cohort, other).label("other_customers_net"),
    ).where(f.shop_id == scope.shop_id, window.holds(f.paid_at))
    return figures_of(session, query)


def referred_orders(scope: Scope, window: Window) -> AnySelect:
    """The counted referred orders paid in `window` with their customer's email, program and
    paid time, from the raw rows (attributed orders have their own index: `advocate_id` is
    set). The claims need the email, which the fact rows do not keep."""
    query = (
        select(Referral.program_id, Conversion.identity_email, Conversion.paid_at)
        .join(Conversion, Conversion.id == Referral.conversion_id)
        .where(
            Referral.shop_id == scope.shop_id,
            Referral.status.in_(COUNTED_REFERRALS),
            Conversion.shop_id == scope.shop_id,
            Conversion.advocate_id.is_not(None),
            *counted_order(),
            window.holds(Conversion.paid_at),
        )
    )
    if scope.program_id is not None:
        query = query.where(Referral.program_id == scope.program_id)
    return query


def referred_facts(scope: Scope, window: Window) -> AnySelect:
    """The referred orders paid in `window` as fact rows (their own index): advocate, paid
    time, total and net amounts, currency."""
    f = CustomerOrder
    query = select(f.referral_advocate_id, f.paid_at, f.total, f.net, f.currency).where(
        f.shop_id == scope.shop_id, f.referral_program_id.is_not(None), window.holds(f.paid_at)
    )
    if scope.program_id is not None:
        query = query.where(f.referral_program_id == scope.program_id)
    return query


def referred_order_figures(session: Session, scope: Scope, window: Window) -> Figures:
    """Referred orders, their revenue (gross and net of refunds), and the advocates who
    referred them once or more."""
    orders = referred_facts(scope, window).subquery()
    in_currency = orders.c.currency == scope.currency
    per_advocate = (
        select(
            func.count().label("orders"),
            func.sum(orders.c.total).filter(in_currency).label("gross"),
            func.sum(orders.c.net).filter(in_currency).label("net"),
        )
        .group_by(orders.c.referral_advocate_id)
        .subquery()
    )
    query = select(
        func.sum(per_advocate.c.orders).label("referred_orders"),
        func.count().label("referring_advocates"),
        func.count().filter(per_advocate.c.orders >= 2).label("repeat_referrers"),
        func.sum(per_advocate.c.gross).label("referred_revenue_gross"),
        func.sum(per_advocate.c.net).label("referred_revenue_net"),
    )
    return figures_of(session, query)
