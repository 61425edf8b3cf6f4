"""`/api/v1/webhook-endpoints` through the Flask test client: the secret shown once and stored
sealed, validation answering 422 naming the field, the delivery log, send test, replay, and
another shop's endpoint and delivery ids answering 404."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from referral_plugin.app import app_services
from referral_plugin.models import AuditEntry, MerchantWebhookEndpoint
from referral_plugin.services.webhook_endpoint_input import check_url
from tests.edge.test_admin_api import ShopClient, connect_shop, create_program, enroll, error_fields

HOOK = {"url": "https://crm.example.com/hooks/referrals", "events": ["advocate.joined"]}


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


@pytest.fixture
def other_shop(app: Flask, client: FlaskClient) -> ShopClient:
    return ShopClient(*connect_shop(app), client)


def register(shop: ShopClient, **overrides: Any) -> dict[str, Any]:
    response = shop.call("POST", "/webhook-endpoints", {**HOOK, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def test_create_shows_the_secret_once_and_stores_it_sealed(app: Flask, shop: ShopClient) -> None:
    created = register(shop, description="Klaviyo")

    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["events"] == ["advocate.joined"] and created["active"] is True
    location = shop.call("GET", f"/webhook-endpoints/{created['id']}")
    listed = shop.call("GET", "/webhook-endpoints").json["webhook_endpoints"]
    assert "secret" not in location.json and [e["id"] for e in listed] == [created["id"]]
    assert all("secret" not in e for e in listed)
    services = app_services(app)
    with services.sessions.begin() as session:
        row = session.get(MerchantWebhookEndpoint, created["id"])
        assert row is not None and created["secret"] not in row.secret
        assert services.box.open(row.secret) == created["secret"]
        audit = session.scalars(select(AuditEntry).where(AuditEntry.shop_id == shop.shop_id)).all()
        assert [a.action for a in audit] == ["webhook_endpoint.created"]
        assert created["secret"] not in str(audit[0].details)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["advocate.joined"]}, "url"),
        ({**HOOK, "url": "ftp://crm.example.com/x"}, "url"),
        ({**HOOK, "url": "http://crm.example.com/hooks"}, "url"),
        ({**HOOK, "url": "https://user:pw@crm.example.com/hooks"}, "url"),
        ({**HOOK, "url": "https://"}, "url"),
        ({**HOOK, "url": "https://10.0.0.8/hooks"}, "url"),
        ({**HOOK, "url": 42}, "url"),
        ({"url": HOOK["url"]}, "events"),
        ({**HOOK, "events": []}, "events"),
        ({**HOOK, "events": ["order.created"]}, "events"),
        ({**HOOK, "events": "advocate.joined"}, "events"),
        ({**HOOK, "active": "yes"}, "active"),
        ({**HOOK, "description": "x" * 256}, "description"),
        ({**HOOK, "secret": "mine"}, "secret"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_invalid_fields_answer_422_naming_the_field(
    shop: ShopClient, body: dict[str, Any], field: str
) -> None:
    response = shop.call("POST", "/webhook-endpoints", body)

    assert response.status_code == 422
    assert error_fields(response) == {field}


def test_loopback_is_only_for_development_and_test() -> None:
    local = "http://127.0.0.1:8123/hooks"
    assert check_url(local, allow_loopback=True) == (local, None)
    assert check_url(local, allow_loopback=False)[0] is None
    assert check_url("https://localhost/hooks", allow_loopback=False)[0] is None
    assert check_url("https://crm.example.com/h?k=1", allow_loopback=False)[1] is None


def test_a_body_that_is_not_json_answers_400(shop: ShopClient) -> None:
    response = shop.call("POST", "/webhook-endpoints", data="url=x", headers={})
    assert response.status_code == 400


def test_update_rotate_and_delete(shop: ShopClient) -> None:
    created = register(shop)
    path = f"/webhook-endpoints/{created['id']}"

    changed = shop.call("PATCH", path, {"events": ["reward.issued", "advocate.joined"]})
    assert changed.status_code == 200
    assert changed.json["events"] == ["advocate.joined", "reward.issued"]
    off = shop.call("PATCH", path, {"active": False}).json
    assert (off["active"], off["disabled_reason"]) == (False, "disabled by the merchant")
    on = shop.call("PATCH", path, {"active": True}).json
    assert (on["active"], on["disabled_reason"]) == (True, None)
    assert error_fields(shop.call("PATCH", path, {"url": "http://crm.example.com"})) == {"url"}

    rotated = shop.call("POST", f"{path}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json["secret"].startswith("whsec_")
    assert rotated.json["secret"] != created["secret"]

    assert shop.call("DELETE", path).status_code == 204
    assert shop.call("GET", path).status_code == 404


def test_the_delivery_log_send_test_and_retry(shop: ShopClient) -> None:
    created = register(shop)
    program = create_program(shop)
    assert enroll(shop, program["id"], "anna@example.com").status_code == 201
    path = f"/webhook-endpoints/{created['id']}"

    sent = shop.call("POST", f"{path}/test")
    assert sent.status_code == 202
    delivery_id = sent.json["delivery_id"]
    assert sent.headers["Location"].endswith(f"{path}/deliveries/{delivery_id}")

    log = shop.call("GET", f"{path}/deliveries").json["deliveries"]
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [
        ("ping", "pending", 0),
        ("advocate.joined", "pending", 0),
    ]
    assert set(log[0]) >= {"last_status_code", "last_error", "next_attempt_at", "delivered_at"}
    one = shop.call("GET", f"{path}/deliveries/{delivery_id}")
    assert one.json["id"] == delivery_id
    retried = shop.call("POST", f"{path}/deliveries/{delivery_id}/retry")
    assert (retried.status_code, retried.json["status"]) == (200, "pending")
    bad_page = shop.call("GET", f"{path}/deliveries?limit=0")
    assert bad_page.status_code == 400 and error_fields(bad_page) == {"limit"}


def test_send_test_to_a_disabled_endpoint_is_a_conflict(shop: ShopClient) -> None:
    created = register(shop, active=False)
    response = shop.call("POST", f"/webhook-endpoints/{created['id']}/test")
    assert response.status_code == 409


def test_another_shops_ids_answer_404(shop: ShopClient, other_shop: ShopClient) -> None:
    created = register(shop)
    path = f"/webhook-endpoints/{created['id']}"
    delivery_id = shop.call("POST", f"{path}/test").json["delivery_id"]
    theirs = register(other_shop)

    for method, suffix in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/rotate-secret"),
        ("POST", "/test"),
        ("GET", "/deliveries"),
        ("GET", f"/deliveries/{delivery_id}"),
        ("POST", f"/deliveries/{delivery_id}/retry"),
    ]:
        body = {"active": False} if method == "PATCH" else None
        response = other_shop.call(method, path + suffix, body)
        assert response.status_code == 404, (method, suffix)
    # their own endpoint with our delivery id: still 404
    mixed = other_shop.call("GET", f"/webhook-endpoints/{theirs['id']}/deliveries/{delivery_id}")
    assert mixed.status_code == 404
    assert [
        e["id"] for e in other_shop.call("GET", "/webhook-endpoints").json["webhook_endpoints"]
    ] == [theirs["id"]]
    assert shop.call("GET", path).json["active"] is True  # untouched
