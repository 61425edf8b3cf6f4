"""Merchant dashboard sign-in: single-use emailed links and the server-side sessions they start.

A link's token and a session's cookie are random (32 bytes, URL-safe); the database keeps only
their SHA-256, so a leaked table signs nobody in. A link is consumed by one conditional UPDATE
(`used_at IS NULL AND expires_at > now`), so two clicks never both succeed. A session ends at
its absolute expiry, after an idle gap, at sign-out, or when its shop is no longer active.
Expired rows of a shop are deleted whenever that shop gets a new link or session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..domain.events import Platform
from ..errors import NotFound
from ..models import Shop, ShopStatus
from ..models.merchant_access import MerchantSession, MerchantSignInLink

SIGN_IN_LINK_TTL = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


class SignInLinkInvalid(NotFound):
    """The link is unknown, used or expired (the page says: ask for a new one)."""

    def __init__(self) -> None:
        super().__init__("sign-in link", "(not valid)")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInTarget:
    """A shop a sign-in link may be sent for, and where to send it."""

    shop_id: int
    email: str
    store_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignInLink:
    id: int
    token: str  # only ever in the email
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StartedSession:
    token: str  # only ever in the cookie
    shop_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class MerchantIdentity:
    shop_id: int
    actor: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_sign_in_targets(
    session: Session,
    *,
    domain: str | None,
    email: str | None,
    platforms: frozenset[Platform],
) -> list[SignInTarget]:
    """The active shops of `platforms` with an admin email whose domain (canonical store URL
    or myshopify domain) is `domain`, or whose admin email is `email` (normalized)."""
    if not domain and not email:
        return []
    query = select(Shop).where(
        Shop.status == ShopStatus.ACTIVE,
        Shop.platform.in_(sorted(platforms)),
        Shop.email.is_not(None),
    )
    if domain:
        query = query.where(Shop.domain == domain)
    else:
        query = query.where(func.lower(Shop.email) == email)
    return [
        SignInTarget(shop_id=shop.id, email=shop.email or "", store_name=shop.name or shop.domain)
        for shop in session.scalars(query.order_by(Shop.id).limit(10))
    ]


def create_sign_in_link(
    session: Session, shop_id: int, *, now: datetime, ttl: timedelta = SIGN_IN_LINK_TTL
) -> SignInLink:
    """A new single-use link for the shop, valid for `ttl`. Not idempotent: each call is a
    new link (the caller rate-limits)."""
    session.execute(
        delete(MerchantSignInLink).where(
            MerchantSignInLink.shop_id == shop_id, MerchantSignInLink.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    link = MerchantSignInLink(
        shop_id=shop_id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl
    )
    session.add(link)
    session.flush()
    return SignInLink(id=link.id, token=token, expires_at=link.expires_at)


def usable_sign_in_link(session: Session, token: str, *, now: datetime) -> str | None:
    """The name of the store an unused, unexpired link signs into, else None. Reading a link
    consumes nothing (mail scanners open links before people do)."""
    return session.scalar(
        select(func.coalesce(Shop.name, Shop.domain))
        .join(MerchantSignInLink, MerchantSignInLink.shop_id == Shop.id)
        .where(
            MerchantSignInLink.token_hash == token_hash(token),
            MerchantSignInLink.used_at.is_(None),
            MerchantSignInLink.expires_at > now,
            Shop.status == ShopStatus.ACTIVE,
        )
    )


def sign_in_with_link(
    session: Session, token: str, *, now: datetime, lifetime: timedelta
) -> StartedSession:
    """Consume the link and start a session of its shop; raises SignInLinkInvalid when the
    link is unknown, used, expired, or its shop is no longer active."""
    consumed = session.execute(
        update(MerchantSignInLink)
        .where(
            MerchantSignInLink.token_hash == token_hash(token),
            MerchantSignInLink.used_at.is_(None),
            MerchantSignInLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(MerchantSignInLink.shop_id)
    ).one_or_none()
    if consumed is None:
        raise SignInLinkInvalid()
    shop = session.get(Shop, consumed[0])
    if shop is None or shop.status is not ShopStatus.ACTIVE or not shop.email:
        raise SignInLinkInvalid()
    return start_session(
        session, shop.id, actor=f"merchant:{shop.email}", now=now, lifetime=lifetime
    )


def start_session(
    session: Session, shop_id: int, *, actor: str, now: datetime, lifetime: timedelta
) -> StartedSession:
    """A new session of the shop for `actor`, ending at now + lifetime at the latest."""
    session.execute(
        delete(MerchantSession).where(
            MerchantSession.shop_id == shop_id, MerchantSession.expires_at <= now
        )
    )
    token = secrets.token_urlsafe(32)
    row = MerchantSession(
        shop_id=shop_id,
        token_hash=token_hash(token),
        actor=actor[:255],
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return StartedSession(token=token, shop_id=shop_id, expires_at=row.expires_at)


def session_identity(
    session: Session, token: str, *, now: datetime, idle: timedelta
) -> MerchantIdentity | None:
    """Who the session cookie signs in, or None when it is unknown, ended, expired, idle too
    long or its shop is not active. Records the visit (at most once a minute)."""
    row = session.execute(
        select(MerchantSession)
        .join(Shop, Shop.id == MerchantSession.shop_id)
        .where(
            MerchantSession.token_hash == token_hash(token),
            MerchantSession.ended_at.is_(None),
            MerchantSession.expires_at > now,
            MerchantSession.last_seen_at > now - idle,
            Shop.status == ShopStatus.ACTIVE,
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.flush()
    return MerchantIdentity(shop_id=row.shop_id, actor=row.actor)


def end_session(session: Session, token: str, *, now: datetime) -> None:
    """Sign the session out. Idempotent (an unknown or ended session is left alone)."""
    session.execute(
        update(MerchantSession)
        .where(MerchantSession.token_hash == token_hash(token), MerchantSession.ended_at.is_(None))
        .values(ended_at=now)
    )
