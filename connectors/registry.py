"""The connectors by platform: a literal registry, no import-time registration."""

from __future__ import annotations

from collections.abc import Callable

from referral_plugin.domain.events import Platform
from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import StoreClient
from referral_plugin.settings import Settings

from .base import Connector
from .shopify import ShopifyConnector
from .shopify.reward_inputs import DISCOUNT_KINDS
from .shopify.store_client import make_shopify_store_client
from .woocommerce import WooCommerceConnector
from .woocommerce.coupons import ISSUED_KINDS as WOOCOMMERCE_ISSUED_KINDS
from .woocommerce.store_client import make_woocommerce_store_client

CONNECTORS: dict[Platform, Connector] = {
    Platform.SHOPIFY: ShopifyConnector(),
    Platform.WOOCOMMERCE: WooCommerceConnector(),
}

# A StoreClient per platform, built from the shop's domain (myshopify domain or store URL), its
# decrypted credentials and the settings.
# Empty until the Shopify and WooCommerce clients land: a platform without a factory makes the
# worker record "no store client for <platform> yet" on the shop's rewards (no fake success).
StoreClientFactory = Callable[[str, dict[str, str], Settings], StoreClient]
STORE_CLIENT_FACTORIES: dict[Platform, StoreClientFactory] = {}
STORE_CLIENT_FACTORIES[Platform.SHOPIFY] = make_shopify_store_client
STORE_CLIENT_FACTORIES[Platform.WOOCOMMERCE] = make_woocommerce_store_client

# The store-issued reward kinds each platform's StoreClient can issue; any other store-issued
# kind fails there for good (WooCommerce has no store credit or customer tags), so the
# dashboard says so when a merchant picks one.
ISSUED_REWARD_KINDS: dict[Platform, frozenset[RewardKind]] = {
    Platform.SHOPIFY: DISCOUNT_KINDS | {RewardKind.STORE_CREDIT, RewardKind.VIP},
    Platform.WOOCOMMERCE: WOOCOMMERCE_ISSUED_KINDS,
}
