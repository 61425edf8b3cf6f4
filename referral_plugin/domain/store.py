"""The StoreClient seam: what the worker asks of a store, and the errors a store call raises.

One implementation per platform lives in `connectors/` (Shopify GraphQL Admin API, WooCommerce
REST v3); services and jobs receive a client as an argument and never import connectors. Every
call has an explicit timeout, says whether a failure is worth retrying, and is safe to repeat:
reward codes are derived from our reward ids, a friend's claimed code is stored with us before
it is sent, and "already exists with the same spec" counts as success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from .codes import friend_offer_code
from .experiments import friend_offer_variant, program_for
from .programs import Program, RewardKind, RewardSpec, ValueBasis
from .rules import CHECKOUT_DISCOUNT_KINDS, NO_FRIEND_REWARD_KINDS


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


class FriendCodesRejected(StoreClientError):
    """Some codes were not added for good (e.g. TAKEN: another discount owns the code); every
    other code of the call was added. `rejected` maps each refused code to the reason."""

    def __init__(self, rejected: Mapping[str, str]) -> None:
        first = next(iter(rejected.items()), ("", ""))
        super().__init__(
            f"{len(rejected)} code(s) refused, first {first[0]}: {first[1]}",
            retryable=False,
            code="CODES_REJECTED",
        )
        self.rejected = dict(rejected)


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendCodeOffer:
    """What a friend gets at checkout with any advocate's code of one program: the program's
    friend reward as a store discount, once per customer. One offer per program, and one per
    A/B variant that replaces the friend reward (`variant`); advocates' codes are added to
    their group's offer in bulk (`StoreClient.add_friend_codes`)."""

    program_id: int
    title: str  # what the merchant sees in the store, e.g. "Referral: Give 15%, get $10"
    reward: RewardSpec  # PERCENT_DISCOUNT, FIXED_DISCOUNT, FREE_SHIPPING or FREE_PRODUCT
    currency: str  # the program's (the store's) currency of a fixed amount
    starts_at: datetime
    ends_at: datetime | None = None
    minimum_subtotal: Decimal | None = None
    once_per_customer: bool = True
    # The offer's own code, for a platform whose discount needs one to exist (Shopify): keyed
    # (`codes.friend_offer_code`), so nobody can guess it and get the offer without an advocate.
    offer_code: str
    variant: str | None = None  # the A/B variant whose friend reward this is; None: the program's


def friend_code_offer(
    program: Program, *, now: datetime, key: bytes, variant: str | None = None
) -> FriendCodeOffer | None:
    """The program's friend offer for the friends of advocates of A/B group `variant` (the
    variant's friend reward when it replaces it, else the program's: see
    `experiments.friend_offer_variant`), or None when that friend reward is none a store
    discount can express (no friend reward, a one-sided or contest program, points, credit,
    cash, a fixed discount valued as a percent of the order, a value missing).

    Without an offer, advocates' codes are not put into the store: a shopper typing one at
    checkout is refused by the store, so such a program attributes through the referral link
    (the click and the landing `ref`), claims and the advocate's identity instead of a code.

    Starts at the program's start (or `now`), ends at its end; the minimum subtotal is the
    larger of the program's condition and the reward's own minimum. Pure and deterministic for
    a given `now` and key.
    """
    offer_variant = friend_offer_variant(program, variant)
    spec = program_for(program, offer_variant).friend_reward
    if spec is None or program.kind in NO_FRIEND_REWARD_KINDS or not _expressible(spec):
        return None
    conditions = program.conditions
    minimums = [m for m in (conditions.minimum_subtotal, spec.minimum_subtotal) if m is not None]
    suffix = "" if offer_variant is None else f" (variant {offer_variant})"
    return FriendCodeOffer(
        program_id=program.id,
        title=f"Referral: {program.name}"[: 255 - len(suffix)] + suffix,
        reward=spec,
        currency=program.currency,
        starts_at=conditions.starts_at or now,
        ends_at=conditions.ends_at,
        minimum_subtotal=max(minimums) if minimums else None,
        offer_code=friend_offer_code(program.id, key, offer_variant),
        variant=offer_variant,
    )


def _expressible(spec: RewardSpec) -> bool:
    if spec.kind not in CHECKOUT_DISCOUNT_KINDS:
        return False
    if spec.kind is RewardKind.PERCENT_DISCOUNT:
        return spec.percent is not None and Decimal(0) < spec.percent <= Decimal(100)
    if spec.kind is RewardKind.FIXED_DISCOUNT:
        return spec.basis is ValueBasis.FIXED and spec.amount is not None and spec.amount > 0
    if spec.kind is RewardKind.FREE_PRODUCT:
        return bool(spec.product_id and spec.product_id.strip())
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardCodeRequest:
    """A single-use code (or credit / tag) for one customer: an advocate's or friend's reward,
    derived from our reward, or a friend's claimed code (`claimed_code_request`), which goes
    through the same idempotent path (`StoreClient.issue_reward`)."""

    reward_id: int | None  # our reward; None for a friend's claimed code
    code: str  # `codes.reward_code(reward_id, key)` or the claimed code: the same on every retry
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
    # Our FRIEND code's id for a claimed code. The store then binds it to the customer with
    # `email` where it knows one (Shopify), since a friend's customer id is not known to us.
    friend_code_id: int | None = None


def claimed_code_title(code: str) -> str:
    """The store title of a friend's claimed code: names the code, so a retry that meets the
    code already taken recognises its own discount by the title (as reward codes do)."""
    return f"Referral friend code {code}"


def claimed_code_request(
    offer: FriendCodeOffer, *, code_id: int, code: str, email: str | None
) -> RewardCodeRequest:
    """The store request for one friend's claimed code: the program's friend offer as a code
    of its own, used once (`usageLimit` / `usage_limit` 1, once per customer), bound to the
    friend's email (WooCommerce `email_restrictions`; on Shopify to the customer with that
    email when the store has one), valid from the offer's start to its end. Pure."""
    spec = offer.reward
    return RewardCodeRequest(
        reward_id=None,
        friend_code_id=code_id,
        code=code,
        kind=spec.kind,
        title=claimed_code_title(code),
        currency=offer.currency,
        amount=spec.amount if spec.kind is RewardKind.FIXED_DISCOUNT else None,
        percent=spec.percent if spec.kind is RewardKind.PERCENT_DISCOUNT else None,
        product_id=spec.product_id if spec.kind is RewardKind.FREE_PRODUCT else None,
        email=email,
        starts_at=offer.starts_at,
        expires_at=offer.ends_at,
        minimum_subtotal=offer.minimum_subtotal,
    )


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
        """Create the reward (or a friend's claimed code) in the store; idempotent on
        `request.code`. Raises StoreClientError."""

    def revoke_reward(self, store_ref: str, code: str | None) -> None:
        """Disable or delete an unused reward; a reward already gone counts as revoked."""

    def add_friend_codes(self, offer: FriendCodeOffer, codes: Sequence[str]) -> None:
        """Make advocates' codes usable by friends at checkout with `offer` (created in the
        store the first time, found again after). Idempotent: a code already holding this
        offer counts as added. Raises FriendCodesRejected naming the codes refused for good
        (the others were added), StoreClientError for a failure of the whole call."""

    def orders_updated_since(self, since: datetime) -> Iterable[StoreOrder]:
        """Orders changed at or after `since`, oldest first, paginated lazily."""
