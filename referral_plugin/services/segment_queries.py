"""The segments' definitions as queries (issue 7): for one shop and program, one row per
customer (`identity`, counted `orders`, `net_cents` in the program's currency, `last_order_at`)
from `conversions`, the segment's criteria over those rows, its order (best first) and the
keyset condition of its pages. `services.segments` runs them; the definitions are described
there.

A customer is an identity email; a counted order is paid with a paid time, neither cancelled
nor a test (`analytics_queries.counted_order`). On PostgreSQL the per-customer sums read the
covering index `ix_conversions_shop_id_identity_email` alone (migration 0014); the high
spenders' threshold is a CTE over the same customers, so one statement sums them once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import CTE, Subquery

from ..errors import NotFound
from ..models import Advocate, Conversion
from ..models import Program as ProgramRow
from ..models.analytics import CustomerOrder
from .analytics_queries import AnySelect, counted_order

RECENT_DAYS = 30
MAX_DAYS = 365
TOP_SHARE_DIVISOR = 10  # high spenders: the top 1/10 of paying customers
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CENTS = 100  # net spend is ranked in hundredths: exact on SQLite too, where sums are floats


class SegmentName(StrEnum):
    REPEAT_BUYERS = "repeat_buyers"
    HIGH_SPENDERS = "high_spenders"
    RECENT_NOT_JOINED = "recent_not_joined"


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentQuery:
    """Which segment, with its parameters (`days`: recent_not_joined; `min_spent`:
    high_spenders, in the program's currency)."""

    segment: SegmentName
    days: int = RECENT_DAYS
    min_spent: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    """A segment resolved for one program at one moment: the grouped customers it filters."""

    shop_id: int
    program_id: int
    currency: str
    query: SegmentQuery
    criteria: ColumnElement[bool]
    customers: CTE  # identity, orders, net_cents, last_order_at
    threshold: ColumnElement[Any] | None = None  # high_spenders: least net_cents that counts
    since: datetime | None = None

    def order(self, columns: Any = None) -> list[tuple[Any, bool]]:
        """(column of `columns`, default the customers', descending) from best to worst; the
        identity breaks ties."""
        c = self.customers.c if columns is None else columns
        keys = {
            SegmentName.REPEAT_BUYERS: [(c.orders, True), (c.net_cents, True)],
            SegmentName.HIGH_SPENDERS: [(c.net_cents, True), (c.orders, True)],
            SegmentName.RECENT_NOT_JOINED: [(c.last_order_at, True), (c.orders, True)],
        }[self.query.segment]
        return [*keys, (c.identity, False)]

    def not_advocate(self) -> ColumnElement[bool]:
        return ~exists().where(
            Advocate.shop_id == self.shop_id,
            Advocate.program_id == self.program_id,
            Advocate.identity_email == self.customers.c.identity,
        )


def resolve_segment(
    session: Session,
    shop_id: int,
    program_id: int,
    query: SegmentQuery,
    *,
    now: datetime,
    only: Collection[str] | None = None,
) -> Segment:
    """The segment of the shop's program (raises NotFound for another shop's program), its
    customers limited to the identity emails `only` when given."""
    program = session.scalars(
        select(ProgramRow).where(ProgramRow.shop_id == shop_id, ProgramRow.id == program_id)
    ).one_or_none()
    if program is None:
        raise NotFound("program", program_id)
    currency = program.currency
    since = now - timedelta(days=query.days)
    recent = query.segment is SegmentName.RECENT_NOT_JOINED
    customers = _customers(shop_id, currency, only, since if recent else None).cte("customers")
    c = customers.c
    threshold = None
    if query.segment is SegmentName.REPEAT_BUYERS:
        criteria = c.orders >= 2
    elif recent:
        criteria = c.last_order_at >= since
    else:
        threshold = _threshold(customers, shop_id, currency, query.min_spent, only is None)
        criteria = and_(c.net_cents > 0, c.net_cents >= threshold)
    return Segment(
        shop_id=shop_id, program_id=program_id, currency=currency, query=query,
        criteria=criteria, customers=customers, threshold=threshold,
        since=since if recent else None,
    )  # fmt: skip


def _customers(
    shop_id: int, currency: str, only: Collection[str] | None, since: datetime | None
) -> AnySelect:
    """One row per customer of the shop: orders, net spend in `currency` (hundredths) and the
    last paid time, from their counted orders."""
    o = Conversion
    net = func.sum(o.total - o.refunded_total).filter(o.currency == currency)
    query = (
        select(
            o.identity_email.label("identity"),
            func.count().label("orders"),
            cast(func.coalesce(func.round(net * CENTS), 0), BigInteger).label("net_cents"),
            func.max(o.paid_at).label("last_order_at"),
        )
        .where(o.shop_id == shop_id, o.identity_email.is_not(None), *counted_order())
        .group_by(o.identity_email)
    )
    if only is not None:
        query = query.where(o.identity_email.in_(sorted(only)))
    if since is not None:  # only customers with a recent order: the rollup's paid-time index
        query = query.where(o.identity_email.in_(_recent_identities(shop_id, since)))
    return query


def _recent_identities(shop_id: int, since: datetime) -> AnySelect:
    f = CustomerOrder
    return (
        select(Conversion.identity_email)
        .join(f, f.conversion_id == Conversion.id)
        .where(f.shop_id == shop_id, f.paid_at >= since, Conversion.shop_id == shop_id)
    )


def _threshold(
    customers: CTE, shop_id: int, currency: str, min_spent: Decimal | None, whole: bool
) -> ColumnElement[Any]:
    """The least net spend (hundredths) of a high spender: `min_spent`, else that of the
    customer at the edge of the top tenth of the shop's paying customers (1 when there is
    none), read from `customers` when it holds the whole shop (so PostgreSQL sums the
    customers once per statement), else from a query of its own."""
    if min_spent is not None:
        return literal(max(int((min_spent * CENTS).to_integral_value()), 1), BigInteger)
    paying = customers if whole else _customers(shop_id, currency, None, None).subquery()
    edge = select(_edge(paying).label("cents")).cte("threshold")  # computed once per statement
    return select(edge.c.cents).scalar_subquery()


def _edge(paying: Any) -> ColumnElement[Any]:
    """The net spend of the paying customer at rank ceil(paying / 10), best first: a bounded
    top-N sort (the offset is computed first), not a sort of every customer."""
    positive = paying.c.net_cents > 0
    count = select(func.count()).where(positive).scalar_subquery()
    rank = (count + (TOP_SHARE_DIVISOR - 1)) // TOP_SHARE_DIVISOR
    found = (
        select(paying.c.net_cents)
        .where(positive)
        .order_by(paying.c.net_cents.desc())
        .offset(rank - 1)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(found, 1)


def members(segment: Segment) -> Subquery:
    """The segment's customers (the program's advocates left out), with the segment's size
    and its threshold on every row (one pass over the customers)."""
    c = segment.customers.c
    threshold = literal(None, BigInteger) if segment.threshold is None else segment.threshold
    return (
        select(
            c.identity,
            c.orders,
            c.net_cents,
            c.last_order_at,
            func.count().over().label("total"),
            threshold.label("threshold"),
        )
        .where(segment.criteria, segment.not_advocate())
        .subquery("members")
    )


def member_identities(segment: Segment) -> AnySelect:
    """Only the identities of the segment's customers (no size or threshold per row)."""
    c = segment.customers.c
    return select(c.identity).where(segment.criteria, segment.not_advocate())


def page_query(segment: Segment, after: list[Any] | None, limit: int) -> AnySelect:
    """The members after the sort key `after` (from the first when None), best first."""
    listed = members(segment)
    keys = segment.order(listed.c)
    query = select(listed).order_by(*ordering(keys))
    if after is not None:
        query = query.where(after_key(keys, after))
    return query.limit(limit)


def rows_among(session: Session, segment: Segment) -> list[Any]:
    """The customers of a segment resolved with `only`, advocates of the program included,
    best first (the rows of `describe_customers`)."""
    c = segment.customers.c
    keys = segment.order()
    query = select(c.identity, c.orders, c.net_cents, c.last_order_at).where(segment.criteria)
    return list(session.execute(query.order_by(*ordering(keys))).all())


def ordering(keys: list[tuple[Any, bool]]) -> list[Any]:
    """ORDER BY clauses of (column, descending) keys."""
    return [column.desc() if descending else column.asc() for column, descending in keys]


def after_key(keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows after the one with sort key `values`, in the order of `keys`."""
    alternatives = []
    for index, (column, descending) in enumerate(keys):
        equal = [keys[i][0] == values[i] for i in range(index)]
        beyond = column < values[index] if descending else column > values[index]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)
