"""Shopify webhooks: identify from headers, verify HMAC on raw bytes, translate payloads."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import DeliveryMeta, TranslationError
from connectors.shopify import ShopifyConnector
from connectors.signatures import sign_body
from referral_plugin.domain.events import (
    CustomerDataRequest,
    CustomerRedact,
    OrderEvent,
    OrderEventKind,
    ShopRedact,
    ShopUninstalled,
)
from tests.unit.connector_fixtures import load, raw

CONNECTOR = ShopifyConnector()
SECRET = "shpss_current"
HEADERS = {
    "X-Shopify-Topic": "orders/paid",
    "X-Shopify-Shop-Domain": "demo-store.myshopify.com",
    "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
    "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    "X-Shopify-Triggered-At": "2026-11-20T10:00:00.000000Z",
    "X-Shopify-API-Version": "2026-01",
}


def meta(topic: str) -> DeliveryMeta:
    found = CONNECTOR.identify({**HEADERS, "X-Shopify-Topic": topic})
    assert found is not None
    return found


def only_order(topic: str, payload: Any) -> OrderEvent:
    (event,) = CONNECTOR.translate(meta(topic), payload)
    assert isinstance(event, OrderEvent)
    return event


def referred_paid_order() -> dict[str, Any]:
    """The docs sample turned into a normal paid order carrying a referral code."""
    order = load("shopify", "orders_create__docs_sample")
    order.update(
        financial_status="paid",
        cancelled_at=None,
        cancel_reason=None,
        test=False,
        discount_codes=[{"code": "anna-7q2k 9xpa", "amount": "10.00", "type": "fixed_amount"}],
        landing_site="/products/sunglasses?ref=BOB-2345-6789&utm_source=x",
        client_details={"browser_ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
    )
    return order


def test_identify_reads_headers_in_any_case() -> None:
    found = CONNECTOR.identify({k.lower(): v for k, v in HEADERS.items()})
    assert found is not None
    assert (found.shop, found.topic) == ("demo-store.myshopify.com", "orders/paid")
    assert found.dedup_key == "orders/paid:98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert found.triggered_at == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"X-Shopify-Shop-Domain": "evil.example.com"}, id="not-myshopify"),
        pytest.param({"X-Shopify-Shop-Domain": "-bad-.myshopify.com"}, id="bad-handle"),
        pytest.param({"X-Shopify-Shop-Domain": ""}, id="empty-domain"),
        pytest.param({"X-Shopify-Topic": ""}, id="no-topic"),
    ],
)
def test_identify_refuses_headers_without_a_valid_shop_or_topic(change: dict[str, str]) -> None:
    assert CONNECTOR.identify({**HEADERS, **change}) is None


def test_the_same_event_on_two_topics_has_two_keys() -> None:
    assert meta("orders/paid").dedup_key != meta("orders/updated").dedup_key


@pytest.mark.parametrize(
    ("secrets", "body", "expected"),
    [
        pytest.param([SECRET], b'{"id":1}', True, id="current-secret"),
        pytest.param(["shpss_new", SECRET], b'{"id":1}', True, id="previous-secret-in-rotation"),
        pytest.param(["shpss_other"], b'{"id":1}', False, id="wrong-secret"),
        pytest.param([SECRET], b'{"id":2}', False, id="tampered-body"),
        pytest.param([""], b'{"id":1}', False, id="empty-secret-never-matches"),
    ],
)
def test_verify_checks_the_hmac_of_the_raw_body(
    secrets: list[str], body: bytes, expected: bool
) -> None:
    headers = {**HEADERS, "X-Shopify-Hmac-Sha256": sign_body(b'{"id":1}', SECRET)}
    assert CONNECTOR.verify(body, headers, secrets) is expected


@pytest.mark.parametrize("header", [None, "", "not base64!!", "c2hvcnQ="])
def test_verify_refuses_missing_or_malformed_signatures(header: str | None) -> None:
    headers = dict(HEADERS) if header is None else {**HEADERS, "X-Shopify-Hmac-Sha256": header}
    assert CONNECTOR.verify(b"{}", headers, [SECRET]) is False


def test_the_docs_sample_is_a_cancelled_test_order() -> None:
    event = only_order("orders/create", load("shopify", "orders_create__docs_sample"))
    assert event.kind is OrderEventKind.CANCELLED
    assert event.is_test
    assert (event.order_id, event.order_number, event.currency) == (
        "820982911946154508",
        "#9999",
        "USD",
    )
    assert event.subtotal == Decimal("404.95")
    assert event.discount_codes == ()
    assert (event.email, event.country, event.customer_id) == (
        "jon@example.com",
        "US",
        "115310627314723954",
    )


def test_a_paid_order_carries_codes_landing_ref_and_signals() -> None:
    event = only_order("orders/paid", referred_paid_order())
    assert event.kind is OrderEventKind.PAID
    assert event.discount_codes == ("ANNA7Q2K9XPA",)
    assert event.landing_ref == "BOB23456789"
    assert event.signals.browser_ip == "203.0.113.9"
    assert event.signals.shipping_fingerprint is not None
    assert event.has_order_data


def test_a_note_attribute_ref_beats_the_landing_site() -> None:
    order = referred_paid_order()
    order["note_attributes"] = [{"name": "ref", "value": "cara-2222-3333"}]
    assert only_order("orders/updated", order).landing_ref == "CARA22223333"


@pytest.mark.parametrize(
    ("topic", "financial_status", "kind"),
    [
        pytest.param("orders/create", "pending", OrderEventKind.PLACED, id="created-unpaid"),
        pytest.param("orders/create", "paid", OrderEventKind.PAID, id="created-paid"),
        pytest.param("orders/updated", "authorized", OrderEventKind.UPDATED, id="updated"),
        pytest.param("orders/paid", "paid", OrderEventKind.PAID, id="paid-topic"),
        pytest.param("orders/updated", "voided", OrderEventKind.CANCELLED, id="voided"),
        pytest.param("orders/updated", "refunded", OrderEventKind.REFUNDED, id="refunded"),
    ],
)
def test_order_kind_follows_topic_and_state(
    topic: str, financial_status: str, kind: OrderEventKind
) -> None:
    order = referred_paid_order()
    order["financial_status"] = financial_status
    assert only_order(topic, order).kind is kind


def test_embedded_refunds_are_summed_from_successful_refund_transactions() -> None:
    order = referred_paid_order()
    refund = load("shopify", "refunds_create__docs_sample")
    refund["transactions"].append({"kind": "refund", "status": "failure", "amount": "99.00"})
    order.update(financial_status="partially_refunded", refunds=[refund])
    event = only_order("orders/updated", order)
    assert event.kind is OrderEventKind.REFUNDED
    assert [(r.refund_id, r.amount) for r in event.refunds] == [
        ("890088186047892319", Decimal("85.00"))
    ]


def test_refunds_create_is_a_refund_delta_without_order_data() -> None:
    event = only_order("refunds/create", load("shopify", "refunds_create__docs_sample"))
    assert event.kind is OrderEventKind.REFUNDED
    assert event.order_id == "820982911946154508"
    assert event.refunds[0].amount == Decimal("85.00")
    assert not event.has_order_data


def test_the_same_state_gives_the_same_idempotency_key() -> None:
    first = only_order("orders/paid", referred_paid_order())
    again = only_order("orders/paid", referred_paid_order())
    changed = referred_paid_order()
    changed["financial_status"] = "refunded"
    assert first.idempotency_key == again.idempotency_key
    assert only_order("orders/updated", changed).idempotency_key != first.idempotency_key


@pytest.mark.parametrize(
    ("topic", "fixture", "kind"),
    [
        ("app/uninstalled", "app_uninstalled__docs_sample", ShopUninstalled),
        ("shop/redact", "shop_redact__docs_sample", ShopRedact),
        ("customers/redact", "customers_redact__docs_sample", CustomerRedact),
        ("customers/data_request", "customers_data_request__docs_sample", CustomerDataRequest),
    ],
)
def test_shop_and_compliance_topics(topic: str, fixture: str, kind: type) -> None:
    (event,) = CONNECTOR.translate(meta(topic), load("shopify", fixture))
    assert isinstance(event, kind)
    assert event.shop == "demo-store.myshopify.com"


def test_compliance_payloads_name_the_customer_and_orders() -> None:
    (redact,) = CONNECTOR.translate(
        meta("customers/redact"), load("shopify", "customers_redact__docs_sample")
    )
    (request,) = CONNECTOR.translate(
        meta("customers/data_request"), load("shopify", "customers_data_request__docs_sample")
    )
    assert isinstance(redact, CustomerRedact)
    assert isinstance(request, CustomerDataRequest)
    assert (redact.customer_id, redact.email) == ("191167", "john@example.com")
    assert redact.order_ids == ("299938", "280263", "220458")
    assert request.request_id == "9999"


def test_topics_we_do_not_use_translate_to_nothing() -> None:
    assert CONNECTOR.translate(meta("products/update"), {"id": 1}) == ()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        pytest.param([], "order must be a JSON object", id="not-an-object"),
        pytest.param({"updated_at": "2026-01-01T00:00:00Z"}, "id is missing", id="no-id"),
        pytest.param(
            {"id": 1, "updated_at": "yesterday", "subtotal_price": "1"},
            "updated_at must be an ISO 8601 timestamp",
            id="bad-time",
        ),
        pytest.param(
            {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "subtotal_price": "ten"},
            "subtotal_price must be an amount",
            id="bad-amount",
        ),
        pytest.param(
            {"id": 1, "updated_at": "2026-01-01T00:00:00Z"},
            "subtotal_price is missing",
            id="no-subtotal",
        ),
    ],
)
def test_malformed_orders_raise_a_translation_error_naming_the_field(
    payload: Any, message: str
) -> None:
    with pytest.raises(TranslationError, match=message):
        CONNECTOR.translate(meta("orders/paid"), payload)


def test_delivery_key_falls_back_to_the_body_without_an_event_id() -> None:
    without_id = dataclasses.replace(meta("orders/paid"), dedup_key=None)
    body = raw("shopify", "orders_create__docs_sample")
    assert CONNECTOR.delivery_key(without_id, body) == CONNECTOR.delivery_key(without_id, body)
    assert CONNECTOR.delivery_key(without_id, body) != CONNECTOR.delivery_key(without_id, b"{}")
    assert CONNECTOR.delivery_key(meta("orders/paid"), body).endswith(HEADERS["X-Shopify-Event-Id"])
