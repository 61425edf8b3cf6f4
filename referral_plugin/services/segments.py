"""Segments: the customers of one shop worth inviting to one program (issue 7).

A customer is an identity email (`domain.emails.identity_email`) with counted orders in
`conversions` (every order we receive: paid with a paid time, neither cancelled nor a test;
`analytics_queries.counted_order`). The segments:

- `repeat_buyers`: 2 counted orders or more; most orders first, then most spent.
- `high_spenders`: the top 10 % of the shop's paying customers by net spend (total less
  refunds) in the program's currency, ties at the threshold included (`min_spent` instead sets
  the threshold); most spent first. The threshold is taken over all the shop's customers, so
  it does not move when some of them join.
- `recent_not_joined`: a counted order in the last `days` days (default 30); latest first.

Every segment leaves out the program's advocates (by identity email), customers whose data was
redacted (their orders keep no email) and addresses unsubscribed from the shop's shopper emails
(`email_unsubscribes`, keyed hashes: checked in Python). Pages are keyset-paginated by an
opaque cursor. On PostgreSQL the per-customer sums read the covering index
`ix_conversions_shop_id_identity_email` alone (migration 0014).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import CTE, Subquery

from ..domain.emails import identity_email
from ..domain.money import Money
from ..errors import NotFound, ValidationError
from ..models import Advocate, Conversion
from ..models import Program as ProgramRow
from ..models.analytics import CustomerOrder
from ..models.shopper_emails import EmailUnsubscribe
from .analytics_queries import AnySelect, counted_order
from .email_unsubscribes import recipient_hash

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
class SegmentCustomer:
    email: str  # as the store sent it (normalized), from the customer's latest counted order
    identity: str  # the identity email the customer is keyed by
    first_name: str | None  # known when the customer is an advocate of another program
    last_name: str | None
    customer_id: str | None  # the store's customer id on the latest counted order
    orders: int
    spent: tuple[Money, ...]  # net of refunds, per currency, the program's currency first
    last_order_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentPage:
    customers: list[SegmentCustomer]
    total: int  # customers in the whole segment
    next_cursor: str | None  # None: this is the last page
    currency: str  # the currency net spend is ranked in (the program's)
    threshold: Money | None = None  # high_spenders: the least net spend that qualifies
    since: datetime | None = None  # recent_not_joined: orders from this moment on


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
    return _edge(paying)


def _edge(paying: Any) -> ColumnElement[Any]:
    ranked = (
        select(
            paying.c.net_cents,
            func.row_number().over(order_by=paying.c.net_cents.desc()).label("rank"),
            func.count().over().label("paying"),
        )
        .where(paying.c.net_cents > 0)
        .subquery("ranked")
    )
    edge = (ranked.c.paying + (TOP_SHARE_DIVISOR - 1)) // TOP_SHARE_DIVISOR
    found = select(ranked.c.net_cents).where(ranked.c.rank == edge).scalar_subquery()
    return func.coalesce(found, 1)


def segment_page(
    session: Session,
    shop_id: int,
    program_id: int,
    query: SegmentQuery,
    *,
    email_key: bytes,
    now: datetime,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> SegmentPage:
    """One page of the segment, best first, with the segment's total. Raises NotFound (the
    program) or ValidationError("cursor"). Reads only."""
    segment = resolve_segment(session, shop_id, program_id, query, now=now)
    after = decode_cursor(cursor, segment) if cursor else None
    unsubscribed = unsubscribed_hashes(session, shop_id)
    rows = session.execute(_page_query(segment, after, limit + len(unsubscribed) + 1)).all()
    if rows:
        total, threshold = int(rows[0].total), rows[0].threshold
    else:  # past the last page: the window had no row to carry the figures
        total = int(session.scalar(select(func.count()).select_from(_members(segment))) or 0)
        threshold = None if segment.threshold is None else session.scalar(select(segment.threshold))
    if unsubscribed:
        total -= _unsubscribed_members(session, segment, email_key, unsubscribed)
    rows = [row for row in rows if _hash(email_key, shop_id, row.identity) not in unsubscribed]
    page, more = rows[:limit], len(rows) > limit
    return SegmentPage(
        customers=describe_customers(session, segment, page),
        total=total,
        next_cursor=encode_cursor(segment, page[-1]) if more and page else None,
        currency=segment.currency,
        threshold=_money(threshold, segment.currency),
        since=segment.since,
    )


def _members(segment: Segment) -> Subquery:
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


def _page_query(segment: Segment, after: list[Any] | None, limit: int) -> AnySelect:
    """The members after the sort key `after` (from the first when None), best first."""
    members = _members(segment)
    keys = segment.order(members.c)
    query = select(members).order_by(
        *(column.desc() if descending else column.asc() for column, descending in keys)
    )
    if after is not None:
        query = query.where(_after(keys, after))
    return query.limit(limit)


def _unsubscribed_members(
    session: Session, segment: Segment, email_key: bytes, unsubscribed: set[str]
) -> int:
    """How many of the segment's customers are unsubscribed (their hashes are keyed: every
    member's is computed)."""
    identities = session.scalars(select(_members(segment).c.identity))
    hashes = (_hash(email_key, segment.shop_id, identity) for identity in identities)
    return sum(digest in unsubscribed for digest in hashes)


