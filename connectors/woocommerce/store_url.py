"""Store URLs: one canonical form so `X-WC-Webhook-Source` finds the shop we connected, and the
rule for which store addresses we accept at all."""

from __future__ import annotations

from urllib.parse import urlsplit

# Plain http is accepted only for a store on this machine (development, the test store):
# anywhere else the consumer keys would cross the network in the clear.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class StoreUrlError(ValueError):
    """The text is not a store address we can use; the message says what to type instead."""


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


def checked_store_url(raw: str | None) -> str:
    """The canonical address of a store a merchant or operator typed: `https://` is assumed
    when no scheme is given (as WooCommerce itself does); plain http only on this machine; no
    query, fragment or credentials. Raises StoreUrlError saying what to type."""
    text = (raw or "").strip()
    if not text:
        raise StoreUrlError("enter the store's address, like https://store.example.com")
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise StoreUrlError(f"{raw!r} is not a web address like https://store.example.com") from exc
    canonical = normalize_store_url(text)
    host = parts.hostname or ""
    one_word = "." not in host and ":" not in host and host not in LOCAL_HOSTS  # a typo
    if canonical is None or parts.query or parts.fragment or one_word:
        raise StoreUrlError(
            f"{raw!r} is not a store address like https://store.example.com "
            "(no query, fragment or user name)"
        )
    if canonical.startswith("http://") and host not in LOCAL_HOSTS:
        raise StoreUrlError(
            "the store's address must start with https:// (WooCommerce sends API keys only to "
            "stores served over https)"
        )
    return canonical
