"""A Shopify shop's offline token: installed from a grant, refreshed before it expires, marked
when Shopify revokes it. An edge module (it wires `connectors.shopify` to the shops service).

The sealed credentials (`shops.credentials`) hold the whole token response plus `expires_at`,
`refresh_token_expires_at`, `obtained_at` and `installed_at` (ISO 8601, UTC). A revoked grant
leaves only `installed_at`, `revoked_at` and `revoked_reason`: every store call then raises
StoreUnavailable until the merchant opens the app again (which installs a fresh grant).

Refreshes are serialized per shop: on PostgreSQL in a short transaction of their own holding
`SELECT ... FOR UPDATE` on the shop row, re-reading the credentials after the lock so a worker
that waited finds the other's fresh token and does not refresh again. On SQLite the caller's
transaction already holds the single write lock (a second transaction would wait on it
forever), so the refresh is written in the caller's transaction; should that roll back,
Shopify still honours the previous refresh token until the new one is used (FACTS §1.3).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value

from connectors.shopify import documents
from connectors.shopify.graphql_client import ShopifyGraphQL
from connectors.shopify.oauth import (
    TokenEndpoint,
    TokenGrant,
    TokenRequestFailed,
    graphql_endpoint,
    shop_origin,
)
from connectors.shopify.session_token import SessionToken, verify_session_token
from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreUnavailable
from referral_plugin.models import Shop
from referral_plugin.services.shops import add_shop, shop_credentials
from referral_plugin.settings import Settings

logger = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before the access token expires


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopDetails:
    """What the install reads from the shop (`shop { currencyCode name email }`)."""

    currency: str
    name: str | None
    email: str | None


def token_endpoint(settings: Settings) -> TokenEndpoint:
    """The app's token endpoint client; raises StoreUnavailable when the app has no key."""
    if not settings.shopify_api_key or not settings.shopify_api_secret:
        raise StoreUnavailable("SHOPIFY_API_KEY and SHOPIFY_API_SECRET are not set")
    return TokenEndpoint(settings.shopify_api_key, settings.shopify_api_secret)


def verify_app_session_token(settings: Settings, token: str) -> SessionToken:
    """A session token App Bridge sent for this app, checked against the app's key and its
    current or previous secret (during a rotation); raises SessionTokenInvalid."""
    secrets = tuple(
        s for s in (settings.shopify_api_secret, settings.shopify_previous_api_secret) if s
    )
    return verify_session_token(token, api_key=settings.shopify_api_key or "", secrets=secrets)


def admin_graphql(settings: Settings, shop: str, access_token: str) -> ShopifyGraphQL:
    """The shop's GraphQL Admin API at SHOPIFY_SHOP_ORIGIN (https://{shop} in production)."""
    version = settings.shopify_api_version
    endpoint = graphql_endpoint(settings.shopify_shop_origin, shop, version)
    return ShopifyGraphQL(shop, access_token, version, endpoint=endpoint)


def read_shop_details(settings: Settings, shop: str, access_token: str) -> ShopDetails:
    """The shop's currency, name and email. Raises StoreClientError."""
    data = admin_graphql(settings, shop, access_token).execute(documents.SHOP_DETAILS)
    details = data["shop"]
    return ShopDetails(
        currency=str(details["currencyCode"]),
        name=details.get("name") or None,
        email=details.get("email") or None,
    )


def save_installation(
    session: Session,
    services: AppServices,
    *,
    shop: str,
    grant: TokenGrant,
    details: ShopDetails,
    now: datetime,
) -> Shop:
    """Install (or reinstall) the shop with the grant sealed; returns the shop."""
    credentials = {**grant.credentials(), "installed_at": now.isoformat()}
    installed = add_shop(
        session,
        platform=Platform.SHOPIFY,
        domain=shop,
        currency=details.currency,
        credentials=credentials,
        box=services.box,
        name=details.name,
        email=details.email,
        now=now,
    )
    logger.info("shopify shop installed", extra={"shop": shop, "shop_id": installed.id})
    return installed


def needs_refresh(credentials: dict[str, str], now: datetime) -> bool:
    """True when an expiring token is within REFRESH_MARGIN of its expiry."""
    expires_at = _time(credentials.get("expires_at"))
    return expires_at is not None and expires_at - now <= REFRESH_MARGIN


