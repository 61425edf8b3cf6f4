"""The addresses and keys shopper emails carry: the unsubscribe token and link, the signed
status link, the referral link, and the key that turns addresses into hashes.

An unsubscribe token is signed (itsdangerous, purpose-bound salt) and never expires: a link in
an old email must keep working (RFC 8058 asks for that). It carries the program's public id,
the keyed hash of the recipient's address (never the address) and the email's language, so
`GET /u/<token>` can speak the reader's language and `POST /u/<token>` needs nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadData, URLSafeSerializer

from referral_plugin.domain.languages import supported_language
from referral_plugin.services.email_facts import EmailFacts
from referral_plugin.web.shopper_links import AdvocateRef, referral_link, status_token

EMAIL_HASH_KEY_PURPOSE = b"referral-plugin/email-hashes/v1"
UNSUBSCRIBE_SALT = "referral-plugin/unsubscribe/v1"


@dataclass(frozen=True, slots=True)
class UnsubscribeRef:
    public_id: str  # the program the email came from (its shop is the one unsubscribed from)
    email_hash: str  # `services.email_unsubscribes.recipient_hash` of the recipient
    language: str  # the email's language, for the confirmation page


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailLinks:
    unsubscribe: str
    store: str
    status: str | None = None  # emails to an advocate
    referral: str | None = None  # the advocate's link (theirs, or the inviter's)


def email_hash_key(secret_key: str) -> bytes:
    """The key of `recipient_hash`: a purpose-bound HMAC of SECRET_KEY (same in every process)."""
    return hmac.new(secret_key.encode(), EMAIL_HASH_KEY_PURPOSE, hashlib.sha256).digest()


def unsubscribe_token(secret_key: str, ref: UnsubscribeRef) -> str:
    return _serializer(secret_key).dumps([ref.public_id, ref.email_hash, ref.language])


def read_unsubscribe_token(secret_key: str, token: str) -> UnsubscribeRef | None:
    """The reference a token carries; None when forged or malformed."""
    try:
        value: Any = _serializer(secret_key).loads(token)
    except BadData:
        return None
    if not (isinstance(value, list) and len(value) == 3 and all(isinstance(v, str) for v in value)):
        return None
    return UnsubscribeRef(value[0], value[1], supported_language(value[2]) or "en")


def email_links(
    public_base_url: str, secret_key: str, facts: EmailFacts, email_hash: str, *, now: datetime
) -> EmailLinks:
    """Every link one email needs; the status link is signed at `now` (valid 30 days)."""
    base = public_base_url.rstrip("/")
    ref = UnsubscribeRef(facts.public_id, email_hash, facts.language)
    token = unsubscribe_token(secret_key, ref)
    code = facts.advocate_code
    status = None
    if facts.to_advocate and code:
        advocate = AdvocateRef(facts.public_id, code)
        signed = status_token(secret_key, advocate, clock=now.timestamp)
        status = f"{base}/p/{facts.public_id}/status/{signed}"
    return EmailLinks(
        unsubscribe=f"{base}/u/{token}",
        store=facts.store_url,
        status=status,
        referral=referral_link(base, code) if code else None,
    )


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=UNSUBSCRIBE_SALT)
