"""Shop domains: the strict `<handle>.myshopify.com` form (the Python library's rule)."""

from __future__ import annotations

import re

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")


def valid_shop_domain(value: str | None) -> bool:
    """True for a lower-case `<handle>.myshopify.com` domain, nothing else."""
    return bool(value) and len(value) <= 255 and _SHOP_DOMAIN.fullmatch(value) is not None


def sanitize_shop_domain(value: str | None) -> str | None:
    """The domain lower-cased and trimmed when valid, else None (no guessing, no suffixing)."""
    candidate = (value or "").strip().lower().rstrip("/")
    for scheme in ("https://", "http://"):
        candidate = candidate.removeprefix(scheme)
    return candidate if valid_shop_domain(candidate) else None
