"""The worker's ensure-subscriptions job: keep every WooCommerce store's webhooks pointed at us.

WooCommerce never retries a delivery and sets a webhook to `disabled` after 7 consecutive
failures (our outage, a deploy, a bad certificate); a merchant may also delete ours. Every
`WEBHOOK_CHECK_INTERVAL_SECONDS` this job runs `webhooks_api.ensure_webhooks` for each active,
unpaused WooCommerce shop: disabled webhooks are re-activated, missing ones recreated, ours
that deliver elsewhere repointed; a correct store sees one GET. Reconciliation reads back what
was lost meanwhile.

Several workers are safe: each shop is taken under its lease (`store_jobs.run_leased`). Shops
are paced (`PACE_SECONDS` between stores) so the job is a trickle, never a burst. A shop that
fails (keys revoked, store down) is logged, recorded on its lease, and does not stop the
others; the run then raises `ShopsFailed` naming the shops and why, which `referral-plugin
status` shows as the job's last error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.woocommerce.webhooks_api import WEBHOOK_SECRET_KEY
from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreClientError, StoreUnavailable
from referral_plugin.models import Shop
from referral_plugin.services.deliveries import describe_error
from referral_plugin.services.shops import shop_credentials
from referral_plugin.store_clients import ClientFor, store_client_for
from referral_plugin.store_jobs import (
    ShopsFailed,
    callable_shop_ids,
    note_store_error,
    run_leased,
)
from referral_plugin.woocommerce_connect import delivery_url

logger = logging.getLogger(__name__)

JOB = "ensure_webhooks"
PACE_SECONDS = 0.5


def ensure_webhook_subscriptions(
    session: Session,
    *,
    now: datetime,
    services: AppServices,
    client_for: ClientFor = store_client_for,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Ensure the webhooks of every active, unpaused WooCommerce shop; returns how many shops
    were checked. Raises ShopsFailed after visiting all when some failed (each recorded)."""
    shop_ids = callable_shop_ids(services, now, Platform.WOOCOMMERCE)
    checked, failed = 0, []
    for index, shop_id in enumerate(shop_ids):
        if index:
            sleep(PACE_SECONDS)
        try:
            done = run_leased(services, shop_id, JOB, now, _work(services, shop_id, client_for))
        except StoreClientError as error:
            note_store_error(services, shop_id, now, error, "webhooks not ensured")
            failed.append(f"shop {shop_id}: {error}")
            continue
        except Exception as exc:  # isolate the shop; recorded on its lease, reported below
            logger.exception("webhooks not ensured", extra={"shop_id": shop_id})
            failed.append(f"shop {shop_id}: {describe_error(exc)}")
            continue
        checked += done or 0
    if failed:
        raise ShopsFailed(f"{JOB}: {len(failed)} shop(s) failed: " + "; ".join(failed[:5]))
    return checked


def _work(services: AppServices, shop_id: int, client_for: ClientFor) -> Callable[[], int]:
    return lambda: _ensure(services, shop_id, client_for)


def _ensure(services: AppServices, shop_id: int, client_for: ClientFor) -> int:
    """One shop: its client and webhook secret (a short transaction), then the store calls.
    A client without webhook management (another platform's) is skipped."""
    with services.sessions.begin() as session:
        shop = session.get(Shop, shop_id)
        if shop is None:
            return 0
        client = client_for(shop, services)
        try:
            secret = shop_credentials(shop, services.box).get(WEBHOOK_SECRET_KEY)
        except ValueError as exc:
            raise StoreUnavailable(
                "the shop's keys cannot be decrypted: check ENCRYPTION_KEY"
            ) from exc
    ensure = getattr(client, "ensure_webhooks", None)
    if ensure is None:
        return 0
    if not secret:
        raise StoreUnavailable("the shop has no webhook secret: reconnect the store")
    ids = ensure(delivery_url(services), secret)
    logger.info("webhooks checked", extra={"shop_id": shop_id, "webhooks": len(ids)})
    return 1
