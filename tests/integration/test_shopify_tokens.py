"""Expiring offline tokens: refreshed before expiry where store clients are built, once per
shop even with two workers at the same moment, the whole answer sealed; a revoked or expired
refresh token marks the shop so calls stop (StoreUnavailable), and Shopify being down never
costs a working token. Against the local Shopify (tests/shopify_fake_oauth.py), on committed
rows of the session's database (SQLite or PostgreSQL)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.registry import STORE_CLIENT_FACTORIES
from connectors.shopify.oauth import TokenEndpoint, shop_origin
from connectors.shopify.store_client import ShopifyStoreClient
from referral_plugin.app import AppServices, build_services
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreUnavailable
from referral_plugin.models import Shop
from referral_plugin.services.shops import shop_credentials
from referral_plugin.settings import Settings
from referral_plugin.shopify_tokens import (
    ShopDetails,
    admin_graphql,
    fresh_credentials,
    save_installation,
)
from referral_plugin.store_clients import store_client_for
from tests.shopify_fake import FakeShopify, admin_schema, origin_of, serving
from tests.shopify_fake_oauth import (
    APP_KEY,
    APP_SECRET,
    TOKEN_EXCHANGE,
    FakeShopifyOAuth,
    WallClock,
    session_token,
)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@pytest.fixture(scope="module", autouse=True)
def _schema_built_once() -> None:
    admin_schema()


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def fake(clock: WallClock) -> FakeShopify:
    shop = f"tokens-{uuid.uuid4().hex[:10]}.myshopify.com"
    return FakeShopify(oauth=FakeShopifyOAuth(shop=shop, wall=clock))


@pytest.fixture
def origin(fake: FakeShopify) -> Iterator[str]:
    with serving(fake) as url:
        yield origin_of(url)


@pytest.fixture
def services(settings: Settings, engine: Engine, origin: str) -> Iterator[AppServices]:
    built = build_services(dataclasses.replace(settings, shopify_shop_origin=origin))
    yield built
    built.engine.dispose()


@pytest.fixture(autouse=True)
def shopify_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's Shopify client, pointed at SHOPIFY_SHOP_ORIGIN like the install is."""

    def factory(domain: str, credentials: dict[str, str], settings: Settings) -> Any:
        graphql = admin_graphql(settings, domain, credentials["access_token"])
        return ShopifyStoreClient(graphql, shop_domain=domain)

    monkeypatch.setitem(STORE_CLIENT_FACTORIES, Platform.SHOPIFY, factory)


def installed(services: AppServices, fake: FakeShopify, clock: WallClock) -> int:
    """Install the fake's shop by token exchange (the real endpoint client); its id."""
    origin = shop_origin(services.settings.shopify_shop_origin, fake.oauth.shop)
    grant = TokenEndpoint(APP_KEY, APP_SECRET).exchange_session_token(
        origin, session_token(fake.oauth.shop), now=clock()
    )
    with services.sessions.begin() as session:
        shop = save_installation(
            session,
            services,
            shop=fake.oauth.shop,
            grant=grant,
            details=ShopDetails(currency="EUR", name=None, email=None),
            now=clock(),
        )
        return shop.id


def client_call(services: AppServices, shop_id: int, clock: WallClock) -> dict[str, str]:
    """What a store job does: build the shop's client in the shop's transaction and call the
    store; a StoreUnavailable is recorded and the transaction commits (the issue job's way),
    then it is raised here. Returns the credentials stored afterwards."""
    unavailable: StoreUnavailable | None = None
    with services.sessions.begin() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        try:
            client = store_client_for(shop, services, clock=clock)
        except StoreUnavailable as exc:
            unavailable = exc
        else:
            assert client.find_discount("NO-SUCH-CODE") is None  # the token works
    if unavailable is not None:
        raise unavailable
    return stored(services, shop_id)


def stored(services: AppServices, shop_id: int) -> dict[str, str]:
    with services.sessions.begin() as session:
        shop = session.get(Shop, shop_id)
        assert shop is not None
        return shop_credentials(shop, services.box)


def test_a_fresh_token_is_used_as_it_is(
    services: AppServices, fake: FakeShopify, clock: WallClock
) -> None:
    shop_id = installed(services, fake, clock)
    before = stored(services, shop_id)
    clock.advance(minutes=54)

    assert client_call(services, shop_id, clock) == before
    assert fake.oauth.grants == [TOKEN_EXCHANGE]


