"""WooCommerceStoreClient against FakeWooCommerce (a local server following the REST v3
contract). The real-store run is tests/e2e/test_woocommerce_e2e.py (WOO_E2E_URL/_KEY/_SECRET)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.registry import STORE_CLIENT_FACTORIES
from connectors.woocommerce.connector import WooCommerceConnector
from connectors.woocommerce.rest_client import WooCommerceRestClient, retry_after_seconds
from connectors.woocommerce.store_client import WooCommerceStoreClient
from referral_plugin.domain.events import OrderEventKind, Platform
from referral_plugin.domain.programs import RewardKind, RewardSpec
from referral_plugin.domain.store import (
    FriendCodeOffer,
    FriendCodesRejected,
    RewardCodeRequest,
    StoreClientError,
    StoreUnavailable,
)
from referral_plugin.settings import Settings
from tests.woocommerce_fake import FakeWooCommerce, utc_iso

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FRIEND_OFFER = FriendCodeOffer(
    program_id=7,
    title="Referral: Give 15%",
    reward=RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal("15")),
    currency="USD",
    starts_at=NOW,
    ends_at=NOW + timedelta(days=90),
    minimum_subtotal=Decimal("25.00"),
    offer_code="RF-TEST-OFFE-R007",
)


@pytest.fixture
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


@pytest.fixture
def sleeps() -> list[float]:
    return []


def rest_for(store: FakeWooCommerce, sleeps: list[float], **options: Any) -> WooCommerceRestClient:
    return WooCommerceRestClient(
        store.url, store.consumer_key, store.consumer_secret, sleep=sleeps.append, **options
    )


@pytest.fixture
def client(store: FakeWooCommerce, sleeps: list[float]) -> WooCommerceStoreClient:
    return WooCommerceStoreClient(rest_for(store, sleeps))


def reward(kind: RewardKind = RewardKind.FIXED_DISCOUNT, **changes: Any) -> RewardCodeRequest:
    fields: dict[str, Any] = {
        "reward_id": 41,
        "code": "RW-7Q2K-9XPA-MN4D",
        "kind": kind,
        "title": "Thanks for referring Bea",
        "currency": "USD",
        "amount": Decimal("10.00"),
        "email": "anna@example.com",
        "starts_at": NOW,
        "expires_at": NOW + timedelta(days=90),
        "minimum_subtotal": Decimal("25"),
    }
    fields.update(changes)
    return RewardCodeRequest(**fields)


# --- rewards ----------------------------------------------------------------------------------


def test_a_reward_becomes_one_single_use_coupon_bound_to_the_advocate(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    issued = client.issue_reward(reward())

    coupon = store.coupon_by_code("RW-7Q2K-9XPA-MN4D")
    assert coupon is not None
    assert issued.code == "RW-7Q2K-9XPA-MN4D"
    assert issued.store_ref == str(coupon["id"])
    assert coupon["code"] == "rw-7q2k-9xpa-mn4d"  # WooCommerce lower-cases codes
    assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "10.00")
    assert coupon["email_restrictions"] == ["anna@example.com"]
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
    assert coupon["individual_use"] is True
    assert coupon["minimum_amount"] == "25.00"
    # the exact UTC instant, whatever the site's timezone (the fake's is UTC-3)
    assert coupon["date_expires_gmt"] == "2027-02-18T12:00:00"


@pytest.mark.parametrize(
    ("label", "kind", "changes", "expected"),
    [
        ("percent", RewardKind.PERCENT_DISCOUNT, {"percent": Decimal("15")},
         {"discount_type": "percent", "amount": "15.00", "free_shipping": False}),
        ("free shipping", RewardKind.FREE_SHIPPING, {"amount": None},
         {"discount_type": "fixed_cart", "amount": "0.00", "free_shipping": True}),
        ("free product", RewardKind.FREE_PRODUCT, {"product_id": "93"},
         {"discount_type": "percent", "amount": "100.00", "product_ids": [93],
          "limit_usage_to_x_items": 1}),
    ],
)  # fmt: skip
def test_reward_kinds_map_to_core_coupon_fields(
    label: str,
    kind: RewardKind,
    changes: dict[str, Any],
    expected: dict[str, Any],
    client: WooCommerceStoreClient,
    store: FakeWooCommerce,
) -> None:
    client.issue_reward(reward(kind, **changes))

    coupon = store.coupon_by_code("rw-7q2k-9xpa-mn4d")
    assert coupon is not None
    assert {name: coupon[name] for name in expected} == expected


@pytest.mark.parametrize("kind", [RewardKind.STORE_CREDIT, RewardKind.VIP])
def test_kinds_without_a_core_equivalent_are_refused_without_a_call(
    kind: RewardKind, client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward(kind, tag="vip"))

    assert (raised.value.retryable, raised.value.code) == (False, "unsupported_reward_kind")
    assert store.seen == []


def test_a_lost_create_response_is_retried_and_the_existing_coupon_accepted(
    client: WooCommerceStoreClient, store: FakeWooCommerce, sleeps: list[float]
) -> None:
    # The retry and the lookup get a full second each, so a loaded machine never flakes.
    client.rest = rest_for(store, sleeps, timeout=(2.0, 1.0))
    store.stall_next(2.5, method="POST", path="coupons")  # created, answer too late

    issued = client.issue_reward(reward())

    assert len(store.coupons) == 1
    assert issued.store_ref == str(store.coupon_by_code("rw-7q2k-9xpa-mn4d")["id"])
    assert len(store.calls("POST", "coupons")) == 2  # the retry met "already exists"
    assert store.calls("GET", "coupons") == [{"code": "rw-7q2k-9xpa-mn4d"}]
    assert sleeps == [1.0]


def test_issuing_again_matches_the_lower_case_code(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    first = client.issue_reward(reward())
    again = client.issue_reward(reward(code="rw-7q2k-9xpa-mn4d"))

    assert again.store_ref == first.store_ref
    assert len(store.coupons) == 1


def test_a_code_taken_by_another_discount_is_a_terminal_error(
    client: WooCommerceStoreClient,
) -> None:
    client.issue_reward(reward())

    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward(amount=Decimal("20")))

    assert (raised.value.retryable, raised.value.code) == (False, "code_taken")


# --- errors and retries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "status", "retry_after", "expected_sleeps"),
    [
        ("throttled with Retry-After", 429, "3", [3.0]),
        ("server error, exponential backoff", 500, None, [1.0, 2.0]),
    ],
)
def test_retryable_answers_back_off_then_succeed(
    label: str,
    status: int,
    retry_after: str | None,
    expected_sleeps: list[float],
    client: WooCommerceStoreClient,
    store: FakeWooCommerce,
    sleeps: list[float],
) -> None:
    store.fail_next(status, times=len(expected_sleeps), retry_after=retry_after)

    client.issue_reward(reward())

    assert sleeps == expected_sleeps
    assert len(store.coupons) == 1


def test_retries_are_bounded_and_the_last_error_is_retryable(
    client: WooCommerceStoreClient, store: FakeWooCommerce, sleeps: list[float]
) -> None:
    store.fail_next(503, times=5)

    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward())

    assert (raised.value.retryable, raised.value.status) == (True, 503)
    assert len(store.calls("POST", "coupons")) == 3


def test_a_long_retry_after_is_left_to_the_worker(
    client: WooCommerceStoreClient, store: FakeWooCommerce, sleeps: list[float]
) -> None:
    store.fail_next(429, retry_after="120")

    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward())

    assert (raised.value.retryable, raised.value.retry_after) == (True, 120.0)
    assert sleeps == []


def test_retry_after_may_be_an_http_date() -> None:
    assert retry_after_seconds("Fri, 20 Nov 2026 12:00:30 GMT", now=NOW) == 30.0
    assert retry_after_seconds("soon") is None


def test_an_unreachable_store_is_retryable(sleeps: list[float]) -> None:
    with FakeWooCommerce() as gone:
        url = gone.url
    rest = WooCommerceRestClient(url, "ck_x", "cs_x", sleep=sleeps.append)

    with pytest.raises(StoreClientError) as raised:
        rest.get("webhooks")

    assert (raised.value.retryable, raised.value.code) == (True, "CONNECTION")
    assert "ck_x" not in str(raised.value)


def test_wrong_keys_make_the_store_unavailable(store: FakeWooCommerce, sleeps: list[float]) -> None:
    rest = WooCommerceRestClient(store.url, store.consumer_key, "cs_wrong", sleep=sleeps.append)

    with pytest.raises(StoreUnavailable) as raised:
        WooCommerceStoreClient(rest).issue_reward(reward())

    assert "WooCommerce rejected the API keys: reconnect the store" in str(raised.value)
    assert raised.value.status == 401
    assert sleeps == []


def test_other_client_errors_carry_woocommerce_error_code(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    store.fail_next(400, code="woocommerce_rest_invalid_product_id")

    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward(RewardKind.FREE_PRODUCT, product_id="93"))

    assert raised.value.retryable is False
    assert (raised.value.status, raised.value.code) == (400, "woocommerce_rest_invalid_product_id")


# --- revoke -----------------------------------------------------------------------------------


def test_revoke_deletes_for_good_and_a_missing_coupon_counts_as_revoked(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    issued = client.issue_reward(reward())

    client.revoke_reward(issued.store_ref, issued.code)
    client.revoke_reward(issued.store_ref, issued.code)

    assert store.coupons == {}
    assert store.calls("DELETE", f"coupons/{issued.store_ref}") == [{"force": "true"}] * 2


def test_a_missing_rest_route_is_not_mistaken_for_a_revoked_coupon(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    store.fail_next(404, code="rest_no_route")

    with pytest.raises(StoreClientError):
        client.revoke_reward("703", None)


# --- friend codes -----------------------------------------------------------------------------


def test_250_friend_codes_go_in_three_batches_and_duplicates_count_as_added(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    codes = [f"ANNA-{index:04d}" for index in range(250)]
    client.add_friend_codes(FRIEND_OFFER, codes[:1])  # already there before the batch

    client.add_friend_codes(FRIEND_OFFER, codes)

    batches = store.calls("POST", "coupons/batch")
    assert len(batches) == 4  # 1 + (100, 100, 50)
    assert len(store.coupons) == 250
    coupon = store.coupon_by_code("anna-0249")
    assert coupon is not None
    assert (coupon["discount_type"], coupon["amount"]) == ("percent", "15.00")
    assert (coupon["usage_limit_per_user"], coupon["individual_use"]) == (1, True)
    assert coupon["minimum_amount"] == "25.00"
    assert coupon["date_expires_gmt"] == utc_iso(NOW + timedelta(days=90))
    assert coupon["description"] == "Referral: Give 15%"
    assert store.calls("GET", "coupons") == [{"code": "anna-0000"}]  # the existing one, checked


def test_a_code_the_merchant_uses_for_another_coupon_is_refused_the_rest_added(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    client.rest.post("coupons", {"code": "anna-0002", "amount": "50"})  # the merchant's own

    with pytest.raises(FriendCodesRejected) as raised:
        client.add_friend_codes(FRIEND_OFFER, ["ANNA-0001", "ANNA-0002", "ANNA-0003"])

    assert list(raised.value.rejected) == ["anna-0002"]
    assert raised.value.rejected["anna-0002"].startswith("code_taken")
    assert store.coupon_by_code("anna-0001") is not None
    assert store.coupon_by_code("anna-0003") is not None


def test_another_per_item_error_in_a_batch_is_refused_naming_the_code(
    client: WooCommerceStoreClient, store: FakeWooCommerce
) -> None:
    store.refuse_code("anna-0002", "woocommerce_rest_invalid_coupon", "Coupon is not valid.")

    with pytest.raises(FriendCodesRejected) as raised:
        client.add_friend_codes(FRIEND_OFFER, ["ANNA-0001", "ANNA-0002", "ANNA-0003"])

    assert raised.value.retryable is False
    assert raised.value.rejected == {
        "anna-0002": "woocommerce_rest_invalid_coupon: Coupon is not valid."
    }
    assert len(store.coupons) == 2


def test_a_batch_over_100_items_is_refused_by_the_store(
    store: FakeWooCommerce, sleeps: list[float]
) -> None:
    rest = rest_for(store, sleeps)
    create = [{"code": f"x-{index}"} for index in range(101)]

    with pytest.raises(StoreClientError) as raised:
        rest.post("coupons/batch", {"create": create})

    assert (raised.value.status, raised.value.code) == (
        413,
        "woocommerce_rest_request_entity_too_large",
    )


# --- reconciliation reads -----------------------------------------------------------------------


def test_orders_updated_since_follows_the_pages_and_translates_like_webhooks(
    store: FakeWooCommerce, sleeps: list[float]
) -> None:
    since = datetime.now(tz=UTC) - timedelta(hours=2)
    # 2 hours before `since` in UTC, but "after" it on the site's clock (UTC-3 vs UTC):
    store.add_order(modified=since - timedelta(hours=2), status="completed")
    refunded = store.add_order(
        modified=since + timedelta(minutes=1), coupon_codes=("ANNA-7Q2K-9XPA",), refunds=("10.00",)
    )
    store.add_order(modified=since + timedelta(minutes=2), status="checkout-draft")
    for minute in range(3, 253):
        store.add_order(modified=since + timedelta(minutes=minute))
    client = WooCommerceStoreClient(rest_for(store, sleeps), page_size=100)

    orders = list(client.orders_updated_since(since))

    assert len(orders) == 251  # 252 in the window, minus the checkout draft
    reads = store.calls("GET", "orders")
    # a moving cursor: each read starts just before the newest second of the page before
    assert [query["page"] for query in reads] == ["1", "1", "1"]
    assert [query["modified_after"] for query in reads] == [
        utc_iso(since - timedelta(seconds=1)),
        utc_iso(since + timedelta(minutes=100) - timedelta(seconds=1)),
        utc_iso(since + timedelta(minutes=199) - timedelta(seconds=1)),  # 100 read again
    ]
    assert orders[0].order_id == str(refunded["id"])
    assert orders == sorted(orders, key=lambda order: order.updated_at)
    first = orders[0]
    assert first.topic == "order.updated"
    assert first.updated_at == (since + timedelta(minutes=1)).replace(microsecond=0)
    connector = WooCommerceConnector()
    meta = connector.identify(first.headers)
    assert meta is not None
    assert (meta.shop, meta.topic) == (store.url, "order.updated")
    (event,) = connector.translate(meta, json.loads(first.body))
    assert event.kind is OrderEventKind.REFUNDED
    assert event.discount_codes == ("ANNA7Q2K9XPA",)
    assert [refund.amount for refund in event.refunds] == [Decimal("10.00")]


def test_an_order_modified_while_reading_does_not_hide_another(
    store: FakeWooCommerce, sleeps: list[float]
) -> None:
    """Page numbers would skip an order here: the modified one jumps to the end and every
    later order moves one place forward."""
    since = datetime.now(tz=UTC) - timedelta(hours=5)
    added = [store.add_order(modified=since + timedelta(minutes=m)) for m in range(1, 31)]
    client = WooCommerceStoreClient(rest_for(store, sleeps), page_size=10)
    reading = client.orders_updated_since(since)
    first_page = [next(reading) for _ in range(10)]

    store.touch_order(added[2]["id"], modified=since + timedelta(hours=2))
    rest = list(reading)

    seen = {order.order_id for order in first_page + rest}
    assert seen == {str(order["id"]) for order in added}
    assert rest[-1].order_id == str(added[2]["id"])  # read again in its new state


# --- registry ---------------------------------------------------------------------------------


def test_the_registry_builds_a_woocommerce_client(store: FakeWooCommerce) -> None:
    factory = STORE_CLIENT_FACTORIES[Platform.WOOCOMMERCE]
    settings = Settings(database_url="sqlite://", secret_key="s", encryption_key="k")
    credentials = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret}

    client = factory(store.url, credentials, settings)

    assert isinstance(client, WooCommerceStoreClient)
    with pytest.raises(StoreUnavailable):
        factory(store.url, {"webhook_secret": "x"}, settings)
