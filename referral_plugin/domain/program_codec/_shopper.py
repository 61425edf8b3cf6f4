"""The shopper-facing part of a program: its appearance, the merchant's copy overrides, the
claim mode, the shopper emails and automatic enrollment."""

from __future__ import annotations

from typing import Any

from ..colors import normalize_hex_color
from ..languages import SHOPPER_LANGUAGES
from ..programs import Appearance, ClaimMode, EmailSettings, OfferCopy, ShopperEmail
from ._fields import FieldErrors, read_bool, read_enum, read_int, read_list, read_object, read_str

APPEARANCE_FIELDS = frozenset({"color", "language"})
COPY_FIELDS = frozenset({"headline", "description"})
EMAILS_FIELDS = frozenset({"enabled", "reminder_days_before", "nudge_after_days"})
LANGUAGE_LIST = ", ".join(SHOPPER_LANGUAGES)
MAX_EMAIL_DAYS = 90


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


def read_claim_mode(value: Any, errors: FieldErrors) -> ClaimMode:
    """`"shared_code"` (default) or `"per_friend"`."""
    if value is None:
        return ClaimMode.SHARED_CODE
    mode = read_enum(value, ClaimMode, "claim_mode", errors)
    return ClaimMode.SHARED_CODE if mode is None else mode


def read_emails(value: Any, errors: FieldErrors) -> EmailSettings:
    """`{"enabled": ["invite", ...], "reminder_days_before": 7, "nudge_after_days": 7}`, each
    optional; absent means every email on, 7 and 7 days."""
    defaults = EmailSettings()
    if value is None:
        return defaults
    body = read_object(value, "emails", EMAILS_FIELDS, errors)
    if body is None:
        return defaults
    enabled = defaults.enabled
    if body.get("enabled") is not None:
        kinds = [
            read_enum(item, ShopperEmail, f"emails.enabled.{index}", errors, what="email")
            for index, item in enumerate(read_list(body["enabled"], "emails.enabled", errors))
        ]
        enabled = frozenset(kind for kind in kinds if kind is not None)
    reminder = read_int(
        body.get("reminder_days_before", defaults.reminder_days_before),
        "emails.reminder_days_before", errors, 1, MAX_EMAIL_DAYS,
    )  # fmt: skip
    nudge = read_int(
        body.get("nudge_after_days", defaults.nudge_after_days),
        "emails.nudge_after_days", errors, 1, MAX_EMAIL_DAYS,
    )  # fmt: skip
    return EmailSettings(
        enabled=enabled,
        reminder_days_before=defaults.reminder_days_before if reminder is None else reminder,
        nudge_after_days=defaults.nudge_after_days if nudge is None else nudge,
    )


def read_auto_enroll(value: Any, errors: FieldErrors) -> bool:
    result = read_bool(False if value is None else value, "auto_enroll", errors)
    return bool(result)


def emails_to_dict(emails: EmailSettings) -> dict[str, Any]:
    return {
        "enabled": [kind.value for kind in ShopperEmail if kind in emails.enabled],
        "reminder_days_before": emails.reminder_days_before,
        "nudge_after_days": emails.nudge_after_days,
    }
