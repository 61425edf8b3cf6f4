"""Shop use cases: install (upsert), sealed credentials, and admin API tokens."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..crypto import SecretBox
from ..domain.events import Platform
from ..errors import NotFound, ValidationError
from ..models import Shop, ShopStatus

TOKEN_PREFIX = "rp_"  # noqa: S105 - a public prefix, not a secret


def _normalize_domain(domain: str) -> str:
    return domain.strip().lower().rstrip("/")


def add_shop(
    session: Session,
    *,
    platform: Platform,
    domain: str,
    currency: str,
    credentials: dict[str, str],
    box: SecretBox,
    name: str | None = None,
    email: str | None = None,
    now: datetime,
) -> Shop:
    """Install or re-install a shop: upsert on (platform, domain), credentials sealed.

    Returns the shop (active again if it was uninstalled). Idempotent; raises ValidationError
    for a blank domain or a currency that is not a 3-letter code.
    """
    domain = _normalize_domain(domain)
    currency = currency.strip().upper()
    if not domain:
        raise ValidationError.single("domain", "is required")
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError.single("currency", "must be a 3-letter ISO 4217 code")
    shop = find_shop(session, platform, domain)
    if shop is None:
        shop = Shop(
            platform=platform,
            domain=domain,
            currency=currency,
            status=ShopStatus.ACTIVE,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(shop)
        except IntegrityError:  # installed concurrently: update the winner's row
            shop = find_shop(session, platform, domain)
            assert shop is not None
    shop.currency = currency
    shop.name = name if name is not None else shop.name
    shop.email = email if email is not None else shop.email
    shop.credentials = box.seal(json.dumps(credentials, sort_keys=True))
    shop.status = ShopStatus.ACTIVE
    shop.uninstalled_at = None
    session.flush()
    return shop


def shop_credentials(shop: Shop, box: SecretBox) -> dict[str, str]:
    """The shop's decrypted credentials ({} when none); raises ValueError on a wrong key."""
    if not shop.credentials:
        return {}
    return dict(json.loads(box.open(shop.credentials)))


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(session: Session, shop_id: int) -> str:
    """A new admin API token for the shop, returned once in plain text (only its SHA-256 is
    stored). Issuing again replaces the previous token. Raises NotFound."""
    shop = get_shop(session, shop_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    shop.api_token_hash = _hash_token(token)
    session.flush()
    return token


def shop_for_api_token(session: Session, token: str) -> Shop | None:
    """The active shop the token belongs to, or None. Looked up by hash, so no secret is
    compared character by character."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    return session.scalars(
        select(Shop).where(
            Shop.api_token_hash == _hash_token(token), Shop.status == ShopStatus.ACTIVE
        )
    ).one_or_none()


def get_shop(session: Session, shop_id: int) -> Shop:
    """The shop; raises NotFound."""
    shop = session.scalars(select(Shop).where(Shop.id == shop_id)).one_or_none()
    if shop is None:
        raise NotFound("shop", shop_id)
    return shop


def find_shop(session: Session, platform: Platform, domain: str) -> Shop | None:
    """The shop installed from `domain` on `platform` (any status), or None."""
    return session.scalars(
        select(Shop).where(Shop.platform == platform, Shop.domain == _normalize_domain(domain))
    ).one_or_none()


def mark_uninstalled(session: Session, shop_id: int, *, now: datetime) -> Shop:
    """The shop removed our app: status uninstalled, credentials dropped at once (the store has
    revoked them anyway). Idempotent: an already uninstalled shop keeps its first
    uninstalled_at. Raises NotFound. Re-installing (`add_shop`) makes it active again."""
    shop = get_shop(session, shop_id)
    shop.credentials = None
    if shop.status != ShopStatus.UNINSTALLED:
        shop.status = ShopStatus.UNINSTALLED
        shop.uninstalled_at = now
    session.flush()
    return shop
