"""What the segment pages and the invitation show of each customer: the email as the store
sent it and the store's customer id (from the latest counted order), names when the shop knows
them (the customer is an advocate of another of its programs), and net spend per currency."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, cast, func, or_, select
from sqlalchemy.orm import Session

from ..domain.money import Money
from ..models import Advocate, Conversion
from .analytics_queries import counted_order
from .segment_queries import CENTS, Segment


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentCustomer:
    email: str  # as the store sent it (normalized), from the customer's latest counted order
    identity: str  # the identity email the customer is keyed by
    first_name: str | None  # known when the customer is an advocate of another program
    last_name: str | None
    customer_id: str | None  # the store's customer id on the latest counted order
    orders: int
    spent: tuple[Money, ...]  # net of refunds, per currency, the program's currency first
    last_order_at: datetime


def describe_customers(
    session: Session, segment: Segment, rows: Sequence[Any]
) -> list[SegmentCustomer]:
    """The rows of `_members` with their email, names, customer id and spend per currency."""
    identities = [row.identity for row in rows]
    if not identities:
        return []
    latest = _latest_orders(session, segment.shop_id, identities)
    spent = _spent(session, segment.shop_id, identities, segment.currency)
    names = _names(session, segment.shop_id, identities)
    return [
        SegmentCustomer(
            email=latest[row.identity][0],
            identity=row.identity,
            first_name=names.get(row.identity, (None, None))[0],
            last_name=names.get(row.identity, (None, None))[1],
            customer_id=latest[row.identity][1],
            orders=int(row.orders),
            spent=spent.get(row.identity, ()),
            last_order_at=row.last_order_at,
        )
        for row in rows
    ]


def _counted_of(shop_id: int, identities: Collection[str]) -> tuple[ColumnElement[bool], ...]:
    o = Conversion
    return (o.shop_id == shop_id, o.identity_email.in_(sorted(identities)), *counted_order())


def _latest_orders(
    session: Session, shop_id: int, identities: Collection[str]
) -> dict[str, tuple[str, str | None]]:
    o = Conversion
    rows = session.execute(
        select(o.identity_email, o.email, o.customer_id)
        .where(*_counted_of(shop_id, identities), o.email.is_not(None))
        .order_by(o.paid_at, o.id)
    )
    return {row.identity_email: (row.email, row.customer_id) for row in rows}  # latest wins


def _spent(
    session: Session, shop_id: int, identities: Collection[str], first: str
) -> dict[str, tuple[Money, ...]]:
    o = Conversion
    net = cast(func.round(func.sum(o.total - o.refunded_total) * CENTS), BigInteger)
    rows = session.execute(
        select(o.identity_email, o.currency, net.label("cents"))
        .where(*_counted_of(shop_id, identities))
        .group_by(o.identity_email, o.currency)
        .order_by(o.identity_email, o.currency != first, o.currency)
    )
    found: dict[str, list[Money]] = {}
    for row in rows:
        found.setdefault(row.identity_email, []).append(money_of(row.cents, row.currency))
    return {identity: tuple(amounts) for identity, amounts in found.items()}


def _names(
    session: Session, shop_id: int, identities: Collection[str]
) -> dict[str, tuple[str | None, str | None]]:
    """Names the shop knows for these customers: from their enrollment in any program."""
    a = Advocate
    rows = session.execute(
        select(a.identity_email, a.first_name, a.last_name)
        .where(
            a.shop_id == shop_id,
            a.identity_email.in_(sorted(identities)),
            or_(a.first_name.is_not(None), a.last_name.is_not(None)),
        )
        .order_by(a.id)
    )
    return {row.identity_email: (row.first_name, row.last_name) for row in rows}


def money_of(cents: int | None, currency: str) -> Money | None:
    if cents is None:
        return None
    return Money(Decimal(int(cents)) / CENTS, currency).rounded()
