"""Where a friend lands in a Shopify store: Shopify's shareable discount link
`https://<shop>/discount/<CODE>?redirect=<path>` applies the code to the buyer's cart, then
shows `<path>` (a URL-encoded path on the same store, `/` by default). Our `ref` parameter
rides on that path, so the order's `landing_site` carries it (`orders._landing_ref`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from referral_plugin.settings import Settings

from ..payload import REF_PARAMETERS
from .oauth import shop_origin

REF = REF_PARAMETERS[0]


@dataclass(frozen=True, slots=True)
class ShopifyStorefront:
    origin: str  # https://<shop>.myshopify.com (it redirects to the shop's primary domain)

    def home(self, ref: str) -> str:
        """The store's home page with `?ref=<code>`."""
        return f"{self.origin}/?{urlencode({REF: ref})}"

    def discount_link(self, code: str, ref: str) -> str:
        """The link that applies `code` and then shows the home page with `?ref=<ref>`."""
        redirect = "/?" + urlencode({REF: ref})
        return f"{self.origin}/discount/{quote(code, safe='')}?{urlencode({'redirect': redirect})}"


def shopify_storefront(domain: str, settings: Settings) -> ShopifyStorefront:
    """The storefront of the shop `domain` (its myshopify domain) through SHOPIFY_SHOP_ORIGIN."""
    return ShopifyStorefront(origin=shop_origin(settings.shopify_shop_origin, domain))
