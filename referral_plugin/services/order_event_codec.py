"""The order-event log (`order_events`): an OrderEvent to and from its JSON payload (lossless
round trip), appending an event once, reading an order's events, the per-order lock."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Executable, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.clock import parse_timestamp
from ..domain.events import FraudSignals, LineItem, OrderEvent, OrderEventKind, Platform, Refund
from ..models import OrderEventRecord

_DECIMAL_FIELDS = ("subtotal", "total", "discount_total")
_TIME_FIELDS = ("occurred_at", "placed_at")
_PLAIN_FIELDS = (
    "shop",
    "order_id",
    "idempotency_key",
    "order_number",
    "currency",
    "customer_id",
    "email",
    "customer_order_count",
    "country",
    "landing_ref",
    "source_name",
    "is_test",
)


def _text(value: Decimal | datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_timestamp(value)


def order_event_to_json(event: OrderEvent) -> str:
    """Canonical JSON text of the event: Decimals as strings, times ISO 8601 UTC."""
    data: dict[str, Any] = {name: getattr(event, name) for name in _PLAIN_FIELDS}
    data |= {name: _text(getattr(event, name)) for name in (*_DECIMAL_FIELDS, *_TIME_FIELDS)}
    data["platform"] = event.platform.value
    data["kind"] = event.kind.value
    codes = event.discount_codes
    data["discount_codes"] = None if codes is None else list(codes)
    items = event.line_items
    data["line_items"] = None if items is None else [_line_item(item) for item in items]
    data["refunds"] = [
        {"refund_id": r.refund_id, "amount": str(r.amount), "created_at": _text(r.created_at)}
        for r in event.refunds
    ]
    signals = event.signals
    data["signals"] = {
        name: getattr(signals, name)
        for name in ("browser_ip", "user_agent", "shipping_fingerprint", "payment_fingerprint")
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _line_item(item: LineItem) -> dict[str, Any]:
    return {
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "quantity": item.quantity,
        "total": str(item.total),
        "collection_ids": list(item.collection_ids),
    }


def order_event_from_json(text: str) -> OrderEvent:
    """The OrderEvent stored by `order_event_to_json`; raises ValueError on foreign input."""
    data = json.loads(text)
    items = data.get("line_items")
    codes = data.get("discount_codes")
    return OrderEvent(
        platform=Platform(data["platform"]),
        kind=OrderEventKind(data["kind"]),
        **{name: data.get(name) for name in _PLAIN_FIELDS},
        occurred_at=parse_timestamp(data["occurred_at"]),
        placed_at=_time(data.get("placed_at")),
        subtotal=_decimal(data.get("subtotal")),
        total=_decimal(data.get("total")),
        discount_total=_decimal(data.get("discount_total")),
        discount_codes=None if codes is None else tuple(codes),
        line_items=None if items is None else tuple(_read_line_item(i) for i in items),
        refunds=tuple(
            Refund(
                refund_id=r["refund_id"],
                amount=Decimal(r["amount"]),
                created_at=_time(r.get("created_at")),
            )
            for r in data.get("refunds", ())
        ),
        signals=FraudSignals(**data.get("signals", {})),
    )


def _read_line_item(data: dict[str, Any]) -> LineItem:
    return LineItem(
        product_id=data.get("product_id"),
        variant_id=data.get("variant_id"),
        quantity=int(data["quantity"]),
        total=Decimal(data["total"]),
        collection_ids=tuple(data.get("collection_ids", ())),
    )


ORDER_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def lock_order(session: Session, shop_id: int, order_id: str) -> None:
    """PostgreSQL: serialize one order's events until the transaction ends, so an event never
    merges without another one of its order that a concurrent worker has not committed yet
    (SQLite has a single writer already). A transaction-level advisory lock on a stable hash."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection().execute(ORDER_LOCK, {"key": order_lock_key(shop_id, order_id)})


def order_lock_key(shop_id: int, order_id: str) -> int:
    """The advisory-lock key of one order: a stable signed 64-bit hash of (shop, order)."""
    digest = hashlib.blake2b(f"{shop_id}:{order_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def log_order_event(session: Session, shop_id: int, event: OrderEvent, *, now: datetime) -> bool:
    """Append the event unless its idempotency key is logged (then False): one Core
    `INSERT ... ON CONFLICT DO NOTHING RETURNING id`, no savepoint. Never commits."""
    insert = event_insert(session.get_bind().dialect.name)
    values = event_row(shop_id, event, now)
    return session.connection().execute(insert, values).first() is not None  # Core: no ORM


def event_row(shop_id: int, event: OrderEvent, now: datetime) -> dict[str, Any]:
    """The `order_events` row of `event` (the insert's parameters)."""
    return {
        "shop_id": shop_id,
        "order_id": event.order_id,
        "idempotency_key": event.idempotency_key,
        "kind": event.kind,
        "occurred_at": event.occurred_at,
        "payload": order_event_to_json(event),
        "recorded_at": now,
    }


EVENT_UNIQUE = ("shop_id", "order_id", "idempotency_key")  # an event is logged once


@functools.cache
def event_insert(dialect: str, *, returning: bool = True) -> Executable:
    """`INSERT ... ON CONFLICT DO NOTHING [RETURNING id]` on the table, built once per dialect.
    Without RETURNING, executed with many rows, it is one executemany of one prepared
    statement (pipelined by psycopg)."""
    table = OrderEventRecord.__table__
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(index_elements=EVENT_UNIQUE)
    return statement.returning(table.c.id) if returning else statement


def logged_order_events(session: Session, shop_id: int, order_id: str) -> list[OrderEvent]:
    """Every logged event of one order, in no particular order (merging is order-free)."""
    payloads = session.scalars(
        select(OrderEventRecord.payload).where(
            OrderEventRecord.shop_id == shop_id, OrderEventRecord.order_id == order_id
        )
    ).all()
    return [order_event_from_json(payload) for payload in payloads]
