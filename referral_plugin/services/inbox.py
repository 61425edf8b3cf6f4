"""The webhook inbox: store one verified raw delivery, once per dedup key."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Connection, Executable, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.events import Platform
from ..models import DeliveryStatus, WebhookDelivery

DEDUP_COLUMNS = ("platform", "shop_id", "dedup_key")


def store_delivery(
    executor: Session | Connection,
    *,
    platform: Platform,
    shop_id: int,
    topic: str,
    dedup_key: str,
    webhook_id: str | None,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> tuple[int, bool]:
    """Insert the delivery unless (platform, shop_id, dedup_key) exists: returns (id, created).

    Idempotent: one `INSERT ... ON CONFLICT DO NOTHING RETURNING id` (no savepoint, no
    check-then-insert); a concurrent duplicate loses the race inside the database. Runs in the
    caller's session, or on an AUTOCOMMIT connection where the statement is its own
    transaction (the webhook edge: one round trip, durable when it returns).
    """
    values = {
        "platform": platform,
        "shop_id": shop_id,
        "topic": topic,
        "dedup_key": dedup_key,
        "webhook_id": webhook_id,
        "headers": dict(headers),
        "body": body,
        "received_at": now,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
    }
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    insert, find = _statements(bind.dialect.name)
    inserted = executor.execute(insert, values).scalar_one_or_none()
    if inserted is not None:
        return inserted, True
    existing = executor.execute(
        find, {"platform": platform, "shop_id": shop_id, "dedup_key": dedup_key}
    ).scalar_one()
    return existing, False


@functools.cache
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """The insert-ignoring-duplicates and the lookup, built once per dialect: a Core insert on
    the table (not the mapped class), so the hot path skips the ORM and statement building."""
    table = WebhookDelivery.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    insert = (
        module.insert(table)
        .on_conflict_do_nothing(index_elements=DEDUP_COLUMNS)
        .returning(table.c.id)
    )
    find = select(table.c.id).where(
        table.c.platform == bindparam("platform", type_=table.c.platform.type),
        table.c.shop_id == bindparam("shop_id"),
        table.c.dedup_key == bindparam("dedup_key"),
    )
    return insert, find
