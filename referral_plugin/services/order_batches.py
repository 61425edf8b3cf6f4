"""Order events in bulk: a chunk's orders that no referral can touch, in a few set-based statements.

Most orders carry no referral (no code we know, no claim for their email) and never will: for
them `orders.apply_order_event` would log the event, read the order's log back, decide
NOT_REFERRAL and insert (or update) an unattributed conversion, ~8 statements per event. Here
the same effects take ~8 statements per chunk: lock the chunk's orders, read their conversions,
codes and claims at once, insert every event in one multi-row statement, read every log back at
once, decide in memory, insert the conversions together and update changed flags in one
executemany.

Only events whose outcome is certain without the per-order path are taken: the order appears
once in the chunk, nothing on it matches one of our codes or claims, and it has no attributed
conversion. Everything else (referrals, reward codes used at checkout, later events of referred
orders) is left to the caller, who runs `apply_order_event` for it. The result is the same as
`apply_order_event` one event at a time; tests/integration/test_order_batches.py compares both.
Never commits; the caller runs this in a savepoint and falls back to the per-order path if it
raises.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Executable,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..db import among
from ..domain import rules
from ..domain.emails import identity_email
from ..domain.events import OrderEvent
from ..domain.orders import OrderState, merge_order_events
from ..models import Claim, Code, Conversion, OrderEventRecord
from .order_event_codec import (
    EVENT_UNIQUE,
    event_insert,
    event_row,
    order_event_from_json,
    order_lock_key,
)
from .orders import UNIQUE_ORDER, conversion_insert, conversion_values
from .snapshots import NO_REFERRAL_SNAPSHOT, signal_hashes, wanted_codes

OrderKey = tuple[int, str]  # (shop_id, order_id)
FLAGS = ("paid", "paid_at", "cancelled", "refunded_total", "is_test")


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One order event of the chunk: `ref` is the caller's (the delivery id)."""

    ref: int
    shop_id: int
    event: OrderEvent

    @property
    def key(self) -> OrderKey:
        return (self.shop_id, self.event.order_id)


class BatchConflict(Exception):
    """Something the bulk path assumed did not hold (e.g. a conversion appeared meanwhile): the
    caller rolls the batch back and takes the per-order path."""


def apply_order_batch(
    session: Session, items: Sequence[BatchItem], *, now: datetime, code_key: bytes
) -> set[int]:
    """Apply the events no referral can touch; returns the refs applied (others untouched).

    Raises BatchConflict (or a database error) with effects half done: run it in a savepoint.
    """
    if not items:
        return set()
    conn = session.connection()
    counts: dict[OrderKey, int] = {}
    for item in items:
        counts[item.key] = counts.get(item.key, 0) + 1
    _lock_orders(conn, sorted(counts))
    conversions = _conversions(conn, counts)
    known_codes = _known_codes(conn, items)
    claimed = _claimed_emails(conn, items)
    taken = [
        item
        for item in items
        if counts[item.key] == 1
        and _no_referral(item, known_codes, claimed)
        and conversions.get(item.key, {}).get("program_id") is None
    ]
    if not taken:
        return set()
    logs = logged_events(conn, {item.key for item in taken})
    fresh = [item for item in taken if item.event.idempotency_key not in logs[item.key]]
    append_events(conn, fresh, now)
    new_rows: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for item in fresh:  # the others are the same event again: no effect
        state = merge_order_events([*logs[item.key].values(), item.event])
        existing = conversions.get(item.key)
        if existing is not None:
            flags = _flags(state)
            if any(existing[name] != value for name, value in flags.items()):
                flags["updated_at"] = now
                changed.append(
                    {"conversion_id": existing["id"]}
                    | {f"new_{name}": value for name, value in flags.items()}
                )
        elif state.order is not None and state.order.has_order_data:
            new_rows.append(_new_conversion(item, state, now, code_key))
    insert_conversions(conn, new_rows)
    update_flags(conn, changed)
    return {item.ref for item in taken}


def per_shop(
    shop_column: ColumnElement[int],
    column: ColumnElement[str],
    pairs: Iterable[tuple[int, str]],
    dialect: str,
) -> ColumnElement[bool]:
    """`(shop_id, column) IN pairs`, written as `shop_id = s AND column = ANY(array)` per shop
    on PostgreSQL (one statement text for any chunk, so psycopg prepares it once and the
    planner uses the unique index; a row-value IN list is planned pair by pair) and as a plain
    IN list elsewhere."""
    by_shop: dict[int, list[str]] = {}
    for shop_id, value in sorted(set(pairs)):
        by_shop.setdefault(shop_id, []).append(value)
    return or_(
        *(
            and_(shop_column == shop_id, among(column, values, dialect))
            for shop_id, values in by_shop.items()
        )
    )


