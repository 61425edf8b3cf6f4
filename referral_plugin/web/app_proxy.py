"""Shopper pages served through Shopify's App Proxy: `@shopify_app_proxy` verifies the proxy
signature before the view runs and names the installed shop the request comes from.

Inside the view, `proxy_request()` is the verified `ProxyRequest` (shop, logged-in customer)
and `proxy_shop_id()` the shop's id. A request that is not signed by Shopify answers 401; a
shop that has not installed the app (or uninstalled it) answers 404.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from flask import Response, g, jsonify, make_response, request

from connectors.shopify.app_proxy import ProxyRequest, ProxySignatureInvalid, verify_proxy_request
from referral_plugin.app import app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import ShopStatus
from referral_plugin.services.shops import find_shop

View = TypeVar("View", bound=Callable[..., Any])


def shopify_app_proxy(view: View) -> View:
    """Decorate a view that Shopify reaches through the App Proxy."""

    @functools.wraps(view)
    def verified(*args: Any, **kwargs: Any) -> Any:
        services = app_services()
        settings = services.settings
        secrets = tuple(
            s for s in (settings.shopify_api_secret, settings.shopify_previous_api_secret) if s
        )
        try:
            proxied = verify_proxy_request(
                list(request.args.items(multi=True)), secrets, now=datetime.now(tz=UTC)
            )
        except ProxySignatureInvalid as exc:
            return _answer(401, "unauthorized", f"Not a request from the shop's App Proxy: {exc}.")
        with services.sessions.begin() as session:
            shop = find_shop(session, Platform.SHOPIFY, proxied.shop)
            shop_id = shop.id if shop is not None and shop.status is ShopStatus.ACTIVE else None
        if shop_id is None:
            return _answer(404, "not_found", "This shop has not installed the referral app.")
        g.app_proxy_request = proxied
        g.app_proxy_shop_id = shop_id
        return view(*args, **kwargs)

    return cast(View, verified)


def proxy_request() -> ProxyRequest:
    """The verified App Proxy request of this view (set by `@shopify_app_proxy`)."""
    return cast(ProxyRequest, g.app_proxy_request)


def proxy_shop_id() -> int:
    """The installed shop the App Proxy request comes from."""
    return cast(int, g.app_proxy_shop_id)


def _answer(status: int, error: str, message: str) -> Response:
    return make_response(jsonify({"error": error, "message": message}), status)
