"""Referral and reward codes: generation and the one normalization used everywhere.

Codes are read aloud and printed, so the random part uses an alphabet without characters that
look or sound alike (no 0/O, 1/I/L). Eight random characters from 31 give about 8.5e11
possibilities per prefix: with rate limits on lookups, nobody can enumerate other advocates'
codes. Uniqueness per shop is the database's job (a unique index on the normalized code);
callers retry generation on a collision.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from typing import Protocol

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RANDOM_LENGTH = 8
FRIEND_RANDOM_LENGTH = 12  # 31**12 ≈ 7.9e17: a claimed code may work for anyone (Shopify)
FRIEND_PREFIX = "FR"
PREFIX_MAX = 8
MAX_CODE_LENGTH = 64  # well under Shopify's 255 and WooCommerce's limits

_SEPARATORS = frozenset(" -_\t\r\n\u00a0")


class Chooser(Protocol):
    def choice(self, seq: str) -> str: ...


def normalize_code(value: str | None) -> str:
    """The canonical form of a code: upper case, spaces, dashes and underscores removed.

    `" anna-7q2k 9xpa "` and `"ANNA7Q2K9XPA"` are the same code. WooCommerce stores coupon codes
    in lower case and Shopify matches them case-insensitively, so matching is case-insensitive.
    Returns "" for None or a blank value.
    """
    if not value:
        return ""
    text = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in text if ch not in _SEPARATORS).upper()


def name_prefix(name: str | None) -> str:
    """An upper-case ASCII prefix from a person's first name: 'Zoë Smith' → 'ZOE'."""
    if not name:
        return ""
    first = name.strip().split()[0] if name.strip() else ""
    ascii_text = unicodedata.normalize("NFKD", first).encode("ascii", "ignore").decode()
    letters = "".join(ch for ch in ascii_text.upper() if "A" <= ch <= "Z")
    return letters[:PREFIX_MAX]


def random_part(length: int = RANDOM_LENGTH, chooser: Chooser | None = None) -> str:
    pick = chooser or secrets.SystemRandom()
    return "".join(pick.choice(ALPHABET) for _ in range(length))


def generate_code(name: str | None = None, *, chooser: Chooser | None = None) -> str:
    """A new display code such as 'ANNA-7Q2K-9XPA' (or '7Q2K-9XPA' without a name).

    The display form carries dashes for reading; `normalize_code` of it is what is stored and
    matched.
    """
    body = random_part(chooser=chooser)
    grouped = f"{body[:4]}-{body[4:]}"
    prefix = name_prefix(name)
    return f"{prefix}-{grouped}" if prefix else grouped


def generate_friend_code(*, chooser: Chooser | None = None) -> str:
    """A new per-friend code such as 'FR-7Q2K-9XPA-MN4D': 12 random characters, no name.

    A claimed code is bound to the friend's email where the store allows it, yet on Shopify a
    new customer cannot be named, so the code itself must be unguessable: about 59 bits of
    randomness, from `secrets` unless a chooser is given (tests).
    """
    body = random_part(FRIEND_RANDOM_LENGTH, chooser=chooser)
    return f"{FRIEND_PREFIX}-{body[:4]}-{body[4:8]}-{body[8:]}"


def reward_code(reward_id: int, key: bytes, prefix: str = "RW") -> str:
    """The store code for one reward: deterministic, so a retried create finds its own code,
    and keyed, so nobody can derive another advocate's reward code from an id.

    HMAC-SHA256(key, "reward:<id>") mapped onto the readable alphabet: e.g. 'RW-7Q2K-9XPA-MN4D'.
    """
    return _keyed_code(f"reward:{reward_id}", key, prefix)


def friend_offer_code(program_id: int, key: bytes, variant: str | None = None) -> str:
    """The own code of a program's friend-offer discount (Shopify's discount needs one; the
    advocates' codes are added to it): deterministic, so the discount is found again, and
    keyed, so nobody can guess it and get the friend offer without an advocate. An A/B
    variant with its own friend reward has its own discount, hence its own code."""
    message = f"friend-offer:{program_id}" + ("" if variant is None else f":{variant}")
    return _keyed_code(message, key, "RF")


def _keyed_code(message: str, key: bytes, prefix: str) -> str:
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    body = "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:12])
    return f"{prefix}-{body[:4]}-{body[4:8]}-{body[8:12]}"
