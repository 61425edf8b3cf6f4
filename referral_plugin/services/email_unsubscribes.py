"""Email unsubscribes per shop, kept as keyed hashes of the address (no raw email stored).

`recipient_hash` is the one way an address becomes a key: HMAC-SHA256 of the shop id and the
identity email (`emails.identity_email`, so `Anna.B+x@gmail.com` and `annab@gmail.com` are one
inbox) under a key the caller derives from SECRET_KEY (`email_links.email_hash_key`). The same
address gives different hashes in different shops, so the tables of two shops cannot be joined.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.emails import identity_email
from ..models.shopper_emails import EmailUnsubscribe


def recipient_hash(key: bytes, shop_id: int, email: str) -> str:
    """The stored form of an address in one shop (hex); raises ValueError for a non-address."""
    identity = identity_email(email)
    if identity is None:
        raise ValueError("not an email address")
    return hmac.new(key, f"{shop_id}\x00{identity}".encode(), hashlib.sha256).hexdigest()


def unsubscribe(session: Session, shop_id: int, email_hash: str, *, now: datetime) -> None:
    """Record that the address asked for no more emails from the shop. Idempotent."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = module.insert(EmailUnsubscribe).values(
        shop_id=shop_id, email_hash=email_hash, created_at=now
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["shop_id", "email_hash"]))


def unsubscribed_among(session: Session, shop_id: int, hashes: Iterable[str]) -> set[str]:
    """Those of `hashes` that are unsubscribed from the shop."""
    wanted = sorted(set(hashes))
    if not wanted:
        return set()
    found = session.scalars(
        select(EmailUnsubscribe.email_hash).where(
            EmailUnsubscribe.shop_id == shop_id, EmailUnsubscribe.email_hash.in_(wanted)
        )
    )
    return set(found)


def is_unsubscribed(session: Session, shop_id: int, email_hash: str) -> bool:
    return bool(unsubscribed_among(session, shop_id, [email_hash]))
