"""The WooCommerce connector: identify, verify and translate webhook deliveries.

WooCommerce signs `base64(HMAC-SHA256(body, secret))` with the per-store secret we set when we
created the webhook. Its delivery id is not unique (two deliveries in one second share it), so
the inbox key comes from the topic and the body itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.events import CustomerCreated, Event, Platform

from ..base import DeliveryMeta, TranslationError
from ..payload import as_object, body_digest, header, identifier, text, timestamp
from ..signatures import body_signature_matches
from .orders import deleted_event, order_event
from .store_url import normalize_store_url


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned ping: a form body `webhook_id=N` and no X-WC headers."""
    has_wc_headers = any(key.lower().startswith("x-wc-webhook-") for key in headers)
    parts = body.strip().split(b"=")
    return (
        not has_wc_headers and len(parts) == 2 and parts[0] == b"webhook_id" and parts[1].isdigit()
    )


def _order(meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
    event = order_event(meta, payload)
    return (event,) if event is not None else ()


def _customer_created(meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
    customer = as_object(payload, "customer")
    occurred = timestamp(customer.get("date_created_gmt"), "date_created_gmt") or meta.happened_at
    if occurred is None:
        raise TranslationError("date_created_gmt is missing")
    return (
        CustomerCreated(
            platform=Platform.WOOCOMMERCE,
            shop=meta.shop,
            customer_id=identifier(customer.get("id"), "id"),
            email=normalize_email(text(customer.get("email"))),
            first_name=text(customer.get("first_name")),
            last_name=text(customer.get("last_name")),
            occurred_at=occurred,
        ),
    )


TRANSLATORS: dict[str, Callable[[DeliveryMeta, Any], tuple[Event, ...]]] = {
    "order.created": _order,
    "order.updated": _order,
    "order.restored": _order,
    "order.deleted": lambda meta, p: (deleted_event(meta, p),),
    "customer.created": _customer_created,
}


class WooCommerceConnector:
    platform = Platform.WOOCOMMERCE

    def identify(self, headers: Mapping[str, str]) -> DeliveryMeta | None:
        """Meta from the X-WC-Webhook-* headers; None without a store URL or topic."""
        shop = normalize_store_url(header(headers, "X-WC-Webhook-Source"))
        topic = header(headers, "X-WC-Webhook-Topic")
        if shop is None or not topic:
            return None
        return DeliveryMeta(
            platform=Platform.WOOCOMMERCE,
            shop=shop,
            topic=topic.lower(),
            dedup_key=None,
            webhook_id=header(headers, "X-WC-Webhook-ID"),
        )

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> bool:
        return body_signature_matches(body, header(headers, "X-WC-Webhook-Signature"), secrets)

    def delivery_key(self, meta: DeliveryMeta, body: bytes) -> str:
        """Topic, webhook and a hash of the exact body: a repeat of the same content is one
        delivery; any change to the resource (date_modified, status, refunds) is a new one."""
        return f"{meta.topic}:{meta.webhook_id or '-'}:{body_digest(body)}"

    def translate(self, meta: DeliveryMeta, payload: Any) -> tuple[Event, ...]:
        translator = TRANSLATORS.get(meta.topic)
        return translator(meta, payload) if translator else ()
