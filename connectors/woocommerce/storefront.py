"""Where a friend lands in a WooCommerce store. Core WooCommerce has no address that applies a
coupon, so there is no discount link: our landing page shows the code to copy. `?ref=` on the
first page reaches the order as the `_wc_order_attribution_session_entry` meta (core Order
Attribution; `orders._landing_ref`)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from referral_plugin.settings import Settings

from ..payload import REF_PARAMETERS

REF = REF_PARAMETERS[0]


@dataclass(frozen=True, slots=True)
class WooCommerceStorefront:
    store_url: str  # the canonical store URL the shop was connected with

    def home(self, ref: str) -> str:
        """The store's home page with `?ref=<code>`."""
        return f"{self.store_url.rstrip('/')}/?{urlencode({REF: ref})}"

    def discount_link(self, code: str, ref: str) -> None:
        """None: the friend types or pastes the code at checkout."""
        return None


def woocommerce_storefront(domain: str, settings: Settings) -> WooCommerceStorefront:
    return WooCommerceStorefront(store_url=domain)
