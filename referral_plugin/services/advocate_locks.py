"""Locking the advocates a chunk of order events may touch, before any of them is processed.

A worker applies a chunk of deliveries in one transaction; each referred order updates its
advocate's row (successful referrals, balance, debt). Two workers whose chunks hold referrals
of the same two advocates in opposite order would each lock one advocate and wait for the
other: PostgreSQL breaks such a deadlock by failing one delivery (retried later, so nothing is
lost, but late). So the chunk's advocates are locked first, in id order, in one statement,
after the orders' advisory locks (`order_batches`) and before anything else: every worker then
takes the locks in the same order and one simply waits for the other.

The maturing job approves many rewards in one transaction and takes their advocates the same way
(`lock_advocates`). The advocates a chunk may touch: the owners of the codes its orders carry,
of the claims for their emails, and of the conversions already attributed to those orders.
SQLite has one writer and needs none of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import among
from ..domain.emails import identity_email
from ..models import Advocate, Claim, Code, Conversion
from .order_batches import BatchItem, per_shop
from .snapshots import wanted_codes


def lock_chunk_advocates(session: Session, items: Sequence[BatchItem]) -> int:
    """Lock (FOR UPDATE, in id order) the advocates `items` may touch; returns how many. Only
    on PostgreSQL; the caller owns the transaction, and the locks last until it ends."""
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect != "postgresql" or not items:
        return 0
    codes = {(item.shop_id, code) for item in items for code in wanted_codes(item.event)}
    emails = {
        (item.shop_id, email) for item in items if (email := identity_email(item.event.email))
    }
    orders = {(item.shop_id, item.event.order_id) for item in items}
    owners = (
        (Code.advocate_id, Code.shop_id, Code.normalized, codes),
        (Claim.advocate_id, Claim.shop_id, Claim.identity_email, emails),
        (Conversion.advocate_id, Conversion.shop_id, Conversion.order_id, orders),
    )
    wanted = {
        advocate_id
        for owner, shop, column, pairs in owners
        if pairs  # per_shop needs at least one pair
        for advocate_id in conn.execute(
            select(owner).where(per_shop(shop, column, pairs, dialect), owner.is_not(None))
        ).scalars()
    }
    return lock_advocates(session, wanted)


def lock_advocates(session: Session, advocate_ids: Iterable[int | None]) -> int:
    """Lock the advocates' rows FOR UPDATE in id order, in one statement (PostgreSQL; SQLite has
    one writer); returns how many. Every path that updates several advocates in one
    transaction takes them this way first, so two such transactions never deadlock."""
    wanted = sorted({advocate_id for advocate_id in advocate_ids if advocate_id is not None})
    if not wanted or session.get_bind().dialect.name != "postgresql":
        return 0
    locked = session.execute(
        select(Advocate.id)
        .where(among(Advocate.id, wanted, "postgresql"))
        .order_by(Advocate.id)
        .with_for_update()
    )
    return len(locked.all())
