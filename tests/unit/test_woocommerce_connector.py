"""WooCommerce webhooks: identify, verify, the unsigned ping, and order translation."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import DeliveryMeta
from connectors.signatures import sign_body
from connectors.woocommerce import WooCommerceConnector
from connectors.woocommerce.connector import is_ping
from connectors.woocommerce.store_url import normalize_store_url
from referral_plugin.domain.events import CustomerCreated, OrderEvent, OrderEventKind
from tests.unit.connector_fixtures import load, raw

CONNECTOR = WooCommerceConnector()
SECRET = "wc-secret-Aa1!"
HEADERS = {
    "X-WC-Webhook-Source": "https://shop.example.com/",
    "X-WC-Webhook-Topic": "order.updated",
    "X-WC-Webhook-Resource": "order",
    "X-WC-Webhook-Event": "updated",
    "X-WC-Webhook-ID": "41",
    "X-WC-Webhook-Delivery-ID": "c5d4e0b0d2c9f5b8a1e3",
}
RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)


def meta(topic: str = "order.updated") -> DeliveryMeta:
    found = CONNECTOR.identify({**HEADERS, "X-WC-Webhook-Topic": topic})
    assert found is not None
    return dataclasses.replace(found, received_at=RECEIVED)


def order(**changes: Any) -> dict[str, Any]:
    payload = load("woocommerce", "order_updated__docs_sample")
    payload.update(changes)
    return payload


def translated(payload: Any, topic: str = "order.updated") -> OrderEvent:
    (event,) = CONNECTOR.translate(meta(topic), payload)
    assert isinstance(event, OrderEvent)
    return event


def test_identify_uses_the_source_url_as_the_shop() -> None:
    found = meta()
    assert (found.shop, found.topic, found.webhook_id) == (
        "https://shop.example.com",
        "order.updated",
        "41",
    )
    assert found.dedup_key is None  # the delivery id is not unique; the body decides


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("http://localhost:8080/store/", "http://localhost:8080/store"),
        ("shop.example.com", None),
        ("ftp://shop.example.com", None),
        ("https://user:pw@shop.example.com", None),
        ("", None),
    ],
)
def test_store_urls_have_one_canonical_form(value: str, expected: str | None) -> None:
    assert normalize_store_url(value) == expected


def test_verify_checks_the_base64_hmac_of_the_exact_body() -> None:
    body = raw("woocommerce", "order_updated__docs_sample")
    headers = {**HEADERS, "X-WC-Webhook-Signature": sign_body(body, SECRET)}
    assert CONNECTOR.verify(body, headers, [SECRET])
    assert not CONNECTOR.verify(body + b" ", headers, [SECRET])
    assert not CONNECTOR.verify(body, headers, ["another-store-secret"])
    assert not CONNECTOR.verify(body, HEADERS, [SECRET])


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        pytest.param({"User-Agent": "WooCommerce/8.9 Hookshot"}, b"webhook_id=12", True, id="ping"),
        pytest.param(HEADERS, b"webhook_id=12", False, id="signed-delivery-is-not-a-ping"),
        pytest.param({}, b"webhook_id=abc", False, id="non-numeric-id"),
        pytest.param({}, b'{"id": 1}', False, id="json-body"),
    ],
)
def test_the_unsigned_ping_is_recognised(
    headers: dict[str, str], body: bytes, expected: bool
) -> None:
    assert is_ping(headers, body) is expected


def test_the_docs_sample_is_a_paid_order() -> None:
    event = translated(order())
    assert event.kind is OrderEventKind.PAID
    assert (event.order_id, event.currency, event.email, event.country) == (
        "727",
        "USD",
        "john.doe@example.com",
        "US",
    )
    assert event.subtotal == Decimal("18.00")  # line totals, before shipping and tax
    assert event.total == Decimal("29.35")
    assert event.customer_id is None  # customer_id 0 is a guest
    assert event.occurred_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)  # the _gmt time


@pytest.mark.parametrize(
    ("status", "date_paid", "kind"),
    [
        ("pending", None, OrderEventKind.PLACED),
        ("on-hold", None, OrderEventKind.PLACED),
        ("processing", "2017-03-22T19:28:08", OrderEventKind.PAID),
        ("completed", "2017-03-22T19:28:08", OrderEventKind.PAID),
        ("processing", None, OrderEventKind.PLACED),
        ("cancelled", None, OrderEventKind.CANCELLED),
        ("failed", None, OrderEventKind.CANCELLED),
        ("refunded", "2017-03-22T19:28:08", OrderEventKind.REFUNDED),
        ("ready-for-pickup", "2017-03-22T19:28:08", OrderEventKind.UPDATED),
    ],
)
def test_status_maps_to_an_event_kind(
    status: str, date_paid: str | None, kind: OrderEventKind
) -> None:
    payload = order(status=status, date_paid=date_paid, date_paid_gmt=date_paid)
    assert translated(payload).kind is kind


@pytest.mark.parametrize("status", ["checkout-draft", "draft", "auto-draft"])
def test_draft_orders_are_ignored(status: str) -> None:
    assert CONNECTOR.translate(meta(), order(status=status)) == ()


def test_lower_case_coupon_codes_match_our_codes() -> None:
    lines = [{"id": 1, "code": "anna-7q2k9xpa", "discount": "10.00", "discount_tax": "0.00"}]
    assert translated(order(coupon_lines=lines)).discount_codes == ("ANNA7Q2K9XPA",)


def test_refund_totals_are_negative_strings_and_become_positive_amounts() -> None:
    event = translated(order(refunds=[{"id": 726, "reason": "", "total": "-10.00"}]))
    assert event.kind is OrderEventKind.REFUNDED
    assert [(r.refund_id, r.amount) for r in event.refunds] == [("726", Decimal("10.00"))]


def test_a_refunded_status_without_listed_refunds_is_a_full_refund() -> None:
    event = translated(order(status="refunded", refunds=[]))
    assert sum(r.amount for r in event.refunds) == event.total


def test_order_attribution_landing_page_gives_the_ref_code() -> None:
    meta_data = [
        {
            "id": 1,
            "key": "_wc_order_attribution_session_entry",
            "value": "https://shop.example.com/?ref=anna-7q2k9xpa",
        }
    ]
    assert translated(order(meta_data=meta_data)).landing_ref == "ANNA7Q2K9XPA"


def test_signals_come_from_the_customer_fields() -> None:
    event = translated(order(customer_ip_address="198.51.100.7", customer_user_agent="Firefox"))
    assert (event.signals.browser_ip, event.signals.user_agent) == ("198.51.100.7", "Firefox")


def test_order_deleted_carries_only_the_id_and_voids_the_order() -> None:
    event = translated({"id": 727}, topic="order.deleted")
    assert (event.kind, event.order_id, event.occurred_at) == (
        OrderEventKind.CANCELLED,
        "727",
        RECEIVED,
    )


def test_customer_created_is_a_customer_event() -> None:
    (event,) = CONNECTOR.translate(
        meta("customer.created"),
        {
            "id": 25,
            "email": "Ana@Example.com",
            "first_name": "Ana",
            "date_created_gmt": "2026-11-01T10:00:00",
        },
    )
    assert isinstance(event, CustomerCreated)
    assert (event.customer_id, event.email) == ("25", "ana@example.com")


def test_repeated_bodies_share_a_delivery_key_and_changes_do_not() -> None:
    body = raw("woocommerce", "order_updated__docs_sample")
    assert CONNECTOR.delivery_key(meta(), body) == CONNECTOR.delivery_key(meta(), body)
    assert CONNECTOR.delivery_key(meta(), body) != CONNECTOR.delivery_key(meta(), body + b"\n")
    assert CONNECTOR.delivery_key(meta(), body) != CONNECTOR.delivery_key(
        meta("order.created"), body
    )


def test_order_created_and_updated_with_one_body_are_one_order_event() -> None:
    created, updated = translated(order(), "order.created"), translated(order())
    assert created.idempotency_key == updated.idempotency_key
