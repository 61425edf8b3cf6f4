"""GraphQL input variables for rewards and friend offers, built from our plain request values.

Choices (see the 2026-01 schema, FACTS §1.5):
- `percentage` is a fraction: 15 % is sent as 0.15; money is a Decimal string ("10.00").
- Reward codes are single use (`usageLimit: 1`, `appliesOncePerCustomer: true`) and bound to
  the advocate with `context.customers` when we know the customer id; otherwise `context.all`
  (the code itself is the secret, and it still works once).
- Free product: a basic discount of 100 % (`percentage: 1.0`) on that product only, good for
  one order. Every unit of the product in that order is free (a basic discount cannot cap the
  quantity; `discountOnQuantity` belongs to buy-X-get-Y discounts, which would require buying
  something else first). `amount` is the merchant's cost, for analytics, so it is not used as
  the discount value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import FriendCodeOffer, RewardCodeRequest, StoreClientError

from . import documents

DISCOUNT_KINDS = frozenset(
    {
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FIXED_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.FREE_PRODUCT,
    }
)
_COMBINES_WITH = {"orderDiscounts": False, "productDiscounts": True, "shippingDiscounts": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendOffer:
    """What a program's friends get with an advocate's code (once per customer)."""

    kind: RewardKind  # PERCENT_DISCOUNT, FIXED_DISCOUNT, FREE_SHIPPING or FREE_PRODUCT
    title: str
    starts_at: datetime
    percent: Decimal | None = None  # 15 means 15 %; sent as the fraction 0.15
    amount: Decimal | None = None
    product_id: str | None = None
    minimum_subtotal: Decimal | None = None
    ends_at: datetime | None = None
    once_per_customer: bool = True


def friend_offer(offer: FriendCodeOffer) -> FriendOffer:
    """Our domain's friend offer as this module's FriendOffer (amounts in the shop's currency,
    which is the program's)."""
    return FriendOffer(
        kind=offer.reward.kind,
        title=offer.title,
        starts_at=offer.starts_at,
        percent=offer.reward.percent,
        amount=offer.reward.amount,
        product_id=offer.reward.product_id,
        minimum_subtotal=offer.minimum_subtotal,
        ends_at=offer.ends_at,
        once_per_customer=offer.once_per_customer,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscountCall:
    """One discount-create mutation: the document, its payload's root field, its variables."""

    document: str
    root: str
    variables: dict[str, Any]


def gid(kind: str, identifier: str) -> str:
    """`gid://shopify/<kind>/<id>` for a numeric id; a GID is returned as it is."""
    return identifier if identifier.startswith("gid://") else f"gid://shopify/{kind}/{identifier}"


def iso(moment: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def money_text(amount: Decimal) -> str:
    """A Decimal as a plain decimal string, never a float."""
    return format(amount, "f")


def fraction(percent: Decimal) -> float:
    """15 (percent) → 0.15, the 0-1 fraction Shopify's `percentage` expects."""
    if not Decimal(0) < percent <= Decimal(100):
        raise _invalid(f"percent must be in (0, 100], got {percent}")
    return float(percent / Decimal(100))


def reward_discount(request: RewardCodeRequest) -> DiscountCall:
    """The create mutation for a discount reward (percent, fixed, free shipping, product)."""
    common = {
        "title": request.title,
        "code": request.code,
        "startsAt": iso(request.starts_at),
        "endsAt": iso(request.expires_at) if request.expires_at else None,
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
        "context": _context(request.customer_id),
        "combinesWith": _COMBINES_WITH,
    }
    if request.minimum_subtotal is not None:
        common["minimumRequirement"] = _minimum(request.minimum_subtotal)
    if request.kind is RewardKind.FREE_SHIPPING:
        discount = {**common, "destination": {"all": True}}
        return _free_shipping_call(discount)
    discount = {**common, "customerGets": _reward_gets(request)}
    return DiscountCall(
        document=documents.CREATE_BASIC_DISCOUNT,
        root="discountCodeBasicCreate",
        variables={"discount": discount},
    )


def friend_discount(code: str, offer: FriendOffer) -> DiscountCall:
    """The program's friend-offer discount: open to all buyers (`context.all`), once per
    customer, no total usage limit; advocates' codes are added to it in bulk."""
    common: dict[str, Any] = {
        "title": offer.title,
        "code": code,
        "startsAt": iso(offer.starts_at),
        "endsAt": iso(offer.ends_at) if offer.ends_at else None,
        "usageLimit": None,
        "appliesOncePerCustomer": offer.once_per_customer,
        "context": {"all": "ALL"},
        "combinesWith": _COMBINES_WITH,
    }
    if offer.minimum_subtotal is not None:
        common["minimumRequirement"] = _minimum(offer.minimum_subtotal)
    if offer.kind is RewardKind.FREE_SHIPPING:
        return _free_shipping_call({**common, "destination": {"all": True}})
    if offer.kind is RewardKind.PERCENT_DISCOUNT and offer.percent is not None:
        value: dict[str, Any] = {"percentage": fraction(offer.percent)}
    elif offer.kind is RewardKind.FIXED_DISCOUNT and offer.amount is not None:
        value = _amount_off(offer.amount)
    elif offer.kind is RewardKind.FREE_PRODUCT and offer.product_id:
        value = {"percentage": 1.0}
    else:
        raise _invalid(f"a friend offer of kind {offer.kind} cannot be a Shopify code")
    items: dict[str, Any] = {"all": True}
    if offer.kind is RewardKind.FREE_PRODUCT and offer.product_id:
        items = {"products": {"productsToAdd": [gid("Product", offer.product_id)]}}
    discount = {**common, "customerGets": {"value": value, "items": items}}
    return DiscountCall(
        document=documents.CREATE_BASIC_DISCOUNT,
        root="discountCodeBasicCreate",
        variables={"discount": discount},
    )


def store_credit(request: RewardCodeRequest) -> dict[str, Any]:
    """Variables for `storeCreditAccountCredit` on the customer's account in `currency`."""
    if request.customer_id is None or request.amount is None:
        raise _invalid("store credit needs the customer id and an amount")
    credit: dict[str, Any] = {
        "creditAmount": {"amount": money_text(request.amount), "currencyCode": request.currency},
        "notify": False,
    }
    if request.expires_at is not None:
        credit["expiresAt"] = iso(request.expires_at)
    return {"id": gid("Customer", request.customer_id), "credit": credit}


def customer_tags(request: RewardCodeRequest) -> dict[str, Any]:
    """Variables for `tagsAdd` / `tagsRemove` with the VIP tag."""
    if request.customer_id is None or not request.tag:
        raise _invalid("a VIP tag needs the customer id and a tag")
    return {"id": gid("Customer", request.customer_id), "tags": [request.tag]}


def _free_shipping_call(discount: dict[str, Any]) -> DiscountCall:
    return DiscountCall(
        document=documents.CREATE_FREE_SHIPPING_DISCOUNT,
        root="discountCodeFreeShippingCreate",
        variables={"discount": discount},
    )


def _context(customer_id: str | None) -> dict[str, Any]:
    if customer_id is None:
        return {"all": "ALL"}
    return {"customers": {"add": [gid("Customer", customer_id)]}}


def _minimum(subtotal: Decimal) -> dict[str, Any]:
    return {"subtotal": {"greaterThanOrEqualToSubtotal": money_text(subtotal)}}


def _amount_off(amount: Decimal) -> dict[str, Any]:
    if amount <= 0:
        raise _invalid(f"amount must be positive, got {amount}")
    return {"discountAmount": {"amount": money_text(amount), "appliesOnEachItem": False}}


def _reward_gets(request: RewardCodeRequest) -> dict[str, Any]:
    if request.kind is RewardKind.PERCENT_DISCOUNT and request.percent is not None:
        return {"value": {"percentage": fraction(request.percent)}, "items": {"all": True}}
    if request.kind is RewardKind.FIXED_DISCOUNT and request.amount is not None:
        return {"value": _amount_off(request.amount), "items": {"all": True}}
    if request.kind is RewardKind.FREE_PRODUCT and request.product_id:
        items = {"products": {"productsToAdd": [gid("Product", request.product_id)]}}
        return {"value": {"percentage": 1.0}, "items": items}
    raise _invalid(f"reward {request.reward_id} of kind {request.kind} lacks its value")


def _invalid(message: str) -> StoreClientError:
    return StoreClientError(message, retryable=False, code="INVALID_REQUEST")
