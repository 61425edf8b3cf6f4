"""A StoreClient for one shop, from the literal registry in `connectors.registry` (an edge module:
services receive the client as an argument and never import connectors).

A Shopify shop's expiring offline token is refreshed here, before the client is built
(`shopify_tokens.fresh_credentials`: serialized per shop, revoked grants stop all calls)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from connectors.registry import STORE_CLIENT_FACTORIES, StoreClientFactory
from referral_plugin.app import AppServices
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import (
    FriendCodeOffer,
    IssuedReward,
    RewardCodeRequest,
    StoreClient,
    StoreOrder,
    StoreUnavailable,
)
from referral_plugin.models import Shop, ShopStatus
from referral_plugin.services.shops import shop_credentials
from referral_plugin.shopify_tokens import fresh_credentials

ClientFor = Callable[[Shop, AppServices], StoreClient]


def store_client_for(
    shop: Shop,
    services: AppServices,
    factories: Mapping[Platform, StoreClientFactory] = STORE_CLIENT_FACTORIES,
    *,
    clock: Callable[[], datetime] | None = None,
) -> StoreClient:
    """The shop's StoreClient. Raises StoreUnavailable when the shop is uninstalled, has no
    usable credentials (a revoked Shopify grant included), or its platform has no client
    yet. A Shopify token close to expiry is refreshed first (`clock`: now, for the margin)."""
    if shop.status is not ShopStatus.ACTIVE:
        raise StoreUnavailable(f"shop {shop.id} is {shop.status}")
    factory = factories.get(shop.platform)
    if factory is None:
        raise StoreUnavailable(f"no store client for {shop.platform} yet")
    if shop.platform is Platform.SHOPIFY:
        now = clock() if clock is not None else datetime.now(tz=UTC)
        credentials = fresh_credentials(shop, services, now=now)
    else:
        try:
            credentials = shop_credentials(shop, services.box)
        except ValueError as exc:
            raise StoreUnavailable("the shop's credentials cannot be decrypted") from exc
    if not credentials:
        raise StoreUnavailable("the shop has no store credentials")
    return factory(shop.domain, credentials, services.settings)


class UnavailableStoreClient:
    """Stands in for a client that cannot be built: every call raises the same
    StoreUnavailable, so the issuing service and the friend-code job record the reason on the
    rewards and codes they claim."""

    def __init__(self, reason: StoreUnavailable) -> None:
        self.reason = reason

    def _raise(self) -> StoreUnavailable:
        return StoreUnavailable(str(self.reason))

    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        raise self._raise()

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        raise self._raise()

    def add_friend_codes(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        raise self._raise()

    def orders_updated_since(self, since: datetime) -> Iterable[StoreOrder]:
        raise self._raise()


def client_or_unavailable(
    shop: Shop,
    services: AppServices,
    client_for: ClientFor | None = None,
) -> StoreClient:
    """`store_client_for` (or `client_for`), with StoreUnavailable turned into a client that
    raises it on every call."""
    try:
        return (client_for or store_client_for)(shop, services)
    except StoreUnavailable as reason:
        return UnavailableStoreClient(reason)
