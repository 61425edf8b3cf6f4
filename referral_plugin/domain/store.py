"""The StoreClient seam: what the worker asks of a store, and the errors a store call raises.

One implementation per platform lives in `connectors/` (Shopify GraphQL Admin API, WooCommerce
REST v3); services and jobs receive a client as an argument and never import connectors. Every
call has an explicit timeout, says whether a failure is worth retrying, and is safe to repeat:
reward codes are derived from our reward ids, and "already exists with the same spec" counts as
success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from .programs import RewardKind


class StoreClientError(Exception):
    """A store call failed. `retryable` says whether the same call may succeed later
    (429, 5xx, timeouts, throttling); `retry_after` is the store's hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.code = code
        self.retry_after = retry_after


class StoreUnavailable(StoreClientError):
    """The shop cannot be called at all (uninstalled, revoked token, missing credentials)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardCodeRequest:
    """A single-use reward code (or credit / tag) for one customer, derived from our reward."""

    reward_id: int
    code: str  # `codes.reward_code(reward_id, key)`: the same on every retry
    kind: RewardKind
    title: str
    currency: str
    amount: Decimal | None = None  # fixed amount or store credit
    percent: Decimal | None = None  # 15 means 15 %
    product_id: str | None = None  # free product
    tag: str | None = None  # VIP
    customer_id: str | None = None  # bind to this customer where the platform allows
    email: str | None = None  # or to this email (WooCommerce email_restrictions)
    starts_at: datetime
    expires_at: datetime | None = None
    minimum_subtotal: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedReward:
    code: str | None  # the code the shopper uses (None for credit and tags)
    store_ref: str  # the store's id for what was created (discount GID, coupon id, ...)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreOrder:
    """One order read back from the store for reconciliation, in the form the platform's
    connector translates (the same path as a webhook delivery)."""

    order_id: str
    topic: str  # the connector topic that translates `body`, e.g. "orders/updated"
    body: bytes
    updated_at: datetime
    # The headers a webhook of `topic` from this shop carries (e.g. X-Shopify-Shop-Domain and
    # X-Shopify-Topic): the worker identifies stored deliveries with `Connector.identify`.
    headers: Mapping[str, str] = field(default_factory=dict)


class StoreClient(Protocol):
    def issue_reward(self, request: RewardCodeRequest) -> IssuedReward:
        """Create the reward in the store; idempotent on `request.code`. Raises
        StoreClientError."""

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        """Disable or delete an unused reward; a reward already gone counts as revoked."""

    def add_friend_codes(self, program_id: int, codes: Sequence[str]) -> None:
        """Make advocates' codes usable by friends at checkout (the program's friend offer);
        codes that already exist count as added."""

    def orders_updated_since(self, since: datetime) -> Iterable[StoreOrder]:
        """Orders changed at or after `since`, oldest first, paginated lazily."""