def _no_referral(item: BatchItem, known_codes: set[tuple[int, str]], claimed: set) -> bool:
    event = item.event
    if any((item.shop_id, code) in known_codes for code in wanted_codes(event)):
        return False
    email = identity_email(event.email)
    return email is None or (item.shop_id, email) not in claimed


def _lock_orders(conn: Connection, keys: Sequence[OrderKey]) -> None:
    """PostgreSQL: the orders' advisory locks (as `lock_order` takes them), in one statement
    and in key order, so two workers locking overlapping chunks cannot deadlock."""
    if conn.dialect.name != "postgresql" or not keys:
        return
    lock_keys = sorted({order_lock_key(shop_id, order_id) for shop_id, order_id in keys})
    conn.execute(_LOCKS, {"keys": lock_keys})


# `unnest` yields the keys in array order: the locks are taken in key order.
_LOCKS = text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k")


def _conversions(conn: Connection, keys: Iterable[OrderKey]) -> dict[OrderKey, dict[str, Any]]:
    table = Conversion.__table__
    columns = [table.c.id, table.c.shop_id, table.c.order_id, table.c.program_id]
    columns += [table.c[name] for name in FLAGS]
    query = select(*columns).where(
        per_shop(table.c.shop_id, table.c.order_id, keys, conn.dialect.name)
    )
    return {(row.shop_id, row.order_id): row._asdict() for row in conn.execute(query)}


def _known_codes(conn: Connection, items: Sequence[BatchItem]) -> set[tuple[int, str]]:
    wanted = {(item.shop_id, code) for item in items for code in wanted_codes(item.event)}
    return _existing(conn, Code.__table__.c.normalized, wanted)


def _claimed_emails(conn: Connection, items: Sequence[BatchItem]) -> set[tuple[int, str]]:
    emails = ((item.shop_id, identity_email(item.event.email)) for item in items)
    return _existing(conn, Claim.__table__.c.identity_email, {p for p in emails if p[1]})


def _existing(
    conn: Connection, column: ColumnElement[str], wanted: set[tuple[int, str]]
) -> set[tuple[int, str]]:
    """The (shop_id, value) pairs of `wanted` found in `column`'s table."""
    if not wanted:
        return set()
    shop_column = column.table.c.shop_id
    query = select(shop_column, column).where(
        per_shop(shop_column, column, wanted, conn.dialect.name)
    )
    return {(shop_id, value) for shop_id, value in conn.execute(query)}


def logged_events(conn: Connection, keys: set[OrderKey]) -> dict[OrderKey, dict[str, OrderEvent]]:
    """The logged events of the orders, by idempotency key (read under the orders' locks, so
    nobody else appends to them until the transaction ends)."""
    logs: dict[OrderKey, dict[str, OrderEvent]] = {key: {} for key in keys}
    table = OrderEventRecord.__table__
    query = select(
        table.c.shop_id, table.c.order_id, table.c.idempotency_key, table.c.payload
    ).where(per_shop(table.c.shop_id, table.c.order_id, keys, conn.dialect.name))
    for row in conn.execute(query):
        logs[(row.shop_id, row.order_id)][row.idempotency_key] = order_event_from_json(row.payload)
    return logs


def append_events(conn: Connection, items: Sequence[BatchItem], now: datetime) -> None:
    """Append the new events in one statement on PostgreSQL (`_unnest_insert`), one
    executemany elsewhere (ON CONFLICT DO NOTHING stays as a guard)."""
    if not items:
        return
    rows = [event_row(item.shop_id, item.event, now) for item in items]
    if conn.dialect.name == "postgresql":
        table = OrderEventRecord.__table__
        arrays = _column_arrays(conn, table, rows)
        conn.exec_driver_sql(_unnest_insert(table, EVENT_UNIQUE, returning=False), arrays)
    else:
        conn.execute(event_insert(conn.dialect.name, returning=False), rows)


def _new_conversion(
    item: BatchItem, state: OrderState, now: datetime, code_key: bytes
) -> dict[str, Any]:
    """The unattributed conversion `orders._decide` would insert for this order."""
    order = state.order
    assert order is not None
    if order.idempotency_key != item.event.idempotency_key:
        # Another event carried the order data, yet the order has no conversion: only the
        # per-order path knows what to do (its codes were not looked up here).
        raise BatchConflict(f"order {order.order_id}: order data from another event")
    decision = rules.decide(order, NO_REFERRAL_SNAPSHOT, now)
    if decision.attribution is not None or decision.redeemed_reward_ids:
        raise BatchConflict(f"order {order.order_id}: a referral after all")
    values = conversion_values(item.shop_id, state, order, decision, now)
    return {**values, "signals": signal_hashes(order, code_key)}


