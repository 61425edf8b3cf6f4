"""Installing a Shopify shop through the routes, against a local Shopify that follows the OAuth
contract (tests/shopify_fake_oauth.py): the authorization code grant with its signed query,
state cookie and single-use code; the embedded install by token exchange; the admin API with a
session token. Every bad request gets a 4xx page that says what to do, never a 500."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import ShopStatus
from referral_plugin.services.shops import find_shop, shop_credentials
from referral_plugin.settings import Settings
from referral_plugin.web.shopify_install import STATE_COOKIE
from tests.edge.conftest import built_app
from tests.shopify_fake import FakeShopify, admin_schema, origin_of, serving
from tests.shopify_fake_oauth import (
    APP_SECRET,
    TOKEN_EXCHANGE,
    FakeShopifyOAuth,
    session_token,
    sign_query,
)

HOST = "referrals.example.test"
BASE = f"https://{HOST}"
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture(scope="module", autouse=True)
def _schema_built_once() -> None:
    admin_schema()


@pytest.fixture
def fake() -> FakeShopify:
    return FakeShopify(oauth=FakeShopifyOAuth(shop=f"shop-{uuid.uuid4().hex[:10]}.myshopify.com"))


@pytest.fixture
def shop(fake: FakeShopify) -> str:
    return fake.oauth.shop


@pytest.fixture
def origin(fake: FakeShopify) -> Iterator[str]:
    with serving(fake) as url:
        yield origin_of(url)


@pytest.fixture
def app(settings: Settings, engine: Engine, origin: str) -> Iterator[Flask]:
    yield from built_app(dataclasses.replace(settings, shopify_shop_origin=origin))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def get(client: FlaskClient, url: str):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", base_url=BASE)


def start(client: FlaskClient, shop: str) -> str:
    """Open the install URL as a merchant would; returns Shopify's authorize URL."""
    answer = get(client, f"/shopify/install?shop={shop}")
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def signed_url(path: str, secret: str = APP_SECRET, **params: str) -> str:
    values = {"timestamp": str(int(datetime.now(tz=UTC).timestamp())), **params}
    return f"{path}?{urlencode({**values, 'hmac': sign_query(values, secret)})}"


def stored(app: Flask, shop: str) -> tuple[object, dict[str, str]]:
    services = app_services(app)
    with services.sessions.begin() as session:
        found = find_shop(session, Platform.SHOPIFY, shop)
        assert found is not None
        return found, shop_credentials(found, services.box)


def test_install_redirects_to_shopify_with_a_state_cookie(
    client: FlaskClient, shop: str, origin: str, settings: Settings
) -> None:
    answer = get(client, f"/shopify/install?shop={shop}")

    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{origin}/admin/oauth/authorize"
    )
    query = dict(parse_qsl(location.query))
    assert query["client_id"] == settings.shopify_api_key
    assert query["scope"] == settings.shopify_scopes
    assert query["redirect_uri"] == f"{settings.public_base_url}/shopify/callback"
    assert len(query["state"]) == 64 and "grant_options[]" not in query
    cookie = answer.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/shopify/callback"):
        assert attribute in cookie
    assert "Max-Age=300" in cookie and query["state"] not in cookie  # signed, not plain


def test_the_authorization_code_grant_installs_the_shop(
    app: Flask, client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    callback = fake.oauth.approve(start(client, shop))
    before = datetime.now(tz=UTC)

    answer = get(client, callback)

    assert answer.status_code == 200, answer.text
    assert "installed" in answer.text and shop in answer.text
    assert f"{STATE_COOKIE}=;" in answer.headers["Set-Cookie"]  # the nonce is spent
    found, credentials = stored(app, shop)
    assert (found.status, found.currency, found.name, found.email) == (  # type: ignore[attr-defined]
        ShopStatus.ACTIVE,
        "EUR",
        "Demo Store",
        "owner@demo-store.example",
    )
    assert fake.oauth.grants == ["authorization_code"]
    assert fake.oauth.access_token_valid(credentials["access_token"])
    assert credentials["refresh_token"] in fake.oauth.refresh_tokens
    assert credentials["scope"] == fake.oauth.scopes
    expires_at = datetime.fromisoformat(credentials["expires_at"])
    assert before + timedelta(seconds=3590) < expires_at < before + timedelta(seconds=3610)
    assert datetime.fromisoformat(credentials["installed_at"]) >= before
    assert "refresh_token_expires_at" in credentials
    assert credentials["access_token"] not in (found.credentials or "")  # type: ignore[attr-defined]


def test_a_code_is_used_once(client: FlaskClient, fake: FakeShopify, shop: str) -> None:
    callback = fake.oauth.approve(start(client, shop))
    cookie = client.get_cookie(STATE_COOKIE, domain=HOST, path="/shopify/callback")
    assert cookie is not None
    assert get(client, callback).status_code == 200
    client.set_cookie(STATE_COOKIE, cookie.value, domain=HOST, path="/shopify/callback")

    replay = get(client, callback)

    assert replay.status_code == 400
    assert "refused the token request (invalid_request)" in replay.text
    assert "Start the install again" in replay.text


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        pytest.param({"code": "other"}, "hmac does not match", id="tampered code"),
        pytest.param({"hmac": "00" * 32}, "hmac does not match", id="forged hmac"),
        pytest.param({"shop": "evil.example.com"}, "myshopify.com domain", id="bad shop"),
    ],
)
def test_a_tampered_callback_is_refused(
    client: FlaskClient, fake: FakeShopify, shop: str, tamper: dict[str, str], message: str
) -> None:
    answer = get(client, fake.oauth.approve(start(client, shop), tamper=tamper))
    assert answer.status_code == 400 and message in answer.text
    assert fake.oauth.grants == []


