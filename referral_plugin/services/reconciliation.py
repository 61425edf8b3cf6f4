"""Reconciliation: ask the store for recently updated orders and feed them into the inbox.

Webhooks get lost (WooCommerce never retries; Shopify gives up after 8 tries), so each shop's
orders updated since its watermark are read back and stored as inbox deliveries: the worker then
processes them on exactly the path a webhook takes, and order events are idempotent, so an order
seen both ways has one effect. The client gives each order the headers its platform's webhook
would carry, so the worker's `Connector.identify` reads a reconciled delivery like any other.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ..domain.store import StoreClient
from ..models import Shop
from .inbox import store_delivery
from .store_failures import shop_paused

logger = logging.getLogger(__name__)

DEFAULT_OVERLAP = timedelta(minutes=10)
FIRST_RUN_LOOKBACK = timedelta(days=3)
SOURCE_HEADER = {"X-Referral-Source": "reconciliation"}


def reconcile_shop(
    session: Session,
    *,
    shop_id: int,
    client: StoreClient,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> int:
    """Store the shop's orders updated since `watermark - overlap` (3 days back on the first
    run) in the inbox; returns how many new deliveries were stored.

    Idempotent: the dedup key is the order id plus a hash of the body, so an unchanged order is
    a no-op and a changed one is a new delivery. The watermark moves to the latest `updated_at`
    seen only after every order is stored, and never backwards; a failure mid-way (raised, the
    caller rolls back) leaves it, so the next run reads the same window again. The overlap
    covers orders committed in the store with an `updated_at` just before the last read. Raises
    StoreClientError from the client. Does nothing while the shop is paused (returns 0).
    """
    shop = session.get(Shop, shop_id)
    if shop is None or shop_paused(shop, now):
        return 0
    since = shop.reconcile_watermark - overlap if shop.reconcile_watermark else None
    since = since or now - FIRST_RUN_LOOKBACK
    stored = 0
    latest = shop.reconcile_watermark
    for order in client.orders_updated_since(since):
        body_hash = hashlib.sha256(order.body).hexdigest()[:24]
        _, created = store_delivery(
            session,
            platform=shop.platform,
            shop_id=shop.id,
            topic=order.topic,
            dedup_key=f"reconcile:{order.order_id}:{body_hash}",
            webhook_id=None,
            headers={**order.headers, **SOURCE_HEADER},
            body=order.body,
            now=now,
        )
        stored += int(created)
        latest = order.updated_at if latest is None else max(latest, order.updated_at)
    if latest is not None:
        shop.reconcile_watermark = latest
    session.flush()
    logger.info("shop reconciled", extra={"shop_id": shop.id, "stored": stored})
    return stored
