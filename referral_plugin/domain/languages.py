"""The languages shopper pages speak, and how a language tag is read (pure, stdlib only).

The list is the one place a language is added: the program codec validates merchants' copy
overrides and store language against it, and `referral_plugin.i18n` chooses among it.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"
# English, Romanian, Polish, Italian, Persian: each has a catalog in referral_plugin/translations.
SHOPPER_LANGUAGES = ("en", "ro", "pl", "it", "fa")
RIGHT_TO_LEFT = frozenset({"fa"})


def supported_language(tag: object) -> str | None:
    """The supported language a tag such as "fa", "pl-PL" or "it_IT" names, else None."""
    if not isinstance(tag, str):
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SHOPPER_LANGUAGES else None


def text_direction(language: str) -> str:
    """ "rtl" for right-to-left languages, else "ltr" (the value of the html `dir` attribute)."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"
