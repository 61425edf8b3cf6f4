"""POST /webhooks/<platform>: verify the signature on the raw body, store the delivery in the
inbox, commit, answer 200. No business logic here; the worker does the rest.

Answers (DESIGN §6): 401 bad/missing signature or unknown shop (nothing stored); 413 body over
the cap; 200 for every authentic delivery (ignored topics and duplicates included); 503 when
the database is unavailable; 200 for WooCommerce's unsigned ping. One refinement: a Shopify
compliance delivery (signed with the app's secret, so authentic) for a shop we do not hold —
never installed, or already erased by `shop/redact` — is answered 200 with nothing stored: we
hold no data to export or erase, and Shopify requires compliance webhooks to be acknowledged.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from connectors.base import Connector, DeliveryMeta
from connectors.registry import CONNECTORS
from connectors.woocommerce.connector import is_ping
from referral_plugin.app import AppServices, app_services
from referral_plugin.db import make_engine
from referral_plugin.domain.events import Platform
from referral_plugin.services.inbox import DriverConnection, store_delivery

from .shop_directory import KnownShop, ShopDirectory, app_secrets

logger = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)

DIRECTORY_KEY = "webhook_shop_directory"
ENGINE_KEY = "webhook_inbox_engine"
KEPT_HEADER_PREFIXES = ("x-shopify-", "x-wc-webhook-")
KEPT_HEADERS = frozenset({"content-type", "user-agent"})
JSON = "application/json"
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


@blueprint.record_once
def _attach_directory(state: BlueprintSetupState) -> None:
    state.app.extensions[DIRECTORY_KEY] = ShopDirectory()
    state.app.extensions[ENGINE_KEY] = _inbox_engine(app_services(state.app))


def _inbox_engine(services: AppServices) -> Engine:
    """The engine the edge stores deliveries with, of its own. PostgreSQL: a pool in
    autocommit mode without pre-ping, so storing a delivery is one round trip, not two (a
    connection found dead, the database having restarted, is retried once on a fresh one in
    `_store`); one per process and database, however many apps are built. SQLite: one per
    app, whose commits wait for the disk (`synchronous=FULL`; the app's own connections run
    with NORMAL): the 200 tells the store the delivery is kept, and WooCommerce never sends it
    again. An in-memory SQLite database has no disk and no second engine: the app's."""
    url = services.settings.database_url
    if services.engine.dialect.name == "postgresql":
        return _pool_without_ping(url)
    if services.engine.url.database in (None, "", ":memory:"):
        return services.engine
    return make_engine(url, commit_to_disk=True)


@functools.cache
def _pool_without_ping(database_url: str) -> Engine:
    return make_engine(
        database_url,
        pool_pre_ping=False,
        pool_size=2,
        max_overflow=8,
        isolation_level="AUTOCOMMIT",
    )


@blueprint.post("/webhooks/shopify")
def shopify() -> Response:
    return receive(Platform.SHOPIFY)


@blueprint.post("/webhooks/woocommerce")
def woocommerce() -> Response:
    return receive(Platform.WOOCOMMERCE)


def receive(platform: Platform) -> Response:
    """Verify, store once, answer; see the module docstring for every answer."""
    body = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH, before we read it all
    headers = dict(request.headers)
    if platform is Platform.WOOCOMMERCE and is_ping(headers, body):
        return _answer(200, b'{"status":"pong"}')
    connector = CONNECTORS[platform]
    meta = connector.identify(headers)
    if meta is None:
        return _unauthorized("the delivery does not name a valid shop and topic")
    services = app_services()
    # Shopify signs with the app's secret: a forgery is refused before any database work.
    if platform is Platform.SHOPIFY and not connector.verify(body, headers, app_secrets(services)):
        return _unauthorized("signature does not match")
    try:
        return _store_if_authentic(services, connector, meta, headers, body)
    except DBAPIError:
        logger.exception("webhook not stored: database unavailable", extra=_log(meta))
        return _answer(503, b'{"error":"database_unavailable","message":"try again later"}')


