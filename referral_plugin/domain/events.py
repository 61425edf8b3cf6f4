"""Common events: what a platform connector turns a store's webhook or API payload into.

Nothing outside `connectors/` parses platform JSON; everything after the connector sees only
these frozen values. Amounts are Decimal in the order's currency, times are aware UTC, codes and
emails are normalized by the connector with `codes.normalize_code` / `emails.normalize_email`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class OrderEventKind(StrEnum):
    PLACED = "placed"  # the order exists, not paid yet
    PAID = "paid"  # payment captured
    CANCELLED = "cancelled"  # cancelled or voided: never counts
    REFUNDED = "refunded"  # one or more refunds; carries the refunds it knows
    UPDATED = "updated"  # anything else (edits): carries the current order data


@dataclass(frozen=True, slots=True, kw_only=True)
class FraudSignals:
    """What the platform tells about who placed the order; any of them may be unknown."""

    browser_ip: str | None = None
    user_agent: str | None = None
    shipping_fingerprint: str | None = None  # hash of the normalized shipping address
    payment_fingerprint: str | None = None  # e.g. card bin+last4 hash where the platform gives it


@dataclass(frozen=True, slots=True, kw_only=True)
class LineItem:
    product_id: str | None
    quantity: int
    total: Decimal  # the line's total after its own discounts
    variant_id: str | None = None
    collection_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Refund:
    """One refund, identified so that seeing it twice counts it once."""

    refund_id: str
    amount: Decimal
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    """One thing that happened to one order in one shop.

    Fields set to None are unknown in this event (a refund notification does not repeat the
    order's codes or totals); `orders.merge_order_events` combines what all events know.
    `idempotency_key` is unique per distinct event of the order (delivery/event id, or a hash of
    the payload's state), so the same event stored twice is one row.
    """

    platform: Platform
    shop: str  # the shop as the platform names it: myshopify domain or store URL
    order_id: str
    kind: OrderEventKind
    occurred_at: datetime
    idempotency_key: str
    order_number: str | None = None
    placed_at: datetime | None = None
    currency: str | None = None
    subtotal: Decimal | None = None  # after discounts, before shipping and tax
    total: Decimal | None = None
    discount_total: Decimal | None = None
    discount_codes: tuple[str, ...] | None = None  # normalized, in the order's order
    customer_id: str | None = None
    email: str | None = None  # normalized
    customer_order_count: int | None = None  # the platform's count incl. this order, if known
    country: str | None = None  # shipping (else billing) country, ISO 3166-1 alpha-2
    line_items: tuple[LineItem, ...] | None = None
    refunds: tuple[Refund, ...] = ()
    signals: FraudSignals = field(default_factory=FraudSignals)
    landing_ref: str | None = None  # normalized `ref` code from landing site / note attributes
    source_name: str | None = None
    is_test: bool = False

    @property
    def has_order_data(self) -> bool:
        """True when this event carries the order itself (codes and totals), not only a delta."""
        return self.subtotal is not None and self.discount_codes is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerCreated:
    platform: Platform
    shop: str
    customer_id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopUninstalled:
    platform: Platform
    shop: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerRedact:
    platform: Platform
    shop: str
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerDataRequest:
    platform: Platform
    shop: str
    request_id: str
    customer_id: str | None
    email: str | None
    order_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopRedact:
    platform: Platform
    shop: str


Event = (
    OrderEvent
    | CustomerCreated
    | ShopUninstalled
    | CustomerRedact
    | CustomerDataRequest
    | ShopRedact
)