def count_members(session: Session, segment: Segment, *, email_key: bytes) -> int:
    """How many customers the segment holds, unsubscribed addresses left out."""
    total = int(session.scalar(select(func.count()).select_from(_members(segment))) or 0)
    unsubscribed = unsubscribed_hashes(session, segment.shop_id)
    if not unsubscribed:
        return total
    return total - _unsubscribed_members(session, segment, email_key, unsubscribed)


def members_now(session: Session, segment: Segment, *, email_key: bytes, limit: int) -> list[Any]:
    """The first `limit` customers of the segment, unsubscribed addresses left out."""
    unsubscribed = unsubscribed_hashes(session, segment.shop_id)
    rows = session.execute(_page_query(segment, None, limit + len(unsubscribed))).all()
    kept = [r for r in rows if _hash(email_key, segment.shop_id, r.identity) not in unsubscribed]
    return kept[:limit]


def rows_among(session: Session, segment: Segment) -> list[Any]:
    """The customers of a segment resolved with `only`, advocates of the program included,
    best first (the rows of `describe_customers`)."""
    c = segment.customers.c
    keys = segment.order()
    query = select(c.identity, c.orders, c.net_cents, c.last_order_at).where(segment.criteria)
    order = (column.desc() if descending else column.asc() for column, descending in keys)
    return list(session.execute(query.order_by(*order)).all())


def chosen_customers(
    session: Session,
    shop_id: int,
    program_id: int,
    query: SegmentQuery,
    emails: Collection[str],
    *,
    now: datetime,
) -> list[SegmentCustomer]:
    """The customers of the segment among `emails` (advocates of the program included), best
    first; addresses that are not customers of it are left out. Raises NotFound (program)."""
    identities = {i for email in emails if (i := identity_email(email)) is not None}
    segment = resolve_segment(session, shop_id, program_id, query, now=now, only=identities)
    return describe_customers(session, segment, rows_among(session, segment))


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
        found.setdefault(row.identity_email, []).append(_money(row.cents, row.currency))
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


def unsubscribed_hashes(session: Session, shop_id: int) -> set[str]:
    rows = session.scalars(
        select(EmailUnsubscribe.email_hash).where(EmailUnsubscribe.shop_id == shop_id)
    )
    return set(rows)


def _hash(key: bytes, shop_id: int, identity: str) -> str:
    return recipient_hash(key, shop_id, identity)


def _money(cents: int | None, currency: str) -> Money | None:
    if cents is None:
        return None
    return Money(Decimal(int(cents)) / CENTS, currency).rounded()


# --- the cursor: the last row's sort key, opaque to clients -----------------------------------


def encode_cursor(segment: Segment, row: Any) -> str:
    values = [
        row.last_order_at.isoformat()
        if column.name == "last_order_at"
        else getattr(row, column.name)
        for column, _ in segment.order()
    ]
    raw = json.dumps([segment.query.segment.value, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, segment: Segment) -> list[Any]:
    """The sort key in `cursor`; raises ValidationError("cursor") for one not from this
    segment's pages."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        name, *values = decoded
        if name != segment.query.segment.value or len(values) != len(segment.order()):
            raise ValueError("another segment's cursor")
        return [
            _cursor_value(column.name, value)
            for (column, _), value in zip(segment.order(), values, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError.single("cursor", "is not a cursor of this segment") from exc


def _cursor_value(name: str, value: Any) -> Any:
    if name == "last_order_at":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if name == "identity":
        if not isinstance(value, str):
            raise TypeError("identity")
        return value
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(name)
    return value


def _after(keys: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement[bool]:
    """Rows after the one with sort key `values`, in the order of `keys`."""
    alternatives = []
    for index, (column, descending) in enumerate(keys):
        equal = [keys[i][0] == values[i] for i in range(index)]
        beyond = column < values[index] if descending else column > values[index]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)
