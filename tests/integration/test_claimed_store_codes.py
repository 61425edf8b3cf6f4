"""A friend's claimed code in each store, through the real clients and the local fakes: on
Shopify a code discount of its own used once (`usageLimit` 1, once per customer), bound to the
customer with the friend's email when the shop has one; on WooCommerce a coupon used once and
only with that billing email. Both are idempotent on the code, so a retry after a lost answer
creates nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.shopify import documents
from connectors.shopify.graphql_client import ShopifyGraphQL
from connectors.shopify.reward_inputs import reward_discount
from connectors.shopify.store_client import ShopifyStoreClient
from connectors.woocommerce.rest_client import WooCommerceRestClient
from connectors.woocommerce.store_client import WooCommerceStoreClient
from referral_plugin.domain.programs import RewardKind, RewardSpec
from referral_plugin.domain.store import (
    FriendCodeOffer,
    StoreClientError,
    claimed_code_request,
)
from tests.shopify_fake import TOKEN, FakeShopify, Fault, admin_schema, serving
from tests.unit.test_shopify_documents import coercion_errors
from tests.woocommerce_fake import FakeWooCommerce

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CODE = "FR-7Q2K-9XPA-MN4D"


def offer(kind: RewardKind = RewardKind.PERCENT_DISCOUNT, **spec: Any) -> FriendCodeOffer:
    values = {"percent": Decimal(15)} if kind is RewardKind.PERCENT_DISCOUNT else {}
    return FriendCodeOffer(
        program_id=7,
        title="Referral: Give 15%",
        reward=RewardSpec(kind=kind, **{**values, **spec}),
        currency="USD",
        starts_at=START,
        ends_at=START + timedelta(days=60),
        minimum_subtotal=Decimal("25.00"),
        offer_code="RF-TEST-OFFE-R007",
    )


def claimed(kind: RewardKind = RewardKind.PERCENT_DISCOUNT, **spec: Any) -> Any:
    return claimed_code_request(offer(kind, **spec), code_id=91, code=CODE, email="bea@example.com")


# --- Shopify ---------------------------------------------------------------------------------


@pytest.fixture
def shopify() -> Iterator[tuple[FakeShopify, ShopifyStoreClient]]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as url:
        graphql = ShopifyGraphQL(
            "demo-store.myshopify.com", TOKEN, "2026-01", endpoint=url, timeout=(1.0, 0.3),
            sleep=fake.clock.sleep, clock=fake.clock,
        )  # fmt: skip
        yield fake, ShopifyStoreClient(graphql, shop_domain="demo-store.myshopify.com")


def test_a_claimed_code_is_a_single_use_discount_of_its_own_on_shopify(
    shopify: tuple[FakeShopify, ShopifyStoreClient],
) -> None:
    fake, client = shopify
    issued = client.issue_reward(claimed())
    sent = fake.discounts[issued.store_ref]["input"]
    assert issued.code == CODE and sent["code"] == CODE
    assert sent["title"] == f"Referral friend code {CODE}"
    assert (sent["usageLimit"], sent["appliesOncePerCustomer"]) == (1, True)
    assert sent["context"] == {"all": "ALL"}  # nobody has that email in the shop yet
    assert sent["customerGets"] == {"value": {"percentage": 0.15}, "items": {"all": True}}
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "25.00"}}
    assert (sent["startsAt"], sent["endsAt"]) == ("2026-11-20T12:00:00Z", "2027-01-19T12:00:00Z")
    assert fake.calls_to("customerByIdentifier") == [{"email": "bea@example.com"}]


def test_on_shopify_it_is_bound_to_the_customer_with_that_email(
    shopify: tuple[FakeShopify, ShopifyStoreClient],
) -> None:
    fake, client = shopify
    fake.customers["bea@example.com"] = "gid://shopify/Customer/7001"
    issued = client.issue_reward(claimed())
    context = fake.discounts[issued.store_ref]["input"]["context"]
    assert context == {"customers": {"add": ["gid://shopify/Customer/7001"]}}


def test_on_shopify_a_lost_answer_is_found_again_and_another_discount_s_code_refused(
    shopify: tuple[FakeShopify, ShopifyStoreClient],
) -> None:
    fake, client = shopify
    fake.faults.extend([Fault(), Fault(delay_after=0.8)])  # the lookup, then a late create
    issued = client.issue_reward(claimed())
    assert len(fake.discounts) == 1 and issued.store_ref == next(iter(fake.discounts))
    assert len(fake.calls_to("discountCodeBasicCreate")) == 2  # the retry met TAKEN: ours
    other = claimed_code_request(offer(), code_id=92, code="FR-AAAA-BBBB-CCCC", email=None)
    fake.discounts[issued.store_ref]["codes"].append("FR-AAAA-BBBB-CCCC")  # the merchant's
    with pytest.raises(StoreClientError) as refused:
        client.issue_reward(other)
    assert (refused.value.retryable, refused.value.code) == (False, "TAKEN")


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        (RewardKind.PERCENT_DISCOUNT, {}),
        (RewardKind.FIXED_DISCOUNT, {"amount": Decimal("10.00")}),
        (RewardKind.FREE_SHIPPING, {}),
        (RewardKind.FREE_PRODUCT, {"product_id": "632910392"}),
    ],
)
def test_the_claimed_code_s_variables_coerce_against_the_schema(
    kind: RewardKind, spec: dict[str, Any]
) -> None:
    call = reward_discount(claimed(kind, **spec))
    assert coercion_errors(admin_schema(), call.document, call.variables) == []
    lookup = {"email": "bea@example.com"}
    assert coercion_errors(admin_schema(), documents.CUSTOMER_BY_EMAIL, lookup) == []


# --- WooCommerce ------------------------------------------------------------------------------


@pytest.fixture
def woo() -> Iterator[tuple[FakeWooCommerce, WooCommerceStoreClient]]:
    with FakeWooCommerce() as fake:
        rest = WooCommerceRestClient(
            fake.url, fake.consumer_key, fake.consumer_secret, sleep=lambda seconds: None
        )
        yield fake, WooCommerceStoreClient(rest)


def order_with(store: FakeWooCommerce, code: str, email: str) -> Any:
    rest = WooCommerceRestClient(store.url, store.consumer_key, store.consumer_secret)
    body = {
        "billing": {"email": email},
        "line_items": [{"product_id": 93, "quantity": 1, "total": "40.00"}],
        "coupon_lines": [{"code": code}],
        "set_paid": True,
    }
    try:
        return rest.post("orders", body).payload
    except StoreClientError as error:
        return error


def test_a_claimed_code_is_a_coupon_used_once_with_that_email_on_woocommerce(
    woo: tuple[FakeWooCommerce, WooCommerceStoreClient],
) -> None:
    store, client = woo
    issued = client.issue_reward(claimed())
    coupon = store.coupon_by_code(CODE)
    assert issued.store_ref == str(coupon["id"]) and coupon["code"] == CODE.lower()
    assert (coupon["discount_type"], coupon["amount"]) == ("percent", "15.00")
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
    assert coupon["email_restrictions"] == ["bea@example.com"]
    assert coupon["individual_use"] is True and coupon["minimum_amount"] == "25.00"
    assert coupon["meta_data"] == [
        {"id": 1, "key": "referral_plugin_friend_code_id", "value": "91"}
    ]
    assert coupon["date_expires_gmt"] == "2027-01-19T12:00:00"

    assert isinstance(order_with(store, CODE, "eve@example.com"), StoreClientError)  # not Bea
    paid = order_with(store, CODE, "bea@example.com")
    assert paid["coupon_lines"][0]["code"] == CODE.lower()
    used_up = order_with(store, CODE, "bea@example.com")
    assert isinstance(used_up, StoreClientError) and "usage limit" in str(used_up.args)


def test_on_woocommerce_issuing_again_finds_the_same_coupon(
    woo: tuple[FakeWooCommerce, WooCommerceStoreClient],
) -> None:
    store, client = woo
    first = client.issue_reward(claimed(RewardKind.FIXED_DISCOUNT, amount=Decimal("10.00")))
    again = client.issue_reward(claimed(RewardKind.FIXED_DISCOUNT, amount=Decimal("10.00")))
    assert first == again and len(store.coupons) == 1
    with pytest.raises(StoreClientError) as taken:  # the same code granting something else
        client.issue_reward(claimed(RewardKind.FREE_SHIPPING))
    assert (taken.value.retryable, taken.value.code) == (False, "code_taken")
