"""Admin API authentication: `Authorization: Bearer rp_...` names exactly one shop.

Every admin view reads `current_shop_id()` and passes it to the services, which scope every
query by it; another shop's ids therefore answer 404, never 403.
"""

from __future__ import annotations

import logging

from flask import g, request

from referral_plugin.api.errors import Unauthorized
from referral_plugin.app import app_services
from referral_plugin.services.shops import shop_for_api_token

logger = logging.getLogger(__name__)

BEARER_PREFIX = "bearer "


def authenticate_shop() -> None:
    """Resolve the bearer token to a shop for this request; raises Unauthorized (401)."""
    token = bearer_token(request.headers.get("Authorization", ""))
    with app_services().sessions.begin() as session:
        shop = shop_for_api_token(session, token)
        shop_id = shop.id if shop is not None else None
    if shop_id is None:
        logger.info("admin api: unknown token", extra={"path": request.path})
        raise Unauthorized(
            "The API token is not valid; issue one with `referral-plugin shop token`."
        )
    g.shop_id = shop_id


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
