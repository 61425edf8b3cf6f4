"""App Bridge session tokens (the embedded admin's `Authorization: Bearer <jwt>`), verified.

ShopifyAPI's `session_token.decode_from_header` is reused: HS256 only, `aud` == the API key,
`exp`/`nbf` with 10 s leeway, `iss`, `dest`, `sub`, `jti`, `sid` required, `iss` and `dest` on
the same valid myshopify host. On top of it: the previous client secret is accepted during a
rotation, `exp` must be present (PyJWT checks it only when it is there), and the shop must pass
our strict lower-case domain check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from shopify import session_token as shopify_session_token

from .shop_domain import valid_shop_domain


class SessionTokenInvalid(Exception):
    """The session token is not one Shopify issued for this app now; the message says why
    (never the token)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionToken:
    """A verified session token: the shop it speaks for and the admin user behind it."""

    shop: str
    user_id: str
    session_id: str
    expires_at: datetime
    token: str = field(repr=False)


def verify_session_token(token: str, *, api_key: str, secrets: Sequence[str]) -> SessionToken:
    """The verified token; raises SessionTokenInvalid. `secrets`: current, then previous."""
    if not token or not api_key or not any(secrets):
        raise SessionTokenInvalid("the app is not configured for Shopify session tokens")
    claims: dict[str, Any] | None = None
    reason = "signature does not match"
    for secret in (s for s in secrets if s):
        try:
            claims = shopify_session_token.decode_from_header(f"Bearer {token}", api_key, secret)
            break
        except shopify_session_token.SessionTokenError as exc:
            reason = _reason(exc)
            if not isinstance(exc.__cause__, jwt.InvalidSignatureError):
                break  # signed by this secret but not acceptable: another secret won't help
    if claims is None:
        raise SessionTokenInvalid(reason)
    if "exp" not in claims:
        raise SessionTokenInvalid("the token has no expiry")
    shop = urlsplit(str(claims["dest"])).hostname or ""
    if not valid_shop_domain(shop) or urlsplit(str(claims["dest"])).scheme != "https":
        raise SessionTokenInvalid("the token's dest is not a myshopify.com shop")
    return SessionToken(
        shop=shop,
        user_id=str(claims["sub"]),
        session_id=str(claims["sid"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
        token=token,
    )


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: worth verifying as a session token."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts)


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
