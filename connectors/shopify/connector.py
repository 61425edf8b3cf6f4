"""The Shopify connector: which shop and topic a delivery is, whether it is authentic, and
what it means as common events."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.events import (
    CustomerCreated,
    CustomerDataRequest,
    CustomerRedact,
    Event,
    Platform,
    ShopRedact,
    ShopUninstalled,
)

from ..base import DeliveryMeta, TranslationError
from ..payload import as_object, body_digest, header, identifier, text, timestamp
from ..signatures import body_signature_matches
from .orders import order_event, refund_event
from .shop_domain import valid_shop_domain


def _when(meta: DeliveryMeta) -> datetime:
    if meta.happened_at is None:
        raise TranslationError("the delivery has no time (X-Shopify-Triggered-At or receipt)")
    return meta.happened_at


def _customer_created(meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
    customer = as_object(payload, "customer")
    return (
        CustomerCreated(
            platform=Platform.SHOPIFY,
            shop=meta.shop,
            customer_id=identifier(customer.get("id"), "id"),
            email=normalize_email(text(customer.get("email"))),
            first_name=text(customer.get("first_name")),
            last_name=text(customer.get("last_name")),
            occurred_at=timestamp(customer.get("created_at"), "created_at") or _when(meta),
        ),
    )


def _compliance_customer(payload: Any) -> tuple[str | None, str | None, tuple[str, ...]]:
    body = as_object(payload, "payload")
    customer = body.get("customer") if isinstance(body.get("customer"), Mapping) else {}
    orders = body.get("orders_requested") or body.get("orders_to_redact") or ()
    return (
        text(customer.get("id")),
        normalize_email(text(customer.get("email"))),
        tuple(identifier(o, "order id") for o in orders),
    )


def _customer_redact(meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
    customer_id, email, orders = _compliance_customer(payload)
    return (
        CustomerRedact(
            platform=Platform.SHOPIFY,
            shop=meta.shop,
            customer_id=customer_id,
            email=email,
            order_ids=orders,
        ),
    )


def _data_request(meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
    customer_id, email, orders = _compliance_customer(payload)
    request = as_object(payload, "payload").get("data_request")
    request_id = text(request.get("id")) if isinstance(request, Mapping) else None
    return (
        CustomerDataRequest(
            platform=Platform.SHOPIFY,
            shop=meta.shop,
            request_id=request_id or meta.dedup_key or "",
            customer_id=customer_id,
            email=email,
            order_ids=orders,
        ),
    )


def _uninstalled(meta: DeliveryMeta, _payload: Any) -> tuple[Event, ...]:
    return (ShopUninstalled(platform=Platform.SHOPIFY, shop=meta.shop, occurred_at=_when(meta)),)


def _shop_redact(meta: DeliveryMeta, _payload: Any) -> tuple[Event, ...]:
    return (ShopRedact(platform=Platform.SHOPIFY, shop=meta.shop),)


TRANSLATORS: dict[str, Callable[[DeliveryMeta, Any], tuple[Event, ...]]] = {
    "orders/create": lambda meta, p: (order_event(meta, p),),
    "orders/paid": lambda meta, p: (order_event(meta, p),),
    "orders/updated": lambda meta, p: (order_event(meta, p),),
    "orders/cancelled": lambda meta, p: (order_event(meta, p),),
    "refunds/create": lambda meta, p: (refund_event(meta, p),),
    "customers/create": _customer_created,
    "app/uninstalled": _uninstalled,
    "customers/redact": _customer_redact,
    "customers/data_request": _data_request,
    "shop/redact": _shop_redact,
}


class ShopifyConnector:
    platform = Platform.SHOPIFY

    def identify(self, headers: Mapping[str, str]) -> DeliveryMeta | None:
        """Meta from the X-Shopify-* headers; None without a valid shop domain or topic."""
        shop = (header(headers, "X-Shopify-Shop-Domain") or "").lower()
        topic = header(headers, "X-Shopify-Topic")
        if not valid_shop_domain(shop) or not topic:
            return None
        triggered = header(headers, "X-Shopify-Triggered-At")
        try:
            triggered_at = timestamp(triggered, "X-Shopify-Triggered-At")
        except ValueError:
            triggered_at = None
        event_id = header(headers, "X-Shopify-Event-Id")
        return DeliveryMeta(
            platform=Platform.SHOPIFY,
            shop=shop,
            topic=topic.lower(),
            # One merchant action may reach several topics under one event id.
            dedup_key=f"{topic.lower()}:{event_id}" if event_id else None,
            webhook_id=header(headers, "X-Shopify-Webhook-Id"),
            triggered_at=triggered_at,
            api_version=header(headers, "X-Shopify-API-Version"),
        )

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> bool:
        """HMAC of the raw body with the app's client secret (current or previous)."""
        return body_signature_matches(body, header(headers, "X-Shopify-Hmac-Sha256"), secrets)

    def delivery_key(self, meta: DeliveryMeta, body: bytes) -> str:
        """`<topic>:<X-Shopify-Event-Id>`; without an event id, a hash of topic and body."""
        return meta.dedup_key or f"{meta.topic}:body:{body_digest(body)}"

    def translate(self, meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
        translator = TRANSLATORS.get(meta.topic)
        return translator(meta, payload) if translator else ()