def _store_if_authentic(
    services: AppServices,
    connector: Connector,
    meta: DeliveryMeta,
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    directory: ShopDirectory = current_app.extensions[DIRECTORY_KEY]
    if meta.platform is Platform.SHOPIFY:  # already verified against the app's secret
        shop = directory.lookup(services, meta.platform, meta.shop)
    else:
        shop = _authentic_shop(directory, services, connector, meta, headers, body)
    if shop is None and meta.platform is Platform.SHOPIFY and meta.topic in COMPLIANCE_TOPICS:
        logger.info("compliance webhook for a shop we hold nothing of", extra=_log(meta))
        return _answer(200, b'{"status":"no_data_held"}')
    if shop is None:
        return _unauthorized("unknown shop or signature does not match")
    values = {
        "platform": meta.platform,
        "shop_id": shop.shop_id,
        "topic": meta.topic,
        "dedup_key": connector.delivery_key(meta, body),
        "webhook_id": meta.webhook_id,
        "headers": _kept_headers(headers),
        "body": body,
    }
    try:
        delivery_id, created = _store(current_app.extensions[ENGINE_KEY], values)
    except IntegrityError:  # the cached shop was erased meanwhile (shop/redact)
        directory.forget(meta.platform, meta.shop)
        return _unauthorized("unknown shop")
    logger.info(
        "webhook stored" if created else "webhook duplicate",
        extra={**_log(meta), "shop_id": shop.shop_id, "delivery_id": delivery_id},
    )
    return _answer(200, b'{"status":"stored"}' if created else b'{"status":"duplicate"}')


def _store(engine: Engine, values: dict[str, Any]) -> tuple[int, bool]:
    """The insert on a pooled DB-API connection in autocommit mode (`inbox.DriverConnection`):
    durable when it returns, one database round trip. A pooled connection that turns out dead
    is discarded and the insert tried once more. Driver errors leave as SQLAlchemy's own
    (IntegrityError, DBAPIError), as from any other statement."""
    dialect = engine.dialect
    for attempt in (1, 2):
        connection = engine.raw_connection()
        try:
            driver = DriverConnection(connection.dbapi_connection, dialect)
            return store_delivery(driver, **values, now=datetime.now(tz=UTC))
        except dialect.loaded_dbapi.Error as error:
            dead = dialect.is_disconnect(error, connection.dbapi_connection, None)
            if dead:
                connection.invalidate(error)
            if attempt == 1 and dead:
                logger.warning("inbox connection was dead: retrying on a fresh one")
                continue
            raise DBAPIError.instance(
                None, None, error, dialect.loaded_dbapi.Error,
                connection_invalidated=dead, dialect=dialect,
            ) from error  # fmt: skip
        finally:
            connection.close()
    raise AssertionError("unreachable")


def _authentic_shop(
    directory: ShopDirectory,
    services: AppServices,
    connector: Connector,
    meta: DeliveryMeta,
    headers: Mapping[str, str],
    body: bytes,
) -> KnownShop | None:
    """The shop when the delivery is signed by one of its own secrets (WooCommerce's per-store
    secret); a miss against a cached secret is retried once against the database (the secret
    may have just been rotated)."""
    for fresh in (False, True):
        shop = directory.lookup(services, meta.platform, meta.shop, fresh=fresh)
        if shop is None:
            return None
        if connector.verify(body, headers, shop.secrets):
            return shop
    return None


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in headers.items()
        if key.lower() in KEPT_HEADERS or key.lower().startswith(KEPT_HEADER_PREFIXES)
    }


def _answer(status: int, body: bytes) -> Response:
    return Response(body, status=status, mimetype=JSON)


def _unauthorized(message: str) -> Response:
    return _answer(401, b'{"error":"unauthorized","message":"' + message.encode() + b'"}')


def _log(meta: DeliveryMeta) -> dict[str, str]:
    return {"platform": meta.platform.value, "shop": meta.shop, "topic": meta.topic}
