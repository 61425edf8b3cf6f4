"""The webhook edge, driven with payloads signed for real: every row of DESIGN §6's table."""

from __future__ import annotations

import dataclasses
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from connectors.signatures import sign_body
from referral_plugin.app import app_services, create_app
from referral_plugin.domain.events import Platform
from referral_plugin.models import WebhookDelivery
from referral_plugin.services import shops
from referral_plugin.services.inbox import store_delivery
from referral_plugin.settings import Settings
from webhooks.edge import ENGINE_KEY

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
APP_SECRET = "test-api-secret-long-enough-for-hs256"  # the `settings` fixture's shopify_api_secret
ORDER_BODY = (
    Path(__file__).parent.parent / "fixtures/shopify/orders_create__docs_sample.json"
).read_bytes()
WOO_BODY = (
    Path(__file__).parent.parent / "fixtures/woocommerce/order_updated__docs_sample.json"
).read_bytes()


def add_shop(app: Flask, platform: Platform, domain: str, credentials: dict[str, str]) -> int:
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = shops.add_shop(
            session,
            platform=platform,
            domain=domain,
            currency="USD",
            credentials=credentials,
            box=services.box,
            now=NOW,
        )
        return shop.id


@pytest.fixture
def shopify_shop(app: Flask) -> tuple[int, str]:
    domain = f"edge-{uuid.uuid4().hex[:10]}.myshopify.com"
    return add_shop(app, Platform.SHOPIFY, domain, {"access_token": "shpat_x"}), domain


@pytest.fixture
def woo_shop(app: Flask) -> tuple[int, str, str]:
    url = f"https://woo-{uuid.uuid4().hex[:10]}.example.com"
    secret = uuid.uuid4().hex
    credentials = {"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": secret}
    return add_shop(app, Platform.WOOCOMMERCE, url, credentials), url, secret


def shopify_headers(
    domain: str,
    body: bytes,
    *,
    secret: str = APP_SECRET,
    topic: str = "orders/paid",
    event_id: str = "evt-1",
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Hmac-Sha256": sign_body(body, secret),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-11-20T12:00:00.000000Z",
        "X-Shopify-API-Version": "2026-01",
    }


def woo_headers(url: str, body: bytes, secret: str, topic: str = "order.updated") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/8.9.0 Hookshot (WordPress/6.5)",
        "X-WC-Webhook-Source": f"{url}/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign_body(body, secret),
        "X-WC-Webhook-ID": "41",
        "X-WC-Webhook-Delivery-ID": "5f0e0bd3c1b2a4",
    }


def stored(app: Flask, shop_id: int) -> list[WebhookDelivery]:
    with app_services(app).sessions.begin() as session:
        return list(
            session.scalars(select(WebhookDelivery).where(WebhookDelivery.shop_id == shop_id))
        )


