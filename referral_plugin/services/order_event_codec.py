"""OrderEvent to and from the JSON text stored in order_events.payload (lossless round trip)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.clock import parse_timestamp
from ..domain.events import FraudSignals, LineItem, OrderEvent, OrderEventKind, Platform, Refund

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
