"""Which shop a webhook delivery belongs to, and the secrets that sign its deliveries.

Cached per process for a few seconds so a flash sale does not look the same shop up thousands
of times a minute. A signature that fails against a cached secret is checked again against the
database before the delivery is refused, so a rotated WooCommerce secret never costs a delivery
(WooCommerce does not retry).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connectors.woocommerce.webhooks_api import WEBHOOK_SECRET_KEY
from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.models import Shop
from referral_plugin.services.shops import find_shop, shop_credentials

logger = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class KnownShop:
    shop_id: int
    secrets: tuple[str, ...]  # what may sign this shop's deliveries (empty: nothing may)


class ShopDirectory:
    """Shop lookups for the webhook edge, cached for `ttl` seconds (misses are not cached)."""

    def __init__(
        self, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[Platform, str], tuple[float, KnownShop]] = {}
        self._lock = threading.Lock()

    def lookup(
        self, services: AppServices, platform: Platform, domain: str, *, fresh: bool = False
    ) -> KnownShop | None:
        """The shop installed from `domain`, or None; `fresh` bypasses the cache.
        Raises the database's errors (the edge answers 503)."""
        key = (platform, domain)
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and not fresh and cached[0] > now:
            return cached[1]
        known = self._load(services, platform, domain)
        with self._lock:
            if known is None:
                self._entries.pop(key, None)
            else:
                self._entries[key] = (now + self._ttl, known)
        return known

    def forget(self, platform: Platform, domain: str) -> None:
        with self._lock:
            self._entries.pop((platform, domain), None)

    @staticmethod
    def _load(services: AppServices, platform: Platform, domain: str) -> KnownShop | None:
        with services.sessions.begin() as session:
            shop = find_shop(session, platform, domain)
            if shop is None:
                return None
            return KnownShop(shop_id=shop.id, secrets=signing_secrets(services, shop))


def signing_secrets(services: AppServices, shop: Shop) -> tuple[str, ...]:
    """Shopify signs with the app's client secret (current or, during a rotation, previous);
    WooCommerce with the per-store secret we set when we created the webhook."""
    if shop.platform is Platform.SHOPIFY:
        return app_secrets(services)
    try:
        secret = shop_credentials(shop, services.box).get(WEBHOOK_SECRET_KEY)
    except ValueError:
        logger.error("shop credentials cannot be decrypted: check ENCRYPTION_KEY")
        return ()
    return (secret,) if secret else ()


def app_secrets(services: AppServices) -> tuple[str, ...]:
    settings = services.settings
    return tuple(
        s for s in (settings.shopify_api_secret, settings.shopify_previous_api_secret) if s
    )