def test_a_token_near_expiry_is_refreshed_and_the_answer_sealed(
    services: AppServices, fake: FakeShopify, clock: WallClock
) -> None:
    shop_id = installed(services, fake, clock)
    before = stored(services, shop_id)
    clock.advance(minutes=56)  # 4 minutes left: inside the 5-minute margin

    after = client_call(services, shop_id, clock)

    assert fake.oauth.grants == [TOKEN_EXCHANGE, "refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # rotated
    assert after["installed_at"] == before["installed_at"]
    assert after["expires_at"] == (clock() + fake_ttl(fake)).isoformat()
    assert before["refresh_token"] not in fake.oauth.refresh_tokens  # retired once used
    clock.advance(minutes=30)
    assert client_call(services, shop_id, clock)["access_token"] == after["access_token"]
    assert fake.oauth.grants.count("refresh_token") == 1


def fake_ttl(fake: FakeShopify) -> timedelta:
    return timedelta(seconds=fake.oauth.access_ttl)


def test_two_workers_refresh_once(
    services: AppServices, fake: FakeShopify, clock: WallClock
) -> None:
    shop_id = installed(services, fake, clock)
    clock.advance(minutes=58)
    fake.oauth.answer_delay = 0.5  # the first refresh is still running when the second asks
    warm = [services.engine.connect() for _ in range(4)]  # no connection set-up in the race
    for connection in warm:
        connection.close()
    start = threading.Barrier(2)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            with services.sessions.begin() as session:
                shop = session.get(Shop, shop_id)
                assert shop is not None
                tokens.append(fresh_credentials(shop, services, now=clock())["access_token"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert fake.oauth.grants.count("refresh_token") == 1
    assert len(set(tokens)) == 1 and tokens[0] == stored(services, shop_id)["access_token"]


@pytest.mark.parametrize(
    "kill",
    [
        pytest.param(lambda fake: fake.oauth.revoke_all(), id="revoked (401 invalid_request)"),
        pytest.param(
            lambda fake: setattr(fake.oauth, "refresh_ttl", 60), id="expired (400 invalid_grant)"
        ),
    ],
)
def test_a_dead_refresh_token_marks_the_shop_and_calls_stop(
    services: AppServices, fake: FakeShopify, clock: WallClock, kill: Any
) -> None:
    kill(fake)  # before the install: the refresh token it gets lives 60 s
    shop_id = installed(services, fake, clock)
    kill(fake)
    clock.advance(minutes=61)

    with pytest.raises(StoreUnavailable, match="revoked"):
        client_call(services, shop_id, clock)

    credentials = stored(services, shop_id)
    assert set(credentials) == {"installed_at", "revoked_at", "revoked_reason"}
    asked = len(fake.oauth.grants)
    with pytest.raises(StoreUnavailable, match="open the app"):
        client_call(services, shop_id, clock)
    assert len(fake.oauth.grants) == asked  # no crash loop against Shopify


def test_shopify_down_keeps_a_working_token_and_waits_with_an_expired_one(
    services: AppServices, fake: FakeShopify, clock: WallClock, settings: Settings
) -> None:
    shop_id = installed(services, fake, clock)
    before = stored(services, shop_id)
    down = dataclasses.replace(
        services,
        settings=dataclasses.replace(services.settings, shopify_shop_origin="http://127.0.0.1:9"),
    )
    clock.advance(minutes=57)
    with services.sessions.begin() as session:
        shop = session.get(Shop, shop_id)
        assert fresh_credentials(shop, down, now=clock()) == before  # type: ignore[arg-type]

        clock.advance(minutes=5)  # now expired
        with pytest.raises(StoreUnavailable, match="for now"):
            fresh_credentials(shop, down, now=clock())  # type: ignore[arg-type]
    assert stored(services, shop_id) == before  # not marked: the next run tries again


def test_a_wrong_client_secret_is_not_blamed_on_the_shop(
    services: AppServices, fake: FakeShopify, clock: WallClock
) -> None:
    shop_id = installed(services, fake, clock)
    before = stored(services, shop_id)
    wrong = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, shopify_api_secret="wrong")
    )
    clock.advance(minutes=61)

    with pytest.raises(StoreUnavailable, match="SHOPIFY_API_SECRET"):
        client_call(wrong, shop_id, clock)
    assert stored(services, shop_id) == before


def test_tokens_never_reach_the_logs(
    services: AppServices,
    fake: FakeShopify,
    clock: WallClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        shop_id = installed(services, fake, clock)
        clock.advance(minutes=58)
        credentials = client_call(services, shop_id, clock)
        fake.oauth.revoke_all()
        clock.advance(hours=2)
        with pytest.raises(StoreUnavailable):
            client_call(services, shop_id, clock)
    assert "shopify token refreshed" in caplog.text and "shopify token revoked" in caplog.text
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    assert credentials["access_token"] not in logged
    assert credentials["refresh_token"] not in logged
    assert "shprt_" not in logged and "shpat_" not in logged
