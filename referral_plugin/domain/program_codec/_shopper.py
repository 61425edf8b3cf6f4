"""The shopper-facing part of a program: its appearance and the merchant's copy overrides."""

from __future__ import annotations

from typing import Any

from ..colors import normalize_hex_color
from ..languages import SHOPPER_LANGUAGES
from ..programs import Appearance, OfferCopy
from ._fields import FieldErrors, read_object, read_str

APPEARANCE_FIELDS = frozenset({"color", "language"})
COPY_FIELDS = frozenset({"headline", "description"})
LANGUAGE_LIST = ", ".join(SHOPPER_LANGUAGES)


def read_appearance(value: Any, errors: FieldErrors) -> Appearance:
    """`{"color": "#1f5f8b", "language": "ro"}`, both optional; defaults when absent."""
    if value is None:
        return Appearance()
    body = read_object(value, "appearance", APPEARANCE_FIELDS, errors)
    if body is None:
        return Appearance()
    raw = body.get("color")
    color = Appearance().color if raw is None else normalize_hex_color(raw)
    if color is None:
        errors.append(("appearance.color", 'must be a hex colour such as "#1f5f8b"'))
        color = Appearance().color
    language = body.get("language")
    if language is not None and language not in SHOPPER_LANGUAGES:
        errors.append(("appearance.language", f"must be one of: {LANGUAGE_LIST}"))
        language = None
    return Appearance(color=color, language=language)


def read_copy(value: Any, errors: FieldErrors) -> dict[str, OfferCopy]:
    """`{"ro": {"headline": ..., "description": ...}}`: per supported language, both optional
    plain text (shown escaped), the headline ≤ 120 characters, the description ≤ 500."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(("copy", "must be an object keyed by language"))
        return {}
    copies: dict[str, OfferCopy] = {}
    for language, item in value.items():
        field = f"copy.{language}"
        if language not in SHOPPER_LANGUAGES:
            errors.append((field, f"unknown language; expected one of: {LANGUAGE_LIST}"))
            continue
        body = read_object(item, field, COPY_FIELDS, errors)
        if body is None:
            continue
        headline = read_str(body.get("headline"), f"{field}.headline", errors, max_length=120)
        description = read_str(
            body.get("description"), f"{field}.description", errors, max_length=500
        )
        if headline or description:
            copies[language] = OfferCopy(headline=headline, description=description)
    return copies


def appearance_to_dict(appearance: Appearance) -> dict[str, Any]:
    return {"color": appearance.color, "language": appearance.language}


def copy_to_dict(copies: dict[str, OfferCopy]) -> dict[str, Any]:
    return {
        language: {"headline": item.headline, "description": item.description}
        for language, item in sorted(copies.items())
    }
