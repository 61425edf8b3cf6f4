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
import hashlib
import hmac
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..domain.emails import identity_email
from ..domain.money import Money
from ..errors import ValidationError
from ..models.shopper_emails import EmailUnsubscribe
from .segment_customers import SegmentCustomer, describe_customers, money_of
from .segment_queries import (
    DEFAULT_LIMIT,
    MAX_DAYS,
    MAX_LIMIT,
    RECENT_DAYS,
    Segment,
    SegmentName,
    SegmentQuery,
    member_identities,
    members,
    page_query,
    resolve_segment,
    rows_among,
)

BIGINT = 2**63

__all__ = [
    "DEFAULT_LIMIT", "MAX_DAYS", "MAX_LIMIT", "RECENT_DAYS", "Segment", "SegmentCustomer",
    "SegmentName", "SegmentPage", "SegmentQuery", "chosen_customers", "count_members",
    "decode_cursor", "describe_customers", "encode_cursor", "identity_hasher", "members_now",
    "page_query", "resolve_segment", "rows_among", "segment_page", "unsubscribed_hashes",
]  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentPage:
    customers: list[SegmentCustomer]
    total: int  # customers in the whole segment
    next_cursor: str | None  # None: this is the last page
    currency: str  # the currency net spend is ranked in (the program's)
    threshold: Money | None = None  # high_spenders: the least net spend that qualifies
    since: datetime | None = None  # recent_not_joined: orders from this moment on


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
    if unsubscribed:
        rows, total, threshold = _filtered_page(
            session, segment, after, limit, email_key, unsubscribed
        )
    else:
        rows, total, threshold = _page(session, segment, after, limit)
    page, more = rows[:limit], len(rows) > limit
    return SegmentPage(
        customers=describe_customers(session, segment, page),
        total=total,
        next_cursor=encode_cursor(segment, page[-1]) if more and page else None,
        currency=segment.currency,
        threshold=money_of(threshold, segment.currency),
        since=segment.since,
    )


def _page(
    session: Session, segment: Segment, after: list[Any] | None, limit: int
) -> tuple[list[Any], int, int | None]:
    """Up to `limit` + 1 members after `after`, the segment's size and threshold: one
    statement (the size and threshold ride on every row)."""
    rows = list(session.execute(page_query(segment, after, limit + 1)).all())
    if rows:
        return rows, int(rows[0].total), rows[0].threshold
    return rows, *_figures(session, segment)


def _filtered_page(
    session: Session,
    segment: Segment,
    after: list[Any] | None,
    limit: int,
    email_key: bytes,
    unsubscribed: set[str],
) -> tuple[list[Any], int, int | None]:
    """As `_page`, unsubscribed addresses left out. Their hashes are keyed, so every member's
    is computed (one pass reading only the identities); the page then skips the few members
    found unsubscribed."""
    size, left_out = _unsubscribed_members(session, segment, email_key, unsubscribed)
    # Left out here, not in SQL: a condition on the grouped identity would be pushed down
    # into the scan of the orders and change the plan for the worse.
    found = session.execute(page_query(segment, after, limit + 1 + len(left_out))).all()
    rows = [row for row in found if row.identity not in left_out]
    threshold = found[0].threshold if found else _figures(session, segment)[1]
    return rows, size - len(left_out), threshold


def _unsubscribed_members(
    session: Session, segment: Segment, email_key: bytes, unsubscribed: set[str]
) -> tuple[int, set[str]]:
    """How many members the segment has, and the identities of those unsubscribed."""
    # Fetched at once: a server-side cursor makes PostgreSQL plan for the first rows (slower).
    identities = session.scalars(member_identities(segment))
    digest = identity_hasher(email_key, segment.shop_id)
    size, left_out = 0, set()
    for identity in identities:
        size += 1
        if digest(identity) in unsubscribed:
            left_out.add(identity)
    return size, left_out


def _figures(session: Session, segment: Segment) -> tuple[int, int | None]:
    """The segment's size and threshold, for a page past the last member."""
    total = int(session.scalar(select(func.count()).select_from(members(segment))) or 0)
    threshold = None if segment.threshold is None else session.scalar(select(segment.threshold))
    return total, threshold


def count_members(session: Session, segment: Segment, *, email_key: bytes) -> int:
    """How many customers the segment holds, unsubscribed addresses left out."""
    unsubscribed = unsubscribed_hashes(session, segment.shop_id)
    if not unsubscribed:
        return _figures(session, segment)[0]
    size, left_out = _unsubscribed_members(session, segment, email_key, unsubscribed)
    return size - len(left_out)


def members_now(session: Session, segment: Segment, *, email_key: bytes, limit: int) -> list[Any]:
    """The first `limit` customers of the segment, unsubscribed addresses left out."""
    unsubscribed = unsubscribed_hashes(session, segment.shop_id)
    rows = session.execute(page_query(segment, None, limit + len(unsubscribed))).all()
    digest = identity_hasher(email_key, segment.shop_id)
    return [row for row in rows if digest(row.identity) not in unsubscribed][:limit]


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


def unsubscribed_hashes(session: Session, shop_id: int) -> set[str]:
    rows = session.scalars(
        select(EmailUnsubscribe.email_hash).where(EmailUnsubscribe.shop_id == shop_id)
    )
    return set(rows)


def identity_hasher(key: bytes, shop_id: int) -> Callable[[str], str]:
    """`email_unsubscribes.recipient_hash` of identity emails (already normalized), with the
    key and shop prefix hashed once: a segment hashes every member."""
    prefix = hmac.new(key, f"{shop_id}\x00".encode(), hashlib.sha256)

    def digest(identity: str) -> str:
        one = prefix.copy()
        one.update(identity.encode())
        return one.hexdigest()

    return digest


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
    if not isinstance(value, int) or isinstance(value, bool) or not -BIGINT < value < BIGINT:
        raise TypeError(name)  # counts and hundredths: BIGINT, as the database compares them
    return value
