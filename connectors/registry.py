"""The connectors by platform: a literal registry, no import-time registration."""

from __future__ import annotations

from referral_plugin.domain.events import Platform

from .base import Connector
from .shopify import ShopifyConnector
from .woocommerce import WooCommerceConnector

CONNECTORS: dict[Platform, Connector] = {
    Platform.SHOPIFY: ShopifyConnector(),
    Platform.WOOCOMMERCE: WooCommerceConnector(),
}
