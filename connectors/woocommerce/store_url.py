"""Store URLs: one canonical form so `X-WC-Webhook-Source` finds the shop we connected."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalize_store_url(value: str | None) -> str | None:
    """`scheme://host[:port][/path]` in lower case, no trailing slash, no query; None when the
    value is not an http(s) URL with a host. (Shops are looked up by this exact text.)"""
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        return None
    if parts.username or parts.password:
        return None
    host = parts.hostname.lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = parts.path.rstrip("/").lower()
    return f"{parts.scheme.lower()}://{netloc}{path}"
