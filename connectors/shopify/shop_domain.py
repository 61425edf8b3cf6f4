"""Shop domains: the strict `<handle>.myshopify.com` form (the Python library's rule)."""

from __future__ import annotations

import re

_SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")


def valid_shop_domain(value: str | None) -> bool:
    """True for a lower-case `<handle>.myshopify.com` domain, nothing else."""
    return bool(value) and len(value) <= 255 and _SHOP_DOMAIN.fullmatch(value) is not None