def insert_conversions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One INSERT for the chunk (no conversion can exist for these orders: read under their
    locks), so the analytics triggers on `conversions` (statement-level on PostgreSQL,
    migration 0010) run once per chunk instead of once per order: on PostgreSQL an `unnest`
    of one array per column (one statement text whatever the row count); elsewhere, with
    RETURNING, SQLAlchemy sends the rows as one `VALUES (...), (...)` ("insertmanyvalues")."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        table = Conversion.__table__
        arrays = _column_arrays(conn, table, rows)
        conn.exec_driver_sql(_unnest_insert(table, UNIQUE_ORDER, returning=True), arrays).all()
    else:
        conn.execute(conversion_insert(conn.dialect.name, returning=True), rows).all()


def _flags(state: OrderState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in FLAGS}


def update_flags(conn: Connection, changed: list[dict[str, Any]]) -> None:
    """Set the changed flags of the chunk's conversions (`conversion_id` and `new_<flag>` per
    row): on PostgreSQL one `UPDATE ... FROM unnest(arrays)`, so the analytics triggers on
    `conversions` run once for the chunk, not once per order; elsewhere one executemany."""
    if not changed:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(_flags_update(), changed)
        return
    table = Conversion.__table__
    columns = [table.c.id, *(table.c[name] for name in (*FLAGS, "updated_at"))]
    rows = [
        {column.name: row["conversion_id" if column.name == "id" else f"new_{column.name}"]
         for column in columns}
        for row in changed
    ]  # fmt: skip
    conn.exec_driver_sql(_unnest_update(table), _arrays(conn, columns, rows))


@functools.cache
def _flags_update() -> Executable:
    table = Conversion.__table__
    values = {name: bindparam(f"new_{name}") for name in (*FLAGS, "updated_at")}
    return update(table).where(table.c.id == bindparam("conversion_id")).values(values)


@functools.cache
def _unnest_update(table: Table) -> str:
    """PostgreSQL: the flags of many conversions in one statement (see `_unnest_insert`)."""
    names = ("id", *FLAGS, "updated_at")
    arrays = ", ".join(f"CAST(%({n})b AS {_array_type(table.c[n])})" for n in names)
    assignments = ", ".join(f"{n} = u.{n}" for n in names[1:])
    return (  # our table, column and type names only: the values are parameters
        f"UPDATE {table.name} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({arrays}) AS u({', '.join(names)}) WHERE t.id = u.id"
    )


# PostgreSQL array types of the columns' types, unbounded like the casts SQLAlchemy renders
# (an explicit cast to VARCHAR(n) would silently truncate; an assignment refuses).
_ARRAY_TYPES: dict[type[TypeEngine[Any]], str] = {
    BigInteger: "bigint[]",
    Integer: "bigint[]",
    String: "varchar[]",
    Numeric: "numeric[]",
    Boolean: "boolean[]",
    DateTime: "timestamptz[]",
    JSON: "json[]",
}


def _array_type(column: Column[Any]) -> str:
    column_type = column.type
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, DateTime) and not column_type.timezone:
        return "timestamp[]"
    for python_type, array_type in _ARRAY_TYPES.items():
        if isinstance(column_type, python_type):
            return array_type
    raise TypeError(f"no array type for {column.table.name}.{column.name}: {column_type!r}")


def _inserted_columns(table: Table) -> list[Column[Any]]:
    return [column for column in table.c if column.name != "id"]


@functools.cache
def _unnest_insert(table: Table, unique: tuple[str, ...], *, returning: bool) -> str:
    """PostgreSQL: a chunk's rows as one `INSERT ... SELECT FROM unnest(arrays)`, one array per
    column, `ON CONFLICT (unique) DO NOTHING`. Its text is the same for any row count, so
    psycopg converts it once and prepares it (a `VALUES (...), (...)` list is a new text of
    ~1,200 placeholders per chunk, re-parsed every time), and it stays one statement: the
    analytics triggers on `conversions` run once per chunk. The arrays are sent in binary
    (`%(name)b`): as text, psycopg would escape every string element (JSON payloads full of
    quotes) with a Python regex. Run with `exec_driver_sql`."""
    columns = _inserted_columns(table)
    names = ", ".join(column.name for column in columns)
    arrays = ", ".join(f"CAST(%({column.name})b AS {_array_type(column)})" for column in columns)
    return (  # our table, column and type names only: the values are parameters
        f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(unique)}) DO NOTHING" + (" RETURNING id" if returning else "")
    )


def _column_arrays(
    conn: Connection, table: Table, rows: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """The rows as one list per inserted column (see `_arrays`)."""
    return _arrays(conn, _inserted_columns(table), rows)


def _arrays(
    conn: Connection, columns: Sequence[Column[Any]], rows: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """The rows as one list per column, each value bound as the column's type binds it (aware
    UTC times, enum values, psycopg `Json` wrappers): what the VALUES form would send."""
    dialect = conn.dialect
    arrays: dict[str, list[Any]] = {}
    for column in columns:
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        values = [row[column.name] for row in rows]
        arrays[column.name] = values if process is None else [process(v) for v in values]
    return arrays