def fresh_credentials(
    shop: Shop,
    services: AppServices,
    *,
    now: datetime | None = None,
    endpoint: TokenEndpoint | None = None,
) -> dict[str, str]:
    """The shop's credentials with an access token good for at least REFRESH_MARGIN,
    refreshed (once, serialized per shop) when needed. Raises StoreUnavailable when the
    grant was revoked, the refresh is refused, or the token expired and Shopify cannot be
    reached now (the caller retries later)."""
    now = now or datetime.now(tz=UTC)
    credentials = _open(shop, services)
    _raise_if_revoked(credentials)
    if not needs_refresh(credentials, now):
        return credentials
    with _refresh_transaction(shop, services) as session:
        locked = session.scalars(
            select(Shop)
            .where(Shop.id == shop.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        credentials = _open(locked, services)
        _raise_if_revoked(credentials)
        outcome: dict[str, str] | StoreUnavailable = credentials
        if needs_refresh(credentials, now):  # else another worker refreshed while we waited
            outcome = _refresh(session, locked, credentials, services, now, endpoint)
        _remember(shop, locked)
    # Raised after the transaction ends, so a revoked grant's mark is committed.
    if isinstance(outcome, StoreUnavailable):
        raise outcome
    return outcome


def _refresh(
    session: Session,
    shop: Shop,
    credentials: dict[str, str],
    services: AppServices,
    now: datetime,
    endpoint: TokenEndpoint | None,
) -> dict[str, str] | StoreUnavailable:
    """The refreshed credentials (sealed on `shop`), the old ones while they still work, or
    the StoreUnavailable to raise once the transaction is over."""
    refresh_token = credentials.get("refresh_token")
    if not refresh_token:
        return _keep_or_fail(credentials, now, "the token expired and there is no refresh token")
    origin = shop_origin(services.settings.shopify_shop_origin, shop.domain)
    try:
        grant = (endpoint or token_endpoint(services.settings)).refresh(
            origin, refresh_token, now=now
        )
    except TokenRequestFailed as failure:
        extra = {"shop_id": shop.id, "status": failure.status, "error_code": failure.error}
        if failure.dead_grant:
            logger.warning("shopify token revoked", extra=extra)
            _seal(shop, services, _revoked(credentials, now, str(failure)))
            session.flush()
            return StoreUnavailable(
                "Shopify revoked the app's access to this shop: the merchant must open the "
                "app in Shopify admin again"
            )
        logger.warning("shopify token refresh failed", extra=extra)
        if failure.retryable:
            return _keep_or_fail(credentials, now, f"token refresh failed for now ({failure})")
        return StoreUnavailable(
            f"Shopify refused the token refresh ({failure}); check SHOPIFY_API_KEY and "
            "SHOPIFY_API_SECRET"
        )
    fresh = {**grant.credentials(), "installed_at": credentials.get("installed_at", "")}
    _seal(shop, services, fresh)
    session.flush()
    logger.info("shopify token refreshed", extra={"shop_id": shop.id})
    return fresh


@contextmanager
def _refresh_transaction(shop: Shop, services: AppServices) -> Iterator[Session]:
    outer = object_session(shop)
    if outer is not None and outer.in_transaction() and outer.get_bind().dialect.name == "sqlite":
        yield outer  # SQLite: the caller's transaction is the single writer already
        return
    with services.sessions.begin() as session:
        yield session


def _remember(shop: Shop, locked: Shop) -> None:
    """Show the caller's Shop the stored credentials without marking it changed."""
    if shop is not locked:
        set_committed_value(shop, "credentials", locked.credentials)


def _keep_or_fail(
    credentials: dict[str, str], now: datetime, reason: str
) -> dict[str, str] | StoreUnavailable:
    expires_at = _time(credentials.get("expires_at"))
    if expires_at is not None and expires_at > now:
        return credentials  # still good for a few minutes: use it, refresh on the next call
    return StoreUnavailable(reason)


def _revoked(credentials: dict[str, str], now: datetime, reason: str) -> dict[str, str]:
    return {
        "installed_at": credentials.get("installed_at", ""),
        "revoked_at": now.isoformat(),
        "revoked_reason": reason[:300],
    }


def _raise_if_revoked(credentials: dict[str, str]) -> None:
    if credentials.get("revoked_at"):
        raise StoreUnavailable(
            f"Shopify revoked the app's access on {credentials['revoked_at']}: the merchant "
            "must open the app in Shopify admin again"
        )


def _open(shop: Shop, services: AppServices) -> dict[str, str]:
    try:
        return shop_credentials(shop, services.box)
    except ValueError as exc:
        raise StoreUnavailable("the shop's credentials cannot be decrypted") from exc


def _seal(shop: Shop, services: AppServices, credentials: dict[str, str]) -> None:
    shop.credentials = services.box.seal(json.dumps(credentials, sort_keys=True))


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
