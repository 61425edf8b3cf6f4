"""The WooCommerce key flow's pages and callback, through the Flask client, with FakeWooCommerce
answering the key checks: the callback answers exactly 200 only once the keys work, the
webhooks exist and the store is saved; every failure is a 4xx/5xx (WooCommerce then deletes
the key) that the merchant's pages explain."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, update

from connectors.woocommerce.webhooks_api import WEBHOOK_SECRET_KEY
from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import ConnectRequest
from referral_plugin.services.shops import find_shop, shop_credentials
from referral_plugin.settings import Settings
from tests.edge.conftest import built_app
from tests.woocommerce_fake import FakeWooCommerce

CALLBACK = "/woocommerce/callback"


@pytest.fixture
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


def csrf(client: FlaskClient) -> str:
    page = client.get("/woocommerce/connect").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def start(client: FlaskClient, store_url: str) -> str:
    """Submit the form; returns the one-time user_id sent to the store."""
    answer = client.post(
        "/woocommerce/connect", data={"csrf_token": csrf(client), "store_url": store_url}
    )
    assert answer.status_code == 303
    return parse_qs(urlsplit(answer.headers["Location"]).query)["user_id"][0]


def grant(store: FakeWooCommerce, user_id: str, permissions: str = "read_write") -> dict:
    key, secret = store.add_key(permissions)
    return {
        "key_id": 1,
        "user_id": user_id,
        "consumer_key": key,
        "consumer_secret": secret,
        "key_permissions": permissions,
    }


def post_keys(client: FlaskClient, body: object):
    return client.post(
        CALLBACK, data=json.dumps(body), content_type="application/json;charset=UTF-8"
    )


def saved(app: Flask, url: str) -> dict[str, str] | None:
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = find_shop(session, Platform.WOOCOMMERCE, url)
        return None if shop is None else shop_credentials(shop, services.box)


# --- the form -------------------------------------------------------------------------------------


def test_the_form_has_a_label_and_a_csrf_token(client: FlaskClient) -> None:
    page = client.get("/woocommerce/connect")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert '<label for="store_url">' in text
    assert 'name="csrf_token"' in text
    assert "https://" not in re.sub(r'(placeholder|value)="[^"]*"', "", text).split("<style>")[0]


def test_a_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    answer = client.post("/woocommerce/connect", data={"store_url": "https://shop.example.com"})

    assert answer.status_code == 400
    assert "The form expired" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("label", "typed", "says"),
    [
        ("empty", "", "nter the store"),
        ("plain http", "http://shop.example.com", "must start with https://"),
        ("not an address", "my shop", "is not a"),
        ("query", "https://shop.example.com/?x=1", "no query"),
    ],
)
def test_a_bad_address_is_answered_422_naming_the_problem(
    label: str, typed: str, says: str, client: FlaskClient
) -> None:
    answer = client.post(
        "/woocommerce/connect", data={"csrf_token": csrf(client), "store_url": typed}
    )

    assert answer.status_code == 422
    assert says in answer.get_data(as_text=True).replace("&#39;", "'")
    assert 'aria-invalid="true"' in answer.get_data(as_text=True)


def test_the_redirect_carries_the_five_parameters_and_an_https_callback(
    client: FlaskClient,
) -> None:
    answer = client.post(
        "/woocommerce/connect",
        data={"csrf_token": csrf(client), "store_url": "Shop.Example.com/"},
    )

    target = urlsplit(answer.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == (
        "https",
        "shop.example.com",
        "/wc-auth/v1/authorize",
    )
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert query["scope"] == "read_write"
    assert query["callback_url"] == "https://referrals.example.test/woocommerce/callback"
    assert query["return_url"] == "https://referrals.example.test/woocommerce/return"
    assert query["app_name"] and len(query["user_id"]) >= 32


def test_with_an_http_public_address_the_page_explains_and_does_not_redirect(
    settings: Settings, engine: Engine
) -> None:
    for app in built_app(dataclasses.replace(settings, public_base_url="http://localhost:8000")):
        client = app.test_client()
        page = client.get("/woocommerce/connect").get_data(as_text=True)
        assert "PUBLIC_BASE_URL" in page and "referral-plugin shop add-woocommerce" in page
        answer = client.post(
            "/woocommerce/connect",
            data={"csrf_token": csrf(client), "store_url": "https://shop.example.com"},
        )
        assert answer.status_code == 503
        assert "Location" not in answer.headers


# --- the callback ---------------------------------------------------------------------------------


def test_good_keys_are_verified_webhooks_created_and_the_store_saved(
    app: Flask, client: FlaskClient, store: FakeWooCommerce
) -> None:
    user_id = start(client, store.url)
    keys = grant(store, user_id)

    answer = post_keys(client, keys)

    assert answer.status_code == 200
    credentials = saved(app, store.url)
    assert credentials["consumer_key"] == keys["consumer_key"]
    hooks = [h for h in store.webhooks.values() if h["name"].startswith("referral-plugin")]
    assert sorted(h["topic"] for h in hooks) == ["order.created", "order.deleted", "order.updated"]
    assert {store.webhook_secrets[h["id"]] for h in hooks} == {credentials[WEBHOOK_SECRET_KEY]}
    back = client.get(f"/woocommerce/return?success=1&user_id={user_id}")
    assert f"{store.url} is connected" in back.get_data(as_text=True)
    # used once: a replay is refused and changes nothing
    assert post_keys(client, grant(store, user_id)).status_code == 409
    assert saved(app, store.url)["consumer_key"] == keys["consumer_key"]


def test_keys_the_store_refuses_are_answered_non_200_and_explained(
    app: Flask, client: FlaskClient, store: FakeWooCommerce
) -> None:
    user_id = start(client, store.url)
    keys = {**grant(store, user_id), "consumer_secret": "cs_not_what_the_store_made"}

    answer = post_keys(client, keys)

    assert answer.status_code == 422
    assert saved(app, store.url) is None
    assert store.webhooks == {}
    page = client.get("/woocommerce/connect").get_data(as_text=True)  # this browser's attempt
    assert "could not be connected" in page
    assert "WooCommerce rejected the API keys" in page
    assert "administrator or shop manager" in page


def test_a_read_only_key_is_refused(
    app: Flask, client: FlaskClient, store: FakeWooCommerce
) -> None:
    user_id = start(client, store.url)

    answer = post_keys(client, grant(store, user_id, permissions="read"))

    assert answer.status_code == 422
    assert answer.get_json()["error"] == "wrong_permissions"
    assert saved(app, store.url) is None
    page = client.get(f"/woocommerce/return?success=1&user_id={user_id}").get_data(as_text=True)
    assert "approve read_write access" in page


def test_a_store_that_does_not_answer_is_a_502(
    app: Flask, client: FlaskClient, store: FakeWooCommerce
) -> None:
    user_id = start(client, store.url)
    store.fail_next(503, times=3)

    answer = post_keys(client, grant(store, user_id))

    assert answer.status_code == 502
    assert saved(app, store.url) is None
    assert "try again in a few minutes" in answer.get_json()["message"]


@pytest.mark.parametrize(
    ("label", "body", "field"),
    [
        ("not json", "{nope", "body"),
        ("no user id", {"consumer_key": "ck_1", "consumer_secret": "cs_1"}, "user_id"),
        ("no secret", {"user_id": "x", "consumer_key": "ck_1"}, "consumer_secret"),
        (
            "odd permission",
            {"user_id": "x", "consumer_key": "ck_1", "consumer_secret": "cs_1",
             "key_permissions": "admin"},
            "key_permissions",
        ),
    ],
)  # fmt: skip
def test_an_unreadable_key_post_is_a_400_naming_the_field(
    label: str, body: object, field: str, client: FlaskClient
) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    answer = client.post(CALLBACK, data=data, content_type="application/json")

    assert answer.status_code == 400
    assert answer.get_json()["errors"][0]["field"] == field


def test_unknown_and_expired_requests_store_nothing(
    app: Flask, client: FlaskClient, store: FakeWooCommerce
) -> None:
    assert post_keys(client, grant(store, "never-issued")).status_code == 404

    user_id = start(client, store.url)
    services = app_services(app)
    with services.sessions.begin() as session:
        session.execute(
            update(ConnectRequest)
            .where(ConnectRequest.store_url == store.url)
            .values(expires_at=datetime.now(tz=UTC) - timedelta(seconds=1))
        )
    assert post_keys(client, grant(store, user_id)).status_code == 410
    assert saved(app, store.url) is None


# --- the return page ------------------------------------------------------------------------------


def test_a_declined_request_says_so(client: FlaskClient, store: FakeWooCommerce) -> None:
    user_id = start(client, store.url)

    page = client.get(f"/woocommerce/return?success=0&user_id={user_id}")

    assert page.status_code == 200
    assert "You declined" in page.get_data(as_text=True)


def test_an_unknown_or_incomplete_return_link(client: FlaskClient) -> None:
    assert client.get("/woocommerce/return?success=1&user_id=nope").status_code == 404
    assert client.get("/woocommerce/return?success=1").status_code == 400
