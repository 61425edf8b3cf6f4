"""The `/wc-auth/v1/authorize` key flow, as URLs and payloads (no I/O, no Flask).

WooCommerce's `WC_Auth` (class-wc-auth.php): the merchant is sent to
`{store}/wc-auth/v1/authorize` with `app_name`, `scope`, `user_id`, `return_url` and
`callback_url` (all required, scalars; the callback must be https). After approval the store
creates a key and POSTs JSON `{key_id, user_id, consumer_key, consumer_secret,
key_permissions}` to the callback, unsigned and without the store's address; any answer but
HTTP 200 makes it delete the key. The browser then lands on `return_url?success=1&user_id=...`
(`success=0` when the merchant declined).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

AUTHORIZE_PATH = "/wc-auth/v1/authorize"
SCOPE = "read_write"  # coupons and webhooks are written; orders are read


class KeyGrantError(ValueError):
    """The callback body is not a usable key grant; `field` names what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyGrant:
    """The keys WooCommerce created for us. `repr` never shows the key or the secret."""

    key_id: int | None
    user_id: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    permissions: str


def authorize_url(
    store_url: str, *, app_name: str, user_id: str, return_url: str, callback_url: str
) -> str:
    """Where to send the merchant to approve a read_write key for us. Raises ValueError when
    `callback_url` is not https (the store would refuse: "The callback_url needs to be over
    SSL")."""
    if not callback_url.startswith("https://"):
        raise ValueError("callback_url must be https: WooCommerce posts keys only over SSL")
    query = urlencode(
        {
            "app_name": app_name,
            "scope": SCOPE,
            "user_id": user_id,
            "return_url": return_url,
            "callback_url": callback_url,
        }
    )
    return f"{store_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"


def parse_key_grant(payload: Any) -> KeyGrant:
    """The JSON body WooCommerce POSTs to the callback → KeyGrant. Tolerant of the user_id's
    type (we send a string; the docs' example shows a number). Raises KeyGrantError."""
    if not isinstance(payload, Mapping):
        raise KeyGrantError("body", "must be a JSON object with the API keys")
    user_id = payload.get("user_id")
    if not isinstance(user_id, str | int) or isinstance(user_id, bool) or not str(user_id):
        raise KeyGrantError("user_id", "is required")
    key = _text(payload, "consumer_key", "ck_")
    secret = _text(payload, "consumer_secret", "cs_")
    permissions = payload.get("key_permissions")
    if permissions not in {"read", "write", "read_write"}:
        raise KeyGrantError("key_permissions", "must be read, write or read_write")
    key_id = payload.get("key_id")
    return KeyGrant(
        key_id=key_id if isinstance(key_id, int) and not isinstance(key_id, bool) else None,
        user_id=str(user_id),
        consumer_key=key,
        consumer_secret=secret,
        permissions=str(permissions),
    )


def _text(payload: Mapping[str, Any], name: str, prefix: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) <= len(prefix):
        raise KeyGrantError(name, f"must be a WooCommerce key starting with {prefix}")
    return value


def approval_outcome(success: str | None) -> bool | None:
    """The return page's `success` parameter: True approved, False declined, None absent or
    unreadable."""
    return {"1": True, "0": False}.get((success or "").strip())
