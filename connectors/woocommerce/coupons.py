"""Reward and friend offers as WooCommerce REST v3 coupon JSON, and "is this coupon ours?".

Mapping of reward kinds (core WooCommerce, no extensions):

- percent discount: `discount_type: percent`, `amount` = the percentage ("15" = 15 %);
- fixed discount: `fixed_cart` with the amount (the store's single currency);
- free shipping: `fixed_cart`, amount "0", `free_shipping: true` (works only when the store's
  free-shipping method is set to require a coupon: the merchant's setting);
- free product: `percent` 100 on `product_ids: [id]` limited to one item
  (`limit_usage_to_x_items: 1`): the product must be in the cart;
- store credit and VIP tags have no core equivalent: StoreClientError(retryable=False,
  code="unsupported_reward_kind"); the merchant picks another reward kind for WooCommerce.

Expiry is sent as `date_expires` with an explicit `+00:00` offset. The schema also lists
`date_expires_gmt` as writable, but WC_Coupon has no `set_date_expires_gmt`, so the REST
controller silently drops it; an offset-less `date_expires` would be read in the site's
timezone. `WC_Data::set_date_prop` honours an explicit offset, so the instant is exact.

Codes: WooCommerce stores them lower-cased, so every comparison ignores case.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from referral_plugin.domain.programs import RewardKind
from referral_plugin.domain.store import FriendCodeOffer, RewardCodeRequest, StoreClientError

REWARD_META_KEY = "referral_plugin_reward_id"
FRIEND_CODE_META_KEY = "referral_plugin_friend_code_id"  # a friend's claimed code
PROGRAM_META_KEY = "referral_plugin_program_id"
UNSUPPORTED = "unsupported_reward_kind"
ISSUED_KINDS = frozenset(  # the reward kinds a coupon can be
    {
        RewardKind.PERCENT_DISCOUNT,
        RewardKind.FIXED_DISCOUNT,
        RewardKind.FREE_SHIPPING,
        RewardKind.FREE_PRODUCT,
    }
)
# Fields compared when a code already exists: the coupon must grant what we asked for.
_MATCHED = ("discount_type", "free_shipping", "product_ids", "limit_usage_to_x_items")


def store_code(code: str) -> str:
    """The code as WooCommerce stores it (`wc_strtolower`)."""
    return code.strip().lower()


def reward_coupon(request: RewardCodeRequest) -> dict[str, Any]:
    """The coupon JSON for one reward, or a friend's claimed code: single use, bound to the
    beneficiary's email when known (`email_restrictions`: WooCommerce checks the billing
    email). Raises StoreClientError(retryable=False) for kinds or values WooCommerce cannot
    express."""
    if request.friend_code_id is not None:
        ours = {"key": FRIEND_CODE_META_KEY, "value": str(request.friend_code_id)}
    else:
        ours = {"key": REWARD_META_KEY, "value": str(request.reward_id)}
    coupon = {
        "code": request.code,
        "description": request.title,
        **_discount(request.kind, request.amount, request.percent, request.product_id),
        "individual_use": True,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
        "meta_data": [ours],
    }
    if request.email:
        coupon["email_restrictions"] = [request.email]
    if request.expires_at is not None:
        coupon["date_expires"] = utc_text(request.expires_at)
    if request.minimum_subtotal is not None:
        coupon["minimum_amount"] = decimal_text(request.minimum_subtotal)
    return coupon


def friend_coupon(code: str, offer: FriendCodeOffer) -> dict[str, Any]:
    """The coupon JSON for one advocate's shareable code (lower case, as WooCommerce stores
    it): the program's friend offer, once per customer (`usage_limit_per_user`: WooCommerce
    counts a guest by billing email), not combinable with other coupons (one friend, one
    advocate's code), ending with the program. Core coupons have no start date: the code
    works from when it is added."""
    spec = offer.reward
    coupon: dict[str, Any] = {
        "code": store_code(code),
        "description": offer.title,
        **_discount(spec.kind, spec.amount, spec.percent, spec.product_id),
        "individual_use": True,
        "meta_data": [{"key": PROGRAM_META_KEY, "value": str(offer.program_id)}],
    }
    if offer.once_per_customer:
        coupon["usage_limit_per_user"] = 1
    if offer.minimum_subtotal is not None:
        coupon["minimum_amount"] = decimal_text(offer.minimum_subtotal)
    if offer.ends_at is not None:
        coupon["date_expires"] = utc_text(offer.ends_at)
    return coupon


def _discount(
    kind: RewardKind, amount: Decimal | None, percent: Decimal | None, product_id: str | None
) -> dict[str, Any]:
    if kind not in ISSUED_KINDS:
        raise StoreClientError(
            f"WooCommerce has no core equivalent of a {kind} reward: choose a discount, free "
            "shipping or free product reward for WooCommerce stores",
            retryable=False,
            code=UNSUPPORTED,
        )
    if kind is RewardKind.PERCENT_DISCOUNT:
        return {"discount_type": "percent", "amount": decimal_text(_required(percent, "percent"))}
    if kind is RewardKind.FIXED_DISCOUNT:
        return {"discount_type": "fixed_cart", "amount": decimal_text(_required(amount, "amount"))}
    if kind is RewardKind.FREE_SHIPPING:
        return {"discount_type": "fixed_cart", "amount": "0", "free_shipping": True}
    return {
        "discount_type": "percent",
        "amount": "100",
        "product_ids": [_product_id(product_id)],
        "limit_usage_to_x_items": 1,
    }


def _required(value: Decimal | None, name: str) -> Decimal:
    if value is None or value <= 0:
        raise StoreClientError(
            f"the reward has no positive {name}", retryable=False, code="invalid_reward"
        )
    return value


def _product_id(value: str | None) -> int:
    text = (value or "").strip()
    if not text.isdigit() or int(text) <= 0:
        raise StoreClientError(
            f"a WooCommerce free product needs a numeric product id, got {value!r}",
            retryable=False,
            code="invalid_product_id",
        )
    return int(text)


def decimal_text(value: Decimal) -> str:
    """A plain decimal string ("15", "10.5"), never exponent notation."""
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def utc_text(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS+00:00` for an aware datetime (naive values are refused)."""
    if value.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def same_grant(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """True when a coupon found under our code grants what `wanted` asks for: same code
    (ignoring case), discount type, amount, free shipping, products and email restriction."""
    if store_code(str(existing.get("code", ""))) != store_code(str(wanted["code"])):
        return False
    for name in _MATCHED:
        if _normalized(name, existing.get(name)) != _normalized(name, wanted.get(name)):
            return False
    if _amount(existing.get("amount")) != _amount(wanted.get("amount")):
        return False
    return _emails(existing) == _emails(wanted)


def _normalized(name: str, value: Any) -> Any:
    if name == "product_ids":
        return sorted(int(item) for item in value or ())
    if name == "free_shipping":
        return bool(value)
    if name == "limit_usage_to_x_items":
        return int(value) if value else None
    return value or None


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return None


def _emails(coupon: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(e).strip().lower() for e in coupon.get("email_restrictions") or ())
