"""WooCommerce order payloads (REST v3 order JSON, as webhooks send it) → OrderEvent."""

from __future__ import annotations

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
    money,
    ref_from_url,
    state_digest,
    text,
    timestamp,
)

IGNORED_STATUSES = frozenset({"checkout-draft", "draft", "auto-draft", "new"})
_PLACED = frozenset({"pending", "on-hold"})
_PAID = frozenset({"processing", "completed"})
_CANCELLED = frozenset({"cancelled", "failed", "trash"})
_LANDING_META = ("_wc_order_attribution_session_entry",)


def order_kind(order: Mapping[str, Any], refunds: tuple[Refund, ...]) -> OrderEventKind:
    """Status → kind: pending/on-hold placed; processing/completed with date_paid paid;
    cancelled/failed cancelled; refunded, or any refund, refunded; else updated."""
    status = text(order.get("status")) or ""
    if status in _CANCELLED:
        return OrderEventKind.CANCELLED
    if status == "refunded" or refunds:
        return OrderEventKind.REFUNDED
    paid = bool(order.get("date_paid_gmt") or order.get("date_paid"))
    if status in _PAID and paid:
        return OrderEventKind.PAID
    if status in _PLACED or status in _PAID:
        return OrderEventKind.PLACED
    return OrderEventKind.UPDATED


def _refunds(order: Mapping[str, Any]) -> tuple[Refund, ...]:
    """`refunds[]` (totals are negative strings); a `refunded` status without any listed
    refund counts as one full refund."""
    refunds = []
    for index, raw in enumerate(order.get("refunds") or ()):
        item = as_object(raw, f"refunds[{index}]")
        amount = money(item.get("total"), f"refunds[{index}].total") or Decimal(0)
        refunds.append(
            Refund(refund_id=identifier(item.get("id"), f"refunds[{index}].id"), amount=abs(amount))
        )
    if not refunds and text(order.get("status")) == "refunded":
        total = money(order.get("total"), "total") or Decimal(0)
        refunds.append(Refund(refund_id="status:refunded", amount=total))
    return tuple(refunds)


def _line_items(order: Mapping[str, Any]) -> tuple[LineItem, ...]:
    items = []
    for index, raw in enumerate(order.get("line_items") or ()):
        line = as_object(raw, f"line_items[{index}]")
        variation = text(line.get("variation_id"))
        items.append(
            LineItem(
                product_id=text(line.get("product_id")),
                variant_id=None if variation == "0" else variation,
                quantity=int(line.get("quantity") or 0),
                total=money(line.get("total"), f"line_items[{index}].total") or Decimal(0),
            )
        )
    return tuple(items)


def _meta(order: Mapping[str, Any], key: str) -> str | None:
    for raw in order.get("meta_data") or ():
        if isinstance(raw, Mapping) and raw.get("key") == key:
            return text(raw.get("value"))
    return None


def _landing_ref(order: Mapping[str, Any]) -> str | None:
    for key in _LANDING_META:
        code = ref_from_url(_meta(order, key))
        if code:
            return code
    return None


def _time(order: Mapping[str, Any], name: str) -> datetime | None:
    """`<name>_gmt` (UTC without an offset), else the site-local `<name>` read as UTC."""
    return timestamp(order.get(f"{name}_gmt"), f"{name}_gmt") or timestamp(order.get(name), name)


def _address(order: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    address = order.get(name)
    return address if isinstance(address, Mapping) else {}


def order_event(meta: DeliveryMeta, payload: Any) -> OrderEvent | None:
    """The OrderEvent for an order payload, or None for draft statuses we ignore."""
    order = as_object(payload, "order")
    if (text(order.get("status")) or "") in IGNORED_STATUSES:
        return None
    refunds = _refunds(order)
    kind = order_kind(order, refunds)
    occurred = _time(order, "date_modified") or _time(order, "date_created") or meta.happened_at
    if occurred is None:
        raise TranslationError("date_modified_gmt and date_created_gmt are both missing")
    lines = _line_items(order)
    shipping, billing = _address(order, "shipping"), _address(order, "billing")
    return OrderEvent(
        platform=Platform.WOOCOMMERCE,
        shop=meta.shop,
        order_id=identifier(order.get("id"), "id"),
        kind=kind,
        occurred_at=occurred,
        idempotency_key=_order_key(kind, occurred, order, refunds),
        order_number=text(order.get("number")),
        placed_at=_time(order, "date_created"),
        currency=(text(order.get("currency")) or "").upper() or None,
        subtotal=sum((line.total for line in lines), Decimal(0)),
        total=money(order.get("total"), "total"),
        discount_total=money(order.get("discount_total"), "discount_total"),
        discount_codes=_codes(order),
        customer_id=None
        if text(order.get("customer_id")) in {None, "0"}
        else text(order.get("customer_id")),
        email=normalize_email(text(billing.get("email"))),
        country=(text(shipping.get("country")) or text(billing.get("country")) or "").upper()
        or None,
        line_items=lines,
        refunds=refunds,
        signals=FraudSignals(
            browser_ip=text(order.get("customer_ip_address")),
            user_agent=text(order.get("customer_user_agent")),
            shipping_fingerprint=address_fingerprint(shipping or None),
        ),
        landing_ref=_landing_ref(order),
        source_name=text(order.get("created_via")),
    )


def deleted_event(meta: DeliveryMeta, payload: Any) -> OrderEvent:
    """`order.deleted` sends only `{"id": N}`: the order no longer counts."""
    body = as_object(payload, "order")
    order_id = identifier(body.get("id"), "id")
    if meta.happened_at is None:
        raise TranslationError("the delivery has no receipt time")
    return OrderEvent(
        platform=Platform.WOOCOMMERCE,
        shop=meta.shop,
        order_id=order_id,
        kind=OrderEventKind.CANCELLED,
        occurred_at=meta.happened_at,
        idempotency_key=f"deleted:{order_id}",
    )


def _codes(order: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(
        code
        for raw in order.get("coupon_lines") or ()
        if isinstance(raw, Mapping) and (code := normalize_code(text(raw.get("code"))))
    )


def _order_key(
    kind: OrderEventKind, occurred: datetime, order: Mapping[str, Any], refunds: tuple[Refund, ...]
) -> str:
    digest = state_digest(
        kind,
        occurred.isoformat(),
        order.get("status"),
        order.get("total"),
        ",".join(f"{r.refund_id}={r.amount}" for r in refunds),
        ",".join(_codes(order)),
    )
    return f"{kind}:{digest}"
