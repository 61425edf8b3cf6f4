"""HMAC-SHA256 signatures as both platforms send them: base64 of the digest of the raw body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence


def sign_body(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)): what Shopify and WooCommerce put in the header."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def body_signature_matches(body: bytes, signature: str | None, secrets: Sequence[str]) -> bool:
    """True when `signature` is the body's HMAC under any of `secrets` (rotation-aware).

    Compares decoded digests in constant time; a missing or non-base64 header is False.
    """
    if not signature:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        # Check every secret so the time taken does not reveal which one matched.
        matched = hmac.compare_digest(expected, given) or matched
    return matched
