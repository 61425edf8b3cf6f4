"""`@shopify_app_proxy`: a view reached through Shopify's App Proxy runs only for a request
signed with the app's secret (current or previous), just now, for an installed shop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient
from sqlalchemy import Engine

from connectors.shopify.app_proxy import proxy_signature
from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.services.shops import add_shop, mark_uninstalled
from referral_plugin.settings import Settings
from referral_plugin.web.app_proxy import proxy_request, proxy_shop_id, shopify_app_proxy
from tests.edge.conftest import built_app
from tests.shopify_fake_oauth import APP_SECRET


@pytest.fixture
def app(settings: Settings, engine: Engine) -> Iterator[Flask]:
    for built in built_app(settings):
        pages = Blueprint("proxy_pages_test", __name__)

        @pages.get("/proxy/status")
        @shopify_app_proxy
        def status():  # type: ignore[no-untyped-def]
            proxied = proxy_request()
            return jsonify(shop_id=proxy_shop_id(), customer=proxied.customer_id)

        built.register_blueprint(pages)
        yield built


@pytest.fixture
def shop(app: Flask) -> tuple[int, str]:
    domain = f"proxy-{uuid.uuid4().hex[:10]}.myshopify.com"
    services = app_services(app)
    with services.sessions.begin() as session:
        added = add_shop(
            session,
            platform=Platform.SHOPIFY,
            domain=domain,
            currency="USD",
            credentials={"access_token": "shpat_x"},
            box=services.box,
            now=datetime.now(tz=UTC),
        )
        return added.id, domain


def proxied(client: FlaskClient, domain: str, secret: str = APP_SECRET, **extra: str):  # type: ignore[no-untyped-def]
    query = {
        "shop": domain,
        "logged_in_customer_id": "7",
        "path_prefix": "/apps/referrals",
        "timestamp": str(int(datetime.now(tz=UTC).timestamp())),
        **extra,
    }
    query["signature"] = proxy_signature(query.items(), secret)
    return client.get(f"/proxy/status?{urlencode(query)}")


def test_a_signed_request_reaches_the_view(app: Flask, shop: tuple[int, str]) -> None:
    answer = proxied(app.test_client(), shop[1])
    assert answer.status_code == 200
    assert answer.json == {"shop_id": shop[0], "customer": "7"}
    assert proxied(app.test_client(), shop[1], secret="old-api-secret").status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"secret": "forged"}, id="forged"),
        pytest.param(
            {"timestamp": str(int((datetime.now(tz=UTC) - timedelta(hours=1)).timestamp()))},
            id="replayed",
        ),
    ],
)
def test_an_unsigned_or_old_request_is_refused(
    app: Flask, shop: tuple[int, str], change: dict[str, str]
) -> None:
    answer = proxied(app.test_client(), shop[1], **change)
    assert answer.status_code == 401 and "App Proxy" in answer.json["message"]
    plain = app.test_client().get(f"/proxy/status?shop={shop[1]}")
    assert plain.status_code == 401


def test_a_shop_without_the_app_gets_404(app: Flask, shop: tuple[int, str]) -> None:
    assert proxied(app.test_client(), "never-installed.myshopify.com").status_code == 404
    services = app_services(app)
    with services.sessions.begin() as session:
        mark_uninstalled(session, shop[0], now=datetime.now(tz=UTC))
    assert proxied(app.test_client(), shop[1]).status_code == 404
