"""Admin API authentication: `Authorization: Bearer <token>` names exactly one shop.

The token is either the shop's admin API token (`rp_...`, any platform) or, for Shopify
shops, the App Bridge session token the embedded dashboard sends (a JWT verified with the
app's client secret, current or previous; `dest` names the shop, which must be installed and
active).

Every admin view reads `current_shop_id()` and passes it to the services, which scope every
query by it; another shop's ids therefore answer 404, never 403.
"""

from __future__ import annotations

import logging

from flask import g, request

from connectors.shopify.session_token import SessionTokenInvalid, looks_like_jwt
from referral_plugin.api.errors import Unauthorized
from referral_plugin.app import AppServices, app_services
from referral_plugin.domain.events import Platform
from referral_plugin.models import ShopStatus
from referral_plugin.services.shops import TOKEN_PREFIX, find_shop, shop_for_api_token
from referral_plugin.shopify_tokens import verify_app_session_token

logger = logging.getLogger(__name__)

BEARER_PREFIX = "bearer "


def authenticate_shop() -> None:
    """Resolve the bearer token to a shop for this request; raises Unauthorized (401)."""
    token = bearer_token(request.headers.get("Authorization", ""))
    services = app_services()
    if not token.startswith(TOKEN_PREFIX) and looks_like_jwt(token):
        g.shop_id = _shopify_session_shop(services, token)
        return
    with services.sessions.begin() as session:
        shop = shop_for_api_token(session, token)
        shop_id = shop.id if shop is not None else None
    if shop_id is None:
        logger.info("admin api: unknown token", extra={"path": request.path})
        raise Unauthorized(
            "The API token is not valid; issue one with `referral-plugin shop token`."
        )
    g.shop_id = shop_id


def _shopify_session_shop(services: AppServices, token: str) -> int:
    """The id of the installed, active Shopify shop a session token speaks for."""
    try:
        verified = verify_app_session_token(services.settings, token)
    except SessionTokenInvalid as exc:
        logger.info("admin api: session token refused", extra={"path": request.path})
        raise Unauthorized(
            f"The Shopify session token is not valid ({exc}); reload the app in Shopify admin."
        ) from None
    with services.sessions.begin() as session:
        shop = find_shop(session, Platform.SHOPIFY, verified.shop)
        shop_id = shop.id if shop is not None and shop.status is ShopStatus.ACTIVE else None
    if shop_id is None:
        raise Unauthorized(
            f"{verified.shop} has not installed the app; open it from Shopify admin to install."
        )
    return shop_id


def bearer_token(header: str) -> str:
    """The token of an `Authorization: Bearer <token>` header; raises Unauthorized."""
    if not header:
        raise Unauthorized(
            "Send the admin API token as `Authorization: Bearer rp_...`.", challenge_error=None
        )
    if not header.lower().startswith(BEARER_PREFIX) or not header[len(BEARER_PREFIX) :].strip():
        raise Unauthorized("The Authorization header must be `Bearer <token>`.")
    return header[len(BEARER_PREFIX) :].strip()


def current_shop_id() -> int:
    """The authenticated shop of this request (set by `authenticate_shop`)."""
    return g.shop_id
