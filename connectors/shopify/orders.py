"""Shopify order and refund payloads (REST webhook JSON) → OrderEvent."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.events import (
    FraudSignals,
    LineItem,
    OrderEvent,
    OrderEventKind,
    Platform,
    Refund,
)

from ..base import DeliveryMeta, TranslationError
from ..payload import (
    address_fingerprint,
    as_object,
    identifier,
    is_object,
    money,
    ref_from_url,
    state_digest,
    text,
    timestamp,
)

_PAID_STATUSES = frozenset({"paid", "partially_paid"})
_REFUND_STATUSES = frozenset({"refunded", "partially_refunded"})
_TOPIC_KINDS = {"orders/paid": OrderEventKind.PAID, "orders/cancelled": OrderEventKind.CANCELLED}


def shop_amount(order: Mapping[str, Any], name: str) -> Decimal | None:
    """`<name>_set.shop_money.amount` (the shop's currency), else the plain `<name>` field."""
    set_name, amount_where = _money_set_names(name)
    money_set = order.get(set_name)
    if is_object(money_set) and is_object(shop_money := money_set.get("shop_money")):
        return money(shop_money.get("amount"), amount_where)
    return money(order.get(name), name)


@functools.cache
def _money_set_names(name: str) -> tuple[str, str]:
    """The `<name>_set` key and where its amount is (for errors), built once per name: an
    order asks for a dozen amounts per line item."""
    return f"{name}_set", f"{name}_set.shop_money.amount"


def order_kind(topic: str, order: Mapping[str, Any]) -> OrderEventKind:
    """The event kind: the topic when it says, else the order's own state."""
    status = text(order.get("financial_status")) or ""
    if order.get("cancelled_at") or status == "voided":
        return OrderEventKind.CANCELLED
    if topic in _TOPIC_KINDS:
        return _TOPIC_KINDS[topic]
    if status in _REFUND_STATUSES or _refunds(order):
        return OrderEventKind.REFUNDED
    if status in _PAID_STATUSES:
        return OrderEventKind.PAID
    return OrderEventKind.PLACED if topic == "orders/create" else OrderEventKind.UPDATED


def refund_amount(refund: Mapping[str, Any]) -> Decimal:
    """Sum of the refund's successful `refund` transactions."""
    total = Decimal(0)
    for index, raw in enumerate(refund.get("transactions") or ()):
        transaction = as_object(raw, f"refund.transactions[{index}]")
        if (
            text(transaction.get("kind")) == "refund"
            and text(transaction.get("status")) == "success"
        ):
            total += money(transaction.get("amount"), f"transactions[{index}].amount") or Decimal(0)
    return total


def _refund(refund: Mapping[str, Any], where: str) -> Refund:
    return Refund(
        refund_id=identifier(refund.get("id"), f"{where}.id"),
        amount=refund_amount(refund),
        created_at=timestamp(refund.get("created_at"), f"{where}.created_at"),
    )


def _refunds(order: Mapping[str, Any]) -> tuple[Refund, ...]:
    return tuple(
        _refund(as_object(raw, f"refunds[{i}]"), f"refunds[{i}]")
        for i, raw in enumerate(order.get("refunds") or ())
    )


def _line_items(order: Mapping[str, Any]) -> tuple[LineItem, ...]:
    items = []
    for index, raw in enumerate(order.get("line_items") or ()):
        line = raw if type(raw) is dict else as_object(raw, f"line_items[{index}]")
        quantity = int(line.get("quantity") or 0)
        price = shop_amount(line, "price") or Decimal(0)
        discount = shop_amount(line, "total_discount") or Decimal(0)
        items.append(
            LineItem(
                product_id=text(line.get("product_id")),
                variant_id=text(line.get("variant_id")),
                quantity=quantity,
                total=price * quantity - discount,
            )
        )
    return tuple(items)


def _landing_ref(order: Mapping[str, Any]) -> str | None:
    for raw in order.get("note_attributes") or ():
        if isinstance(raw, Mapping) and text(raw.get("name")) in {"ref", "referral_code"}:
            code = normalize_code(text(raw.get("value")))
            if code:
                return code
    return ref_from_url(text(order.get("landing_site")))


def _signals(order: Mapping[str, Any]) -> FraudSignals:
    client = order.get("client_details") if isinstance(order.get("client_details"), Mapping) else {}
    shipping = order.get("shipping_address")
    return FraudSignals(
        browser_ip=text(order.get("browser_ip")) or text(client.get("browser_ip")),
        user_agent=text(client.get("user_agent")),
        shipping_fingerprint=address_fingerprint(
            shipping if isinstance(shipping, Mapping) else None
        ),
    )


def _country(order: Mapping[str, Any]) -> str | None:
    for name in ("shipping_address", "billing_address"):
        address = order.get(name)
        if isinstance(address, Mapping) and text(address.get("country_code")):
            return (text(address.get("country_code")) or "").upper()
    return None


def _customer(order: Mapping[str, Any]) -> Mapping[str, Any]:
    customer = order.get("customer")
    return customer if isinstance(customer, Mapping) else {}


def order_event(meta: DeliveryMeta, payload: Any) -> OrderEvent:
    """An OrderEvent carrying the whole order, for every `orders/*` topic."""
    order = as_object(payload, "order")
    order_id = identifier(order.get("id"), "id")
    kind = order_kind(meta.topic, order)
    updated = timestamp(order.get("updated_at"), "updated_at")
    placed = timestamp(order.get("created_at"), "created_at")
    occurred = updated or placed or meta.triggered_at
    if occurred is None:
        raise TranslationError("updated_at and created_at are both missing")
    refunds = _refunds(order)
    customer = _customer(order)
    codes = tuple(
        code
        for raw in order.get("discount_codes") or ()
        if isinstance(raw, Mapping) and (code := normalize_code(text(raw.get("code"))))
    )
    return OrderEvent(
        platform=Platform.SHOPIFY,
        shop=meta.shop,
        order_id=order_id,
        kind=kind,
        occurred_at=occurred,
        idempotency_key=_order_key(kind, occurred, order, refunds),
        order_number=text(order.get("name")) or text(order.get("order_number")),
        placed_at=placed,
        currency=(text(order.get("currency")) or "").upper() or None,
        subtotal=_required(shop_amount(order, "subtotal_price"), "subtotal_price"),
        total=shop_amount(order, "total_price"),
        discount_total=shop_amount(order, "total_discounts"),
        discount_codes=codes,
        customer_id=text(customer.get("id")),
        email=normalize_email(
            text(order.get("email"))
            or text(order.get("contact_email"))
            or text(customer.get("email"))
        ),
        customer_order_count=_int_or_none(customer.get("orders_count")),
        country=_country(order),
        line_items=_line_items(order),
        refunds=refunds,
        signals=_signals(order),
        landing_ref=_landing_ref(order),
        source_name=text(order.get("source_name")),
        is_test=bool(order.get("test")),
    )


def refund_event(meta: DeliveryMeta, payload: Any) -> OrderEvent:
    """`refunds/create`: one refund of an order, without the order's codes or totals."""
    refund_payload = as_object(payload, "refund")
    refund = _refund(refund_payload, "refund")
    occurred = refund.created_at or timestamp(refund_payload.get("processed_at"), "processed_at")
    occurred = occurred or meta.triggered_at
    if occurred is None:
        raise TranslationError("created_at is missing")
    return OrderEvent(
        platform=Platform.SHOPIFY,
        shop=meta.shop,
        order_id=identifier(refund_payload.get("order_id"), "order_id"),
        kind=OrderEventKind.REFUNDED,
        occurred_at=occurred,
        idempotency_key=f"refund:{refund.refund_id}:{refund.amount}",
        refunds=(refund,),
    )


def _order_key(
    kind: OrderEventKind, occurred: datetime, order: Mapping[str, Any], refunds: tuple[Refund, ...]
) -> str:
    digest = state_digest(
        kind,
        occurred.isoformat(),
        order.get("financial_status"),
        order.get("cancelled_at"),
        order.get("current_total_price"),
        ",".join(f"{r.refund_id}={r.amount}" for r in refunds),
    )
    return f"{kind}:{digest}"


def _required(value: Decimal | None, where: str) -> Decimal:
    if value is None:
        raise TranslationError(f"{where} is missing")
    return value


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
