"""App Proxy requests (shopper pages served under the shop's own domain), verified.

Shopify adds `shop`, `logged_in_customer_id`, `path_prefix`, `timestamp` and `signature` to the
forwarded query. `signature` is the hex HMAC-SHA256, keyed with the app's client secret, of
the other parameters decoded, each as `key=value` with repeated values joined by commas,
sorted, and concatenated with no separator (shopify.dev, "Authenticate app proxies").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .shop_domain import valid_shop_domain

# Shopify signs each forwarded request as it proxies it; a replayed link older than this is
# refused (the same window as the reference library's signed queries).
PROXY_MAX_AGE = timedelta(seconds=90)


def proxy_message(pairs: Iterable[tuple[str, str]]) -> str:
    """The string Shopify signs: `signature` left out, values of one key joined by commas."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        if key != "signature":
            grouped.setdefault(key, []).append(value)
    return "".join(sorted(f"{key}={','.join(values)}" for key, values in grouped.items()))


def proxy_signature(pairs: Iterable[tuple[str, str]], secret: str) -> str:
    """The hex signature Shopify would send for these query parameters."""
    return hmac.new(secret.encode(), proxy_message(pairs).encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyRequest:
    """A verified proxied request: the shop, and the logged-in customer if any."""

    shop: str
    customer_id: str | None
    path_prefix: str | None


class ProxySignatureInvalid(Exception):
    """Not a request Shopify forwarded just now; the message says what is wrong."""


def verify_proxy_request(
    pairs: Sequence[tuple[str, str]],
    secrets: Sequence[str],
    *,
    now: datetime,
    max_age: timedelta = PROXY_MAX_AGE,
) -> ProxyRequest:
    """The ProxyRequest of a query signed with one of `secrets` (current, previous) within
    `max_age` of `now`. Raises ProxySignatureInvalid."""
    given = [value for key, value in pairs if key == "signature"]
    if len(given) != 1 or not given[0]:
        raise ProxySignatureInvalid("the request has no signature parameter")
    signature = given[0].strip().lower().encode()
    message = proxy_message(pairs).encode()
    matched = False
    for secret in (s for s in secrets if s):
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
        matched = hmac.compare_digest(expected, signature) or matched
    if not matched:
        raise ProxySignatureInvalid("the signature does not match the query")
    values = dict(pairs)
    try:
        signed_at = datetime.fromtimestamp(int(values.get("timestamp", "")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise ProxySignatureInvalid("the request has no valid timestamp") from None
    if abs(now - signed_at) > max_age:
        raise ProxySignatureInvalid("the request is too old (or its timestamp is in the future)")
    shop = values.get("shop", "")
    if not valid_shop_domain(shop):
        raise ProxySignatureInvalid("the request does not name a myshopify.com shop")
    return ProxyRequest(
        shop=shop,
        customer_id=values.get("logged_in_customer_id") or None,
        path_prefix=values.get("path_prefix") or None,
    )