def test_an_authentic_shopify_delivery_is_stored_raw_and_acknowledged(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    answer = client.post(
        "/webhooks/shopify", data=ORDER_BODY, headers=shopify_headers(domain, ORDER_BODY)
    )
    assert answer.status_code == 200
    (delivery,) = stored(app, shop_id)
    assert delivery.body == ORDER_BODY  # byte for byte: the worker parses, not the edge
    assert (delivery.topic, delivery.dedup_key) == ("orders/paid", "orders/paid:evt-1")
    assert delivery.headers["X-Shopify-Event-Id"] == "evt-1"
    assert "X-Shopify-Hmac-Sha256" in delivery.headers


def test_the_edge_writes_the_row_the_services_insert_writes(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    """The edge runs the inbox insert on the driver (`inbox.DriverConnection`): the same SQL
    and bind processing as through a SQLAlchemy session, column for column, on either engine."""
    shop_id, domain = shopify_shop
    headers = shopify_headers(domain, ORDER_BODY)
    before = datetime.now(tz=UTC)
    assert client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code == 200
    (by_edge,) = stored(app, shop_id)
    with app_services(app).sessions.begin() as session:
        _, created = store_delivery(
            session, platform=Platform.SHOPIFY, shop_id=shop_id, topic=by_edge.topic,
            dedup_key="by-the-services", webhook_id=by_edge.webhook_id, headers=by_edge.headers,
            body=ORDER_BODY, now=by_edge.received_at,
        )  # fmt: skip
    assert created
    by_services = next(row for row in stored(app, shop_id) if row.id != by_edge.id)
    columns = [c.key for c in WebhookDelivery.__table__.columns if c.key not in ("id", "dedup_key")]
    assert {c: getattr(by_edge, c) for c in columns} == {
        c: getattr(by_services, c) for c in columns
    }
    assert by_edge.received_at >= before and by_edge.received_at.tzinfo is not None
    assert by_edge.next_attempt_at == by_edge.received_at
    assert (by_edge.platform, by_edge.status.value, by_edge.attempts) == (
        Platform.SHOPIFY, "pending", 0,
    )  # fmt: skip


def test_the_same_delivery_twice_is_stored_once(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    headers = shopify_headers(domain, ORDER_BODY)
    answers = [client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json["status"] for a in answers] == ["stored", "duplicate"]
    assert len(stored(app, shop_id)) == 1


def test_one_event_on_two_topics_is_two_deliveries(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    for topic in ("orders/paid", "orders/updated"):
        headers = shopify_headers(domain, ORDER_BODY, topic=topic)
        assert client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code == 200
    assert len(stored(app, shop_id)) == 2


def test_ten_concurrent_copies_of_one_delivery_are_stored_once(
    app: Flask, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    headers = shopify_headers(domain, ORDER_BODY, event_id="evt-concurrent")

    def post(_: int) -> int:
        return (
            app.test_client()
            .post("/webhooks/shopify", data=ORDER_BODY, headers=headers)
            .status_code
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(post, range(10)))
    assert codes == [200] * 10
    assert len(stored(app, shop_id)) == 1


def test_the_previous_secret_is_accepted_during_a_rotation(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    headers = shopify_headers(domain, ORDER_BODY, secret="old-api-secret")
    assert client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code == 200
    assert len(stored(app, shop_id)) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="tampered-body"),
        pytest.param(
            lambda h, b: ({**h, "X-Shopify-Hmac-Sha256": sign_body(b, "wrong")}, b),
            id="wrong-secret",
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if "Hmac" not in k}, b), id="no-signature"
        ),
        pytest.param(
            lambda h, b: ({**h, "X-Shopify-Hmac-Sha256": "%%%"}, b), id="garbage-signature"
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if "Domain" not in k}, b), id="no-shop-header"
        ),
        pytest.param(
            lambda h, b: ({**h, "X-Shopify-Shop-Domain": "not a domain"}, b), id="bad-shop-header"
        ),
        pytest.param(
            lambda h, b: ({k: v for k, v in h.items() if "Topic" not in k}, b), id="no-topic"
        ),
    ],
)
def test_forged_or_incomplete_deliveries_get_401_and_nothing_is_stored(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str], forge
) -> None:
    shop_id, domain = shopify_shop
    headers, body = forge(shopify_headers(domain, ORDER_BODY), ORDER_BODY)
    answer = client.post("/webhooks/shopify", data=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json["error"] == "unauthorized"
    assert stored(app, shop_id) == []


def count_deliveries(app: Flask) -> int:
    with app_services(app).sessions.begin() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def test_an_unknown_shop_gets_401_even_when_signed(app: Flask, client: FlaskClient) -> None:
    before = count_deliveries(app)
    domain = f"never-installed-{uuid.uuid4().hex[:6]}.myshopify.com"
    headers = shopify_headers(domain, ORDER_BODY)
    assert client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code == 401
    assert count_deliveries(app) == before


@pytest.mark.parametrize("topic", ["customers/data_request", "customers/redact", "shop/redact"])
def test_a_compliance_webhook_for_a_shop_we_hold_nothing_of_is_acknowledged(
    app: Flask, client: FlaskClient, topic: str
) -> None:
    before = count_deliveries(app)
    domain = f"erased-{uuid.uuid4().hex[:6]}.myshopify.com"
    body = b'{"shop_id": 1, "shop_domain": "' + domain.encode() + b'"}'
    answer = client.post(
        "/webhooks/shopify", data=body, headers=shopify_headers(domain, body, topic=topic)
    )
    assert (answer.status_code, answer.json) == (200, {"status": "no_data_held"})
    assert count_deliveries(app) == before
    wrong = shopify_headers(domain, body, topic=topic, secret="not-the-app-secret")
    assert client.post("/webhooks/shopify", data=body, headers=wrong).status_code == 401


def test_a_body_over_the_cap_gets_413_and_is_not_stored(settings: Settings, engine: Engine) -> None:
    app = create_app(dataclasses.replace(settings, webhook_max_body_bytes=1024))
    domain = f"big-{uuid.uuid4().hex[:10]}.myshopify.com"
    shop_id = add_shop(app, Platform.SHOPIFY, domain, {})
    body = b'{"id": 1, "padding": "' + b"x" * 4096 + b'"}'
    answer = app.test_client().post(
        "/webhooks/shopify", data=body, headers=shopify_headers(domain, body)
    )
    assert answer.status_code == 413
    assert stored(app, shop_id) == []
    app_services(app).engine.dispose()


@pytest.mark.parametrize(
    ("body", "content_type", "topic"),
    [
        pytest.param(b"this is not json", "application/json", "orders/paid", id="non-json-body"),
        pytest.param(b'{"id": 5}', "text/plain", "orders/paid", id="wrong-content-type"),
        pytest.param(b'{"id": 5}', "application/json", "products/update", id="ignored-topic"),
        pytest.param(b"", "application/json", "orders/paid", id="empty-body"),
    ],
)
def test_authentic_but_odd_deliveries_are_stored_for_the_worker_to_judge(
    app: Flask,
    client: FlaskClient,
    shopify_shop: tuple[int, str],
    body: bytes,
    content_type: str,
    topic: str,
) -> None:
    shop_id, domain = shopify_shop
    headers = {**shopify_headers(domain, body, topic=topic), "Content-Type": content_type}
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert [d.body for d in stored(app, shop_id)] == [body]


def test_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.get("/webhooks/shopify").status_code == 405


def test_an_authentic_woocommerce_delivery_is_stored_once(
    app: Flask, client: FlaskClient, woo_shop: tuple[int, str, str]
) -> None:
    shop_id, url, secret = woo_shop
    headers = woo_headers(url, WOO_BODY, secret)
    answers = [
        client.post("/webhooks/woocommerce", data=WOO_BODY, headers=headers) for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    (delivery,) = stored(app, shop_id)
    assert delivery.topic == "order.updated"


def test_woocommerce_deliveries_sharing_a_delivery_id_are_kept_apart(
    app: Flask, client: FlaskClient, woo_shop: tuple[int, str, str]
) -> None:
    shop_id, url, secret = woo_shop
    changed = json.dumps({**json.loads(WOO_BODY), "status": "completed"}).encode()
    for body in (WOO_BODY, changed):  # same X-WC-Webhook-Delivery-ID header on both
        assert (
            client.post(
                "/webhooks/woocommerce", data=body, headers=woo_headers(url, body, secret)
            ).status_code
            == 200
        )
    assert len(stored(app, shop_id)) == 2


def test_the_woocommerce_ping_gets_exactly_200(client: FlaskClient) -> None:
    answer = client.post(
        "/webhooks/woocommerce",
        data=b"webhook_id=12",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "WooCommerce/8.9.0 Hookshot",
        },
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(
            lambda h, url: {**h, "X-WC-Webhook-Signature": sign_body(WOO_BODY, "other")},
            id="wrong-secret",
        ),
        pytest.param(
            lambda h, url: {**h, "X-WC-Webhook-Source": "https://unknown.example.com/"},
            id="unknown-store",
        ),
        pytest.param(
            lambda h, url: {k: v for k, v in h.items() if k != "X-WC-Webhook-Signature"},
            id="unsigned",
        ),
    ],
)
def test_forged_woocommerce_deliveries_get_401(
    app: Flask, client: FlaskClient, woo_shop: tuple[int, str, str], forge
) -> None:
    shop_id, url, secret = woo_shop
    headers = forge(woo_headers(url, WOO_BODY, secret), url)
    assert client.post("/webhooks/woocommerce", data=WOO_BODY, headers=headers).status_code == 401
    assert stored(app, shop_id) == []


