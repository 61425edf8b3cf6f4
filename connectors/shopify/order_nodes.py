"""GraphQL `Order` nodes → the REST webhook JSON shape that `orders.py` translates.

Reconciled orders then follow exactly the webhook path. Fields GraphQL does not expose to us
(`client_details.user_agent`) stay absent; `landing_site` is the first visit's landing page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from referral_plugin.domain.clock import parse_timestamp
from referral_plugin.domain.store import StoreOrder

logger = logging.getLogger(__name__)

RECONCILE_TOPIC = "orders/updated"


def store_order(node: Mapping[str, Any], shop_domain: str) -> StoreOrder:
    """A StoreOrder whose body is the order as an `orders/updated` webhook would carry it."""
    order = rest_order(node)
    if _truncated(node):
        logger.warning("order has more line items than one page", extra={"order_id": order["id"]})
    return StoreOrder(
        order_id=str(order["id"]),
        topic=RECONCILE_TOPIC,
        body=json.dumps(order, sort_keys=True, separators=(",", ":")).encode(),
        updated_at=parse_timestamp(node["updatedAt"]),
        headers={"X-Shopify-Shop-Domain": shop_domain, "X-Shopify-Topic": RECONCILE_TOPIC},
    )


def rest_order(node: Mapping[str, Any]) -> dict[str, Any]:
    """The REST webhook fields `orders.py` reads, from one GraphQL order node."""
    return {
        "id": int(node["legacyResourceId"]),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": _lower(node.get("cancelReason")),
        "financial_status": _lower(node.get("displayFinancialStatus")),
        "test": bool(node.get("test")),
        "email": node.get("email"),
        "source_name": node.get("sourceName"),
        "browser_ip": node.get("clientIp"),
        "currency": node.get("currencyCode"),
        **_money_pair("subtotal_price", node.get("subtotalPriceSet")),
        **_money_pair("total_price", node.get("totalPriceSet")),
        **_money_pair("current_total_price", node.get("currentTotalPriceSet")),
        **_money_pair("total_discounts", node.get("totalDiscountsSet")),
        "discount_codes": [{"code": code} for code in node.get("discountCodes") or ()],
        "customer": _customer(node.get("customer")),
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "note_attributes": [
            {"name": item.get("key"), "value": item.get("value")}
            for item in node.get("customAttributes") or ()
        ],
        "landing_site": _landing_page(node.get("customerJourneySummary")),
        "line_items": [_line_item(line) for line in _nodes(node.get("lineItems"))],
        "refunds": [_refund(refund) for refund in node.get("refunds") or ()],
    }


def _money_pair(name: str, money_bag: Any) -> dict[str, Any]:
    shop_money = money_bag.get("shopMoney") if isinstance(money_bag, Mapping) else None
    if not isinstance(shop_money, Mapping):
        return {name: None}
    amount = shop_money.get("amount")
    currency = shop_money.get("currencyCode")
    return {
        name: amount,
        f"{name}_set": {"shop_money": {"amount": amount, "currency_code": currency}},
    }


def _customer(customer: Any) -> dict[str, Any] | None:
    if not isinstance(customer, Mapping):
        return None  # guest checkout
    email = customer.get("defaultEmailAddress") or {}
    return {
        "id": int(customer["legacyResourceId"]),
        "email": email.get("emailAddress") if isinstance(email, Mapping) else None,
        "orders_count": customer.get("numberOfOrders"),
    }


def _address(address: Any) -> dict[str, Any] | None:
    if not isinstance(address, Mapping):
        return None
    return {
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "zip": address.get("zip"),
        "country_code": address.get("countryCodeV2"),
    }


def _landing_page(summary: Any) -> str | None:
    visit = summary.get("firstVisit") if isinstance(summary, Mapping) else None
    return visit.get("landingPage") if isinstance(visit, Mapping) else None


def _line_item(line: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "product_id": _legacy_id(line.get("product")),
        "variant_id": _legacy_id(line.get("variant")),
        "quantity": line.get("quantity"),
        **_money_pair("price", line.get("originalUnitPriceSet")),
        **_money_pair("total_discount", line.get("totalDiscountSet")),
    }


def _refund(refund: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": int(refund["legacyResourceId"]),
        "created_at": refund.get("createdAt"),
        "transactions": [
            {
                "kind": _lower(transaction.get("kind")),
                "status": _lower(transaction.get("status")),
                "amount": _shop_amount(transaction.get("amountSet")),
            }
            for transaction in _nodes(refund.get("transactions"))
        ],
    }


def _shop_amount(money_bag: Any) -> str | None:
    shop_money = money_bag.get("shopMoney") if isinstance(money_bag, Mapping) else None
    return shop_money.get("amount") if isinstance(shop_money, Mapping) else None


def _legacy_id(owner: Any) -> int | None:
    if not isinstance(owner, Mapping) or owner.get("legacyResourceId") is None:
        return None  # a deleted product or a custom line item
    return int(owner["legacyResourceId"])


def _nodes(connection: Any) -> list[Mapping[str, Any]]:
    nodes = connection.get("nodes") if isinstance(connection, Mapping) else None
    return [node for node in nodes or () if isinstance(node, Mapping)]


def _truncated(node: Mapping[str, Any]) -> bool:
    lines = node.get("lineItems")
    page = lines.get("pageInfo") if isinstance(lines, Mapping) else None
    return bool(page.get("hasNextPage")) if isinstance(page, Mapping) else False


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None
