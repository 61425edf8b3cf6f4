"""POST /webhooks/<platform>: verify the signature on the raw body, store the delivery in the
inbox, commit, answer 200. No business logic here; the worker does the rest.

Answers (DESIGN §6): 401 bad/missing signature or unknown shop (nothing stored); 413 body over
the cap; 200 for every authentic delivery (ignored topics and duplicates included); 503 when
the database is unavailable; 200 for WooCommerce's unsigned ping.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from connectors.base import Connector, DeliveryMeta
from connectors.registry import CONNECTORS
from connectors.woocommerce.connector import is_ping
from referral_plugin.app import AppServices, app_services
from referral_plugin.domain.events import Platform
from referral_plugin.services.inbox import store_delivery
from referral_plugin.services.shops import find_shop, shop_credentials

logger = logging.getLogger(__name__)
blueprint = Blueprint("webhooks", __name__)

KEPT_HEADER_PREFIXES = ("x-shopify-", "x-wc-webhook-")
KEPT_HEADERS = frozenset({"content-type", "user-agent"})
WOOCOMMERCE_SECRET = "webhook_secret"  # noqa: S105 - the credentials key, not a secret


@blueprint.post("/webhooks/shopify")
def shopify() -> Response | tuple[Response, int]:
    return receive(Platform.SHOPIFY)


@blueprint.post("/webhooks/woocommerce")
def woocommerce() -> Response | tuple[Response, int]:
    return receive(Platform.WOOCOMMERCE)


def receive(platform: Platform) -> Response | tuple[Response, int]:
    """Verify, store once, answer; see the module docstring for every answer."""
    body = request.get_data(cache=False)  # 413 past MAX_CONTENT_LENGTH, before we read it all
    headers = dict(request.headers)
    if platform is Platform.WOOCOMMERCE and is_ping(headers, body):
        return jsonify(status="pong"), 200
    connector = CONNECTORS[platform]
    meta = connector.identify(headers)
    if meta is None:
        return _unauthorized("the delivery does not name a valid shop and topic")
    services = app_services()
    try:
        with services.sessions.begin() as session:
            return _verify_and_store(session, services, connector, meta, headers, body)
    except DBAPIError:
        logger.exception("webhook not stored: database unavailable", extra=_log(meta))
        return jsonify(error="database_unavailable", message="try again later"), 503


def _verify_and_store(
    session: Session,
    services: AppServices,
    connector: Connector,
    meta: DeliveryMeta,
    headers: Mapping[str, str],
    body: bytes,
) -> Response | tuple[Response, int]:
    shop = find_shop(session, meta.platform, meta.shop)
    if shop is None:
        return _unauthorized("unknown shop")
    if not connector.verify(body, headers, _secrets(services, meta.platform, shop)):
        return _unauthorized("signature does not match")
    delivery_id, created = store_delivery(
        session,
        platform=meta.platform,
        shop_id=shop.id,
        topic=meta.topic,
        dedup_key=connector.delivery_key(meta, body),
        webhook_id=meta.webhook_id,
        headers=_kept_headers(headers),
        body=body,
        now=datetime.now(tz=UTC),
    )
    logger.info(
        "webhook stored" if created else "webhook duplicate",
        extra={**_log(meta), "shop_id": shop.id, "delivery_id": delivery_id},
    )
    return jsonify(status="stored" if created else "duplicate"), 200


def _secrets(services: AppServices, platform: Platform, shop: object) -> Sequence[str]:
    """Shopify signs with the app's client secret (current or, during a rotation, previous);
    WooCommerce with the per-store secret we set when we created the webhook."""
    settings = services.settings
    if platform is Platform.SHOPIFY:
        return [s for s in (settings.shopify_api_secret, settings.shopify_previous_api_secret) if s]
    try:
        secret = shop_credentials(shop, services.box).get(WOOCOMMERCE_SECRET)  # type: ignore[arg-type]
    except ValueError:
        logger.error("shop credentials cannot be decrypted: check ENCRYPTION_KEY")
        return []
    return [secret] if secret else []


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        key: value
        for key, value in headers.items()
        if key.lower() in KEPT_HEADERS or key.lower().startswith(KEPT_HEADER_PREFIXES)
    }


def _unauthorized(message: str) -> tuple[Response, int]:
    return jsonify(error="unauthorized", message=message), 401


def _log(meta: DeliveryMeta) -> dict[str, str]:
    return {"platform": meta.platform.value, "shop": meta.shop, "topic": meta.topic}
