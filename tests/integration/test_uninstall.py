"""`app/uninstalled`: credentials dropped at once, and an uninstall that happened before the
shop's current install (a late retry, a replay) never uninstalls the reinstalled shop.

The install helper keeps `installed_at` in the shop's sealed credentials on every (re)install;
the handler reads it with the SecretBox that `EventContext.box` carries.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.registry import CONNECTORS
from connectors.signatures import sign_body
from referral_plugin.app import AppServices, app_services, create_app
from referral_plugin.crypto import SecretBox
from referral_plugin.domain.events import Platform, ShopUninstalled
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.models import Shop, ShopStatus, WebhookDelivery
from referral_plugin.services.event_handlers import EventContext, handle_shop_uninstalled
from referral_plugin.services.inbox_admin import replay_deliveries
from referral_plugin.services.shops import add_shop, shop_credentials
from referral_plugin.settings import Settings
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import APP_SECRET, own_database
from tests.integration.builders import BOX, CODE_KEY
from tests.unit.connector_fixtures import raw

INSTALLED = datetime(2026, 11, 1, 9, tzinfo=UTC)
UNINSTALLED = datetime(2026, 11, 10, 9, tzinfo=UTC)
REINSTALLED = datetime(2026, 11, 12, 9, tzinfo=UTC)
BODY = raw("shopify", "app_uninstalled__docs_sample")


def install(session: Session, domain: str, at: datetime, box: SecretBox = BOX) -> Shop:
    """Install (or reinstall) the shop as the install flow does: installed_at in the credentials."""
    return add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=domain,
        currency="USD",
        credentials={"access_token": f"shpat_{at:%d}", "installed_at": at.isoformat()},
        box=box,
        now=at,
    )


def uninstall(session: Session, shop: Shop, occurred_at: datetime) -> None:
    """The handler, exactly as the worker calls it, with the SecretBox in the context."""
    context = EventContext(
        shop_id=shop.id, shop_domain=shop.domain, now=occurred_at, code_key=CODE_KEY, box=BOX
    )
    event = ShopUninstalled(platform=Platform.SHOPIFY, shop=shop.domain, occurred_at=occurred_at)
    handle_shop_uninstalled(session, context, event)
    session.flush()
    session.refresh(shop)


def domain() -> str:
    return f"uninstall-{uuid.uuid4().hex[:10]}.myshopify.com"


# --- the handler ------------------------------------------------------------------------------


def test_an_uninstall_drops_the_credentials_at_once(session: Session) -> None:
    shop = install(session, domain(), INSTALLED)

    uninstall(session, shop, UNINSTALLED)

    assert (shop.status, shop.credentials, shop.uninstalled_at) == (
        ShopStatus.UNINSTALLED,
        None,
        UNINSTALLED,
    )
    uninstall(session, shop, UNINSTALLED + timedelta(hours=1))  # the same uninstall again
    assert (shop.status, shop.uninstalled_at) == (ShopStatus.UNINSTALLED, UNINSTALLED)


def test_an_uninstall_from_before_the_reinstall_is_ignored(session: Session) -> None:
    shop = install(session, domain(), INSTALLED)
    uninstall(session, shop, UNINSTALLED)
    install(session, shop.domain, REINSTALLED)

    uninstall(session, shop, UNINSTALLED)  # the old one, replayed

    assert (shop.status, shop.uninstalled_at) == (ShopStatus.ACTIVE, None)
    assert shop_credentials(shop, BOX)["installed_at"] == REINSTALLED.isoformat()


def test_an_uninstall_after_the_reinstall_counts(session: Session) -> None:
    shop = install(session, domain(), INSTALLED)
    install(session, shop.domain, REINSTALLED)

    uninstall(session, shop, REINSTALLED + timedelta(minutes=5))

    assert (shop.status, shop.credentials) == (ShopStatus.UNINSTALLED, None)


def test_without_a_readable_install_time_every_uninstall_counts(session: Session) -> None:
    shop = add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=domain(),
        currency="USD",
        credentials={"access_token": "shpat_legacy"},  # installed before installed_at existed
        box=BOX,
        now=REINSTALLED,
    )

    uninstall(session, shop, UNINSTALLED)

    assert shop.status is ShopStatus.UNINSTALLED


# --- through the webhook edge and the worker --------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder: Path = tmp_path_factory.mktemp("uninstall")
    with own_database(folder) as url:
        settings = Settings(
            database_url=url,
            secret_key="uninstall-test-secret",
            encryption_key=TEST_ENCRYPTION_KEY,
            environment="test",
            instance_path=folder / "instance",
            shopify_api_secret=APP_SECRET,
        )
        flask_app = create_app(settings)
        yield flask_app
        app_services(flask_app).engine.dispose()


@pytest.fixture
def services(app: Flask) -> AppServices:
    return app_services(app)


def post_uninstall(client: FlaskClient, shop_domain: str, triggered_at: datetime) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "app/uninstalled",
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Hmac-Sha256": sign_body(BODY, APP_SECRET),
        "X-Shopify-Event-Id": uuid.uuid4().hex,
        "X-Shopify-Triggered-At": triggered_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "X-Shopify-API-Version": "2026-01",
    }
    return client.post("/webhooks/shopify", data=BODY, headers=headers).status_code


def drain(services: AppServices) -> int:
    clock = lambda: datetime.now(tz=UTC)  # noqa: E731 - the edge stamps with the real clock
    stop = threading.Event()
    return drain_inbox(services, worker="test", stop=stop, clock=clock, connectors=CONNECTORS)


def installed(services: AppServices, at: datetime, name: str | None = None) -> str:
    with services.sessions.begin() as session:
        return install(session, name or domain(), at, box=services.box).domain


def shop_state(services: AppServices, shop_domain: str) -> tuple[ShopStatus, bool]:
    with services.sessions.begin() as session:
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        return shop.status, shop.credentials is not None


def test_a_signed_uninstall_uninstalls_the_shop_and_drops_its_token(
    app: Flask, services: AppServices
) -> None:
    shop_domain = installed(services, INSTALLED)

    assert post_uninstall(app.test_client(), shop_domain, UNINSTALLED) == 200
    assert drain(services) == 1

    assert shop_state(services, shop_domain) == (ShopStatus.UNINSTALLED, False)


def test_an_old_uninstall_processed_after_a_reinstall_is_ignored(
    app: Flask, services: AppServices
) -> None:
    shop_domain = installed(services, INSTALLED)
    post_uninstall(app.test_client(), shop_domain, UNINSTALLED)
    installed(services, REINSTALLED, shop_domain)  # reinstalled before the worker ran

    drain(services)

    assert shop_state(services, shop_domain) == (ShopStatus.ACTIVE, True)


def test_replaying_an_old_uninstall_never_uninstalls_the_reinstalled_shop(
    app: Flask, services: AppServices
) -> None:
    shop_domain = installed(services, INSTALLED)
    post_uninstall(app.test_client(), shop_domain, UNINSTALLED)
    drain(services)
    installed(services, REINSTALLED, shop_domain)
    with services.sessions.begin() as session:
        shop = session.scalars(select(Shop).where(Shop.domain == shop_domain)).one()
        done = list(
            session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.shop_id == shop.id))
        )
        assert replay_deliveries(session, ids=done, now=datetime.now(tz=UTC)) == 1

    assert drain(services) == 1

    assert shop_state(services, shop_domain) == (ShopStatus.ACTIVE, True)
