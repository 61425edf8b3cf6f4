"""Email normalization: one function decides when two addresses are the same person."""

from __future__ import annotations

# Providers that ignore dots in the local part and deliver plus-addresses to the same inbox.
_DOTLESS_PROVIDERS = frozenset({"gmail.com", "googlemail.com"})


def normalize_email(value: str | None) -> str | None:
    """Lower-cased, trimmed address, or None when empty or not an address."""
    if value is None:
        return None
    text = value.strip().lower()
    if text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if not local or "." not in domain:
        return None
    return f"{local}@{domain}"


def identity_email(value: str | None) -> str | None:
    """The inbox an address reaches: plus-tags dropped, Gmail dots ignored.

    Used to catch self-referral through `me+1@gmail.com` or `m.e@gmail.com`.
    """
    email = normalize_email(value)
    if email is None:
        return None
    local, domain = email.split("@")
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_PROVIDERS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
