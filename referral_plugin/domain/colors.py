"""Colours of the shopper pages: a merchant's store colour read safely, and WCAG contrast.

The store colour is only ever used as a background with a text colour chosen here (black or
white, whichever contrasts more), so any colour a merchant picks keeps text readable: the
better of the two is always at least 4.58:1, above WCAG AA's 4.5:1 for normal text.
"""

from __future__ import annotations

import re

DEFAULT_STORE_COLOR = "#1f5f8b"  # a calm blue; white text on it contrasts 6.8:1
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
BLACK, WHITE = "#000000", "#ffffff"


def normalize_hex_color(value: object) -> str | None:
    """ "#1F5F8B" → "#1f5f8b"; None for anything that is not a six-digit hex colour."""
    if not isinstance(value, str) or not HEX_COLOR.match(value.strip()):
        return None
    return value.strip().lower()


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of a "#rrggbb" colour (0 black … 1 white)."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1.0 (same) to 21.0 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_text_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background`."""
    on_white = contrast_ratio(background, WHITE)
    return WHITE if on_white >= contrast_ratio(background, BLACK) else BLACK
