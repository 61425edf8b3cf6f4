"""The storefronts by platform (a literal registry): where the referral link sends a friend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from referral_plugin.domain.events import Platform
from referral_plugin.settings import Settings

from .shopify.storefront import shopify_storefront
from .woocommerce.storefront import woocommerce_storefront


class Storefront(Protocol):
    def home(self, ref: str) -> str:
        """The store's home page carrying our `ref` parameter."""

    def discount_link(self, code: str, ref: str) -> str | None:
        """A URL that applies `code` automatically (then shows the home page with `ref`), or
        None when the platform has none."""


STOREFRONTS: dict[Platform, Callable[[str, Settings], Storefront]] = {
    Platform.SHOPIFY: shopify_storefront,
    Platform.WOOCOMMERCE: woocommerce_storefront,
}


def storefront_for(platform: Platform, domain: str, settings: Settings) -> Storefront:
    """The storefront of the shop with this platform and domain (myshopify domain or store URL)."""
    return STOREFRONTS[platform](domain, settings)
