"""Tolerant readers for platform JSON: absent or null fields give None, bad ones a clear error."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from referral_plugin.domain.clock import parse_timestamp
from referral_plugin.domain.codes import normalize_code

from .base import TranslationError

REF_PARAMETERS = ("ref", "referral", "referral_code", "rfsn")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's stripped value, looked up ignoring case (HTTP/2 lower-cases names)."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value.strip() or None
    return None


def is_object(value: Any) -> bool:
    """A JSON object: parsed JSON gives plain dicts, checked first (a Mapping check is an ABC
    lookup, several times slower, and a payload asks hundreds of times)."""
    return type(value) is dict or isinstance(value, Mapping)


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not is_object(value):
        raise TranslationError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def text(value: Any) -> str | None:
    """A stripped string, or None for null/empty; numbers become their decimal text."""
    if type(value) is str:  # the common case, first
        return value.strip() or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        stripped = str(value).strip()
        return stripped or None
    return None


def identifier(value: Any, where: str) -> str:
    """A required id (int or string) as text."""
    found = text(value)
    if found is None:
        raise TranslationError(f"{where} is missing")
    return found


def money(value: Any, where: str) -> Decimal | None:
    """A Decimal from a money string/int; None when absent. Floats go through repr()."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TranslationError(f"{where} must be an amount, got a boolean")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise TranslationError(f"{where} must be an amount, got {value!r}") from exc
    if not amount.is_finite():
        raise TranslationError(f"{where} must be a finite amount, got {value!r}")
    return amount


def timestamp(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TranslationError(f"{where} must be an ISO 8601 timestamp, got {value!r}")
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise TranslationError(f"{where} must be an ISO 8601 timestamp, got {value!r}") from exc


def ref_from_url(url: str | None) -> str | None:
    """The normalized referral code in a landing URL's query (`?ref=ANNA-7Q2K`), if any."""
    if not url:
        return None
    query = parse_qs(urlsplit(url).query)
    for name in REF_PARAMETERS:
        values = query.get(name)
        if values and normalize_code(values[0]):
            return normalize_code(values[0])
    return None


def address_fingerprint(address: Mapping[str, Any] | None) -> str | None:
    """A hash of the normalized street, postcode and country, or None without a street."""
    if not address:
        return None
    street = " ".join(
        (text(address.get(key)) or "").lower()
        for key in ("address1", "address_1", "address2", "address_2")
    ).split()
    if not street:
        return None
    postcode = (text(address.get("zip")) or text(address.get("postcode")) or "").replace(" ", "")
    country = text(address.get("country_code")) or text(address.get("country")) or ""
    key = "|".join((" ".join(street), postcode.upper(), country.upper()))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def state_digest(*parts: object) -> str:
    """A short stable hash of an order's state, used as an event idempotency key."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:20]


def body_digest(body: bytes) -> str:
    """A short stable hash of a raw delivery body."""
    return hashlib.sha256(body).hexdigest()[:32]
