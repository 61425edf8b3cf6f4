"""Connect a WooCommerce store: verify its keys, set up its webhooks, save it. One path for the
key flow's callback (`web/woocommerce_connect.py`) and the operator's
`referral-plugin shop add-woocommerce` (an edge module: it wires the connector to services).

Order matters: the keys are checked and the webhooks ensured BEFORE anything is saved. In the
key flow any failure makes WooCommerce delete the new key, so saving first would overwrite a
working connection with dead keys; here a failed reconnect leaves the old one untouched. A new
store gets a fresh random webhook secret (written onto every webhook of ours); a store we
already know keeps its secret, so deliveries in flight still verify.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from connectors.woocommerce.rest_client import WooCommerceRestClient
from connectors.woocommerce.store_url import normalize_store_url
from connectors.woocommerce.webhooks_api import WEBHOOK_SECRET_KEY, ensure_webhooks, verify_keys
from referral_plugin.app import AppServices
from referral_plugin.domain.emails import normalize_email
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreClientError
from referral_plugin.services import shops

logger = logging.getLogger(__name__)

DEFAULT_CURRENCY = "USD"
WEBHOOKS_PATH = "/webhooks/woocommerce"

RestFactory = Callable[[str, str, str], WooCommerceRestClient]
T = TypeVar("T")


class ConnectFailed(Exception):
    """The store could not be connected; `message` says why and what to do. `status` is the
    store's HTTP status when it answered (401/403: the keys were refused)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectedStore:
    shop_id: int
    store_url: str
    currency: str
    email: str | None
    webhook_ids: tuple[int, ...]
    delivery_url: str
    verified: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreDetails:
    """What the store tells us about itself (each None when it did not say)."""

    home_url: str | None = None
    currency: str | None = None
    email: str | None = None


def delivery_url(services: AppServices) -> str:
    """Where our webhooks deliver: PUBLIC_BASE_URL + /webhooks/woocommerce."""
    return services.settings.public_base_url.rstrip("/") + WEBHOOKS_PATH


def connect_store(
    services: AppServices,
    *,
    store_url: str,
    consumer_key: str,
    consumer_secret: str,
    now: datetime,
    currency: str | None = None,
    name: str | None = None,
    verify: bool = True,
    create_webhooks: bool = True,
    rest_factory: RestFactory = WooCommerceRestClient,
) -> ConnectedStore:
    """Verify the keys (unless `verify=False`), ensure our webhooks (unless
    `create_webhooks=False`), then save the store with its keys and webhook secret encrypted.
    Returns what was saved; raises ConnectFailed (nothing saved) or the services' errors.
    Idempotent: connecting the same store again updates it and changes no webhook."""
    rest = rest_factory(store_url, consumer_key, consumer_secret)
    details = StoreDetails()
    if verify:
        _call(lambda: verify_keys(rest), "the keys could not be verified")
        details = read_store_details(rest)
        home = normalize_store_url(details.home_url)
        if home and home != store_url:  # X-WC-Webhook-Source is the store's home URL
            logger.info("store url taken from the store", extra={"typed": store_url, "home": home})
            store_url = home
            rest = rest_factory(store_url, consumer_key, consumer_secret)
    known = _known_store(services, store_url)
    webhook_secret = known.get(WEBHOOK_SECRET_KEY) or secrets.token_urlsafe(32)
    target = delivery_url(services)
    ids: list[int] = []
    if create_webhooks:
        ids = _call(
            lambda: ensure_webhooks(
                rest, target, webhook_secret, force_secret=WEBHOOK_SECRET_KEY not in known
            ),
            "the store's webhooks could not be set up",
        )
    credentials = {
        "consumer_key": consumer_key,
        "consumer_secret": consumer_secret,
        WEBHOOK_SECRET_KEY: webhook_secret,
    }
    with services.sessions.begin() as session:
        existing = shops.find_shop(session, Platform.WOOCOMMERCE, store_url)
        chosen = currency or details.currency or (existing.currency if existing else None)
        shop = shops.add_shop(
            session,
            platform=Platform.WOOCOMMERCE,
            domain=store_url,
            currency=chosen or DEFAULT_CURRENCY,
            credentials=credentials,
            box=services.box,
            name=name,
            email=details.email,
            now=now,
        )
        connected = ConnectedStore(
            shop_id=shop.id,
            store_url=shop.domain,
            currency=shop.currency,
            email=shop.email,
            webhook_ids=tuple(ids),
            delivery_url=target,
            verified=verify,
        )
    logger.info("woocommerce store connected", extra={"shop_id": connected.shop_id})
    return connected


def read_store_details(rest: WooCommerceRestClient) -> StoreDetails:
    """The store's home URL (`system_status`), currency (`settings/general`) and the address
    its emails come from (`settings/email`, WordPress's admin email unless changed). Each is
    optional: a store that refuses one of these reads is still connected."""
    home = _read(rest, "system_status", lambda body: body["environment"]["home_url"])
    currency = _read(
        rest, "settings/general/woocommerce_currency", lambda body: str(body["value"]).upper()
    )
    email = _read(rest, "settings/email/woocommerce_email_from_address", lambda body: body["value"])
    return StoreDetails(
        home_url=home if isinstance(home, str) else None,
        currency=currency if currency and len(currency) == 3 and currency.isalpha() else None,
        email=normalize_email(email) if isinstance(email, str) and "@" in email else None,
    )


def _read(rest: WooCommerceRestClient, endpoint: str, pick: Callable[[Any], Any]) -> Any:
    try:
        return pick(rest.get(endpoint).payload)
    except StoreClientError as error:
        logger.info("store detail not read", extra={"endpoint": endpoint, "status": error.status})
    except (KeyError, TypeError, ValueError):
        logger.info("store detail unreadable", extra={"endpoint": endpoint})
    return None


def _known_store(services: AppServices, store_url: str) -> dict[str, str]:
    """The saved credentials of the store ({} when it is new)."""
    with services.sessions.begin() as session:
        shop = shops.find_shop(session, Platform.WOOCOMMERCE, store_url)
        if shop is None:
            return {}
        try:
            return shops.shop_credentials(shop, services.box)
        except ValueError as exc:
            raise ConnectFailed(
                "the saved keys of this store cannot be decrypted: check ENCRYPTION_KEY"
            ) from exc


def _call(call: Callable[[], T], what: str) -> T:
    try:
        return call()
    except StoreClientError as error:
        transient = error.retryable or error.status == 429 or (error.status or 0) >= 500
        transient = transient or error.code in {"TIMEOUT", "CONNECTION"}
        raise ConnectFailed(f"{what}: {error}", status=error.status, retryable=transient) from error