def test_a_store_without_a_webhook_secret_accepts_nothing(app: Flask, client: FlaskClient) -> None:
    url = f"https://nosecret-{uuid.uuid4().hex[:8]}.example.com"
    shop_id = add_shop(
        app, Platform.WOOCOMMERCE, url, {"consumer_key": "ck", "consumer_secret": "cs"}
    )
    headers = woo_headers(url, WOO_BODY, "")
    assert client.post("/webhooks/woocommerce", data=WOO_BODY, headers=headers).status_code == 401
    assert stored(app, shop_id) == []


def test_an_unavailable_database_answers_503_so_the_platform_retries(
    settings: Settings, tmp_path: Path
) -> None:
    unopenable = tmp_path / "a-directory.db"
    unopenable.mkdir()
    app = create_app(dataclasses.replace(settings, database_url=f"sqlite:///{unopenable}"))
    domain = "down-store.myshopify.com"
    answer = app.test_client().post(
        "/webhooks/shopify", data=ORDER_BODY, headers=shopify_headers(domain, ORDER_BODY)
    )
    assert answer.status_code == 503
    assert answer.json["error"] == "database_unavailable"


def test_a_rotated_woocommerce_secret_is_picked_up_at_once(
    app: Flask, client: FlaskClient, woo_shop: tuple[int, str, str]
) -> None:
    shop_id, url, old_secret = woo_shop
    first = client.post(
        "/webhooks/woocommerce", data=WOO_BODY, headers=woo_headers(url, WOO_BODY, old_secret)
    )
    assert first.status_code == 200  # the shop and its old secret are now cached
    new_secret = uuid.uuid4().hex
    add_shop(
        app,
        Platform.WOOCOMMERCE,
        url,
        {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": new_secret},
    )
    changed = json.dumps({**json.loads(WOO_BODY), "status": "completed"}).encode()
    answer = client.post(
        "/webhooks/woocommerce", data=changed, headers=woo_headers(url, changed, new_secret)
    )
    assert answer.status_code == 200  # WooCommerce never retries: a stale cache must not cost it
    assert len(stored(app, shop_id)) == 2


def test_a_shop_erased_after_it_was_cached_gets_401(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    shop_id, domain = shopify_shop
    body = b'{"id": 1}'
    assert (
        client.post(
            "/webhooks/shopify", data=body, headers=shopify_headers(domain, body)
        ).status_code
        == 200
    )
    with app_services(app).sessions.begin() as session:
        session.execute(
            WebhookDelivery.__table__.delete().where(WebhookDelivery.shop_id == shop_id)
        )
        session.execute(shops.Shop.__table__.delete().where(shops.Shop.id == shop_id))
    headers = shopify_headers(domain, body, event_id="evt-after-erase")
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 401


def test_a_forged_shopify_delivery_is_refused_before_any_database_work(
    settings: Settings, tmp_path: Path
) -> None:
    unopenable = tmp_path / "a-directory.db"
    unopenable.mkdir()
    app = create_app(dataclasses.replace(settings, database_url=f"sqlite:///{unopenable}"))
    headers = shopify_headers("down-store.myshopify.com", ORDER_BODY, secret="forged")
    assert (
        app.test_client().post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code
        == 401
    )


def test_on_sqlite_the_edge_commits_each_delivery_to_disk(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    """The app's SQLite connections run with synchronous=NORMAL; the edge stores through an
    engine of its own with FULL (2): the 200 waits for the disk, and a power loss cannot take
    an acknowledged delivery back."""
    edge = app.extensions[ENGINE_KEY]
    if edge.dialect.name != "sqlite":
        pytest.skip("PostgreSQL commits are durable (synchronous_commit=on)")
    shop_id, domain = shopify_shop
    headers = shopify_headers(domain, ORDER_BODY)
    assert client.post("/webhooks/shopify", data=ORDER_BODY, headers=headers).status_code == 200
    assert edge is not app_services(app).engine
    for engine, synchronous in ((edge, 2), (app_services(app).engine, 1)):  # FULL, NORMAL
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == synchronous
    assert len(stored(app, shop_id)) == 1


def test_a_dead_inbox_connection_is_replaced_and_the_delivery_stored(
    app: Flask, client: FlaskClient, shopify_shop: tuple[int, str]
) -> None:
    """The edge's PostgreSQL pool has no pre-ping (one round trip per delivery): a connection
    that died with its server process is discarded and the insert retried once."""
    engine = app.extensions[ENGINE_KEY]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite connections do not die with a server process")
    engine.dispose()
    with engine.connect() as conn:  # the pool's only connection from now on
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with app_services(app).engine.begin() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    shop_id, domain = shopify_shop

    answer = client.post(
        "/webhooks/shopify", data=ORDER_BODY, headers=shopify_headers(domain, ORDER_BODY)
    )

    assert (answer.status_code, answer.json) == (200, {"status": "stored"})
    assert len(stored(app, shop_id)) == 1