def test_a_state_that_is_not_this_browsers_is_refused(
    client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    authorize = start(client, shop)
    forged = authorize.replace("state=", "state=0" * 1, 1)  # Shopify signs the state it got
    answer = get(client, fake.oauth.approve(forged))
    assert answer.status_code == 400 and "state does not match" in answer.text


def test_a_callback_in_another_browser_is_refused(app: Flask, fake: FakeShopify, shop: str) -> None:
    callback = fake.oauth.approve(start(app.test_client(), shop))
    answer = get(app.test_client(), callback)
    assert answer.status_code == 400 and "another browser" in answer.text


def test_a_callback_for_another_shop_is_refused(client: FlaskClient, shop: str) -> None:
    state = dict(parse_qsl(urlsplit(start(client, shop)).query))["state"]
    url = signed_url("/shopify/callback", code="c", shop="other.myshopify.com", state=state)
    answer = get(client, url)
    assert answer.status_code == 400 and "another shop" in answer.text


def test_an_old_signed_query_is_refused(client: FlaskClient, shop: str) -> None:
    old = str(int((datetime.now(tz=UTC) - timedelta(minutes=5)).timestamp()))
    answer = get(client, signed_url("/shopify/install", shop=shop, timestamp=old))
    assert answer.status_code == 400 and "too old" in answer.text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "shop=",
        "shop=evil.example.com",
        "shop=a.myshopify.com.evil.com",
        "shop=-a.myshopify.com",
    ],
)
def test_a_bad_shop_parameter_is_refused(client: FlaskClient, query: str) -> None:
    answer = get(client, f"/shopify/install?{query}")
    assert answer.status_code == 400
    assert "your-store.myshopify.com" in answer.text and "Shopify App Store" in answer.text


def test_without_the_app_credentials_the_install_says_what_to_set(
    settings: Settings, engine: Engine, shop: str
) -> None:
    for app in built_app(dataclasses.replace(settings, shopify_api_key=None)):
        answer = get(app.test_client(), f"/shopify/install?shop={shop}")
        assert answer.status_code == 503 and "SHOPIFY_API_KEY" in answer.text


def test_shopify_unreachable_answers_502(
    settings: Settings, engine: Engine, fake: FakeShopify, shop: str
) -> None:
    gone = dataclasses.replace(settings, shopify_shop_origin="http://127.0.0.1:9")
    for app in built_app(gone):
        client = app.test_client()
        answer = get(client, fake.oauth.approve(start(client, shop)))
        assert answer.status_code == 502 and "did not answer" in answer.text


def test_an_installed_shop_opening_the_app_url_sees_the_app(
    app: Flask, client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    get(client, fake.oauth.approve(start(client, shop)))

    answer = get(client, signed_url("/shopify/install", shop=shop))

    assert answer.status_code == 200 and "installed" in answer.text
    assert fake.oauth.grants == ["authorization_code"]  # no second grant


def test_embedded_install_exchanges_the_session_token(
    app: Flask, client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    url = signed_url("/shopify/install", shop=shop, embedded="1", id_token=session_token(shop))

    answer = get(client, url)

    assert answer.status_code == 200, answer.text
    assert fake.oauth.grants == [TOKEN_EXCHANGE]
    _, credentials = stored(app, shop)
    assert fake.oauth.access_token_valid(credentials["access_token"])
    assert credentials["refresh_token"] in fake.oauth.refresh_tokens
    get(client, signed_url("/shopify/install", shop=shop, id_token=session_token(shop)))
    assert fake.oauth.grants == [TOKEN_EXCHANGE]  # installed: no exchange on every load


def test_embedded_install_refuses_a_token_of_another_shop(
    client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    other = session_token("other-shop.myshopify.com")
    answer = get(client, signed_url("/shopify/install", shop=shop, id_token=other))
    assert answer.status_code == 401 and "another shop" in answer.text
    unsigned = get(client, f"/shopify/install?shop={shop}&id_token={session_token(shop)}")
    assert unsigned.status_code == 400 and "signed by Shopify" in unsigned.text
    assert fake.oauth.grants == []


def test_the_frontend_installs_with_a_bearer_session_token(
    client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    forged = client.post(
        "/shopify/token-exchange",
        headers={"Authorization": f"Bearer {session_token(shop, secret='forged-secret')}"},
    )
    assert forged.status_code == 401 and forged.json["error"] == "unauthorized"
    assert client.post("/shopify/token-exchange").status_code == 401

    answer = client.post(
        "/shopify/token-exchange", headers={"Authorization": f"Bearer {session_token(shop)}"}
    )

    assert answer.status_code == 200 and answer.json == {"shop": shop, "installed": True}
    assert fake.oauth.grants == [TOKEN_EXCHANGE]


def test_the_admin_api_accepts_the_session_token_of_an_installed_shop(
    client: FlaskClient, fake: FakeShopify, shop: str
) -> None:
    def programs(token: str):  # type: ignore[no-untyped-def]
        return client.get("/api/v1/programs", headers={"Authorization": f"Bearer {token}"})

    not_installed = programs(session_token(shop))
    assert not_installed.status_code == 401 and "has not installed" in not_installed.json["message"]
    client.post(
        "/shopify/token-exchange", headers={"Authorization": f"Bearer {session_token(shop)}"}
    )

    assert programs(session_token(shop)).status_code == 200
    assert programs(session_token(shop, secret="old-api-secret")).status_code == 200  # rotation
    forged = programs(session_token(shop, secret="forged-secret"))
    assert forged.status_code == 401 and "session token is not valid" in forged.json["message"]
    expired = programs(session_token(shop, now=datetime.now(tz=UTC) - timedelta(minutes=5)))
    assert expired.status_code == 401
    assert programs("rp_not-a-token").status_code == 401
