"""The webhook inbox: store one verified raw delivery, once per dedup key."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Dialect, Executable, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..db import DriverStatement
from ..domain.events import Platform
from ..models import DeliveryStatus, WebhookDelivery

DEDUP_COLUMNS = ("platform", "shop_id", "dedup_key")


@dataclass(frozen=True)
class DriverConnection:
    """A pooled DB-API connection in autocommit mode and its engine's dialect: each statement
    its own transaction, durable when it returns (the webhook edge)."""

    dbapi_connection: Any
    dialect: Dialect


def store_delivery(
    executor: Session | Connection | DriverConnection,
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
    caller's session or connection (reconciliation), or straight on a DriverConnection (the
    webhook edge: the same statements compiled once, without SQLAlchemy's per-execution work;
    the driver's own errors are raised).
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
    if isinstance(executor, DriverConnection):
        driver_insert, driver_find = _driver_statements(executor.dialect, tuple(values))
        inserted_rows = driver_insert.rows(executor.dbapi_connection, values)
        if inserted_rows:
            return inserted_rows[0][0], True
        return driver_find.rows(executor.dbapi_connection, values)[0][0], False
    bind = executor.get_bind() if isinstance(executor, Session) else executor
    insert, find = _statements(bind.dialect.name)
    inserted = executor.execute(insert, values).scalar_one_or_none()
    if inserted is not None:
        return inserted, True
    return executor.execute(find, {key: values[key] for key in DEDUP_COLUMNS}).scalar_one(), False


@functools.lru_cache(maxsize=8)  # per engine (its dialect holds the JSON codec)
def _driver_statements(
    dialect: Dialect, keys: tuple[str, ...]
) -> tuple[DriverStatement, DriverStatement]:
    insert, find = _statements(dialect.name)
    return (
        DriverStatement.compile(insert, dialect, keys),
        DriverStatement.compile(find, dialect, DEDUP_COLUMNS),
    )


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
