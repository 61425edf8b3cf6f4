"""ShopifyStoreClient over HTTP against a local graphql.json that executes our documents on the
real 2026-01 schema (tests/shopify_fake.py). Sleeping is injected: it advances a fake clock
shared with the fake's cost bucket, so pacing is exact and nothing really sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.registry import STORE_CLIENT_FACTORIES
from connectors.shopify.connector import ShopifyConnector
from connectors.shopify.graphql_client import ShopifyGraphQL
from connectors.shopify.store_client import ShopifyStoreClient, make_shopify_store_client
from referral_plugin.domain.codes import normalize_code
from referral_plugin.domain.events import OrderEvent, OrderEventKind, Platform
from referral_plugin.domain.programs import RewardKind, RewardSpec
from referral_plugin.domain.store import (
    FriendCodeOffer,
    FriendCodesRejected,
    RewardCodeRequest,
    StoreClientError,
    StoreUnavailable,
)
from referral_plugin.settings import Settings
from tests.shopify_fake import TOKEN, FakeShopify, Fault, admin_schema, graphql_order, serving

SHOP = "demo-store.myshopify.com"
START = datetime(2026, 11, 1, tzinfo=UTC)
OFFER = FriendCodeOffer(
    program_id=1,
    title="Referral: Friends get 10%",
    reward=RewardSpec(kind=RewardKind.PERCENT_DISCOUNT, percent=Decimal(10)),
    currency="EUR",
    starts_at=START,
    offer_code="RF-TEST-OFFE-R001",
)


@pytest.fixture(scope="module", autouse=True)
def _schema_built_once() -> None:
    admin_schema()


@pytest.fixture
def fake() -> FakeShopify:
    return FakeShopify()


@pytest.fixture
def endpoint(fake: FakeShopify) -> Iterator[str]:
    with serving(fake) as url:
        yield url


# Generous, so a loaded machine never times out by accident; the tests of late answers pass
# SHORT_TIMEOUT with a fault that answers after it.
TIMEOUT = (2.0, 10.0)
SHORT_TIMEOUT = (1.0, 0.3)


def client_for(
    fake: FakeShopify,
    endpoint: str,
    token: str = TOKEN,
    timeout: tuple[float, float] = TIMEOUT,
    **options: Any,
) -> ShopifyStoreClient:
    graphql = ShopifyGraphQL(
        SHOP,
        token,
        "2026-01",
        endpoint=endpoint,
        timeout=timeout,
        sleep=fake.clock.sleep,
        clock=fake.clock,
    )
    return ShopifyStoreClient(graphql, shop_domain=SHOP, **options)


def reward(kind: RewardKind = RewardKind.PERCENT_DISCOUNT, **overrides: Any) -> RewardCodeRequest:
    values: dict[str, Any] = {
        "reward_id": 42,
        "code": "REF-7Q2K-9XPA",
        "kind": kind,
        "title": "Referral reward #42",
        "currency": "EUR",
        "percent": Decimal(15),
        "starts_at": START,
        "customer_id": "7001",
    }
    return RewardCodeRequest(**{**values, **overrides})


def test_percent_reward_is_a_fraction_bound_to_the_customer(
    fake: FakeShopify, endpoint: str
) -> None:
    issued = client_for(fake, endpoint).issue_reward(reward())
    (sent,) = fake.calls_to("discountCodeBasicCreate")
    discount = sent["discount"]
    assert discount["customerGets"]["value"] == {"percentage": 0.15}
    assert discount["context"] == {"customers": {"add": ["gid://shopify/Customer/7001"]}}
    assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
    assert issued.code == "REF-7Q2K-9XPA" and issued.store_ref in fake.discounts


def test_created_once_when_the_first_answer_times_out(fake: FakeShopify, endpoint: str) -> None:
    fake.faults.append(Fault(delay_after=0.8))  # created, but the answer comes too late
    issued = client_for(fake, endpoint, timeout=SHORT_TIMEOUT).issue_reward(reward())
    assert len(fake.discounts) == 1
    assert issued.store_ref == next(iter(fake.discounts))
    assert len(fake.calls_to("discountCodeBasicCreate")) == 2  # the retry met TAKEN
    assert fake.calls_to("codeDiscountNodeByCode") == [{"code": "REF-7Q2K-9XPA"}]


def test_a_taken_code_of_another_discount_is_terminal(fake: FakeShopify, endpoint: str) -> None:
    client = client_for(fake, endpoint)
    client.issue_reward(reward(title="Someone else's discount"))
    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(reward())
    assert (raised.value.retryable, raised.value.code) == (False, "TAKEN")


def test_other_user_errors_are_terminal_with_their_code(fake: FakeShopify, endpoint: str) -> None:
    fake.reject_next = {
        "field": ["endsAt"],
        "code": "END_DATE_BEFORE_START_DATE",
        "message": "Ends at needs to be after starts_at",
        "extraInfo": None,
    }
    with pytest.raises(StoreClientError, match="Ends at needs") as raised:
        client_for(fake, endpoint).issue_reward(reward())
    assert (raised.value.retryable, raised.value.code) == (False, "END_DATE_BEFORE_START_DATE")


def test_free_product_is_100_percent_off_that_product(fake: FakeShopify, endpoint: str) -> None:
    request = reward(RewardKind.FREE_PRODUCT, percent=None, product_id="632910392")
    issued = client_for(fake, endpoint).issue_reward(request)
    assert fake.discounts[issued.store_ref]["input"]["customerGets"] == {
        "value": {"percentage": 1.0},
        "items": {"products": {"productsToAdd": ["gid://shopify/Product/632910392"]}},
    }


def test_throttled_waits_for_the_bucket_then_succeeds(fake: FakeShopify, endpoint: str) -> None:
    fake.available, fake._restored_at = 5.0, fake.clock()
    issued = client_for(fake, endpoint).issue_reward(reward())
    assert issued.store_ref in fake.discounts
    assert fake.throttled == 1
    assert fake.clock.slept and fake.clock.slept[0] == pytest.approx(0.05 + 5 / 100, abs=0.01)


def test_pacing_waits_before_calls_instead_of_being_throttled(
    fake: FakeShopify, endpoint: str
) -> None:
    fake.maximum, fake.restore_rate = 100.0, 50.0
    fake.costs["discountCodeBasicCreate"] = 60.0
    client = client_for(fake, endpoint)
    for number in range(3):
        client.issue_reward(reward(reward_id=number, code=f"REF-{number}"))
    assert fake.throttled == 0  # the client waited for room each time
    assert len(fake.discounts) == 3
    assert sum(fake.clock.slept) >= (60 - 40) / 50


@pytest.mark.parametrize("status", [429, 503], ids=["429", "503"])
def test_429_and_503_honour_retry_after(fake: FakeShopify, endpoint: str, status: int) -> None:
    fake.faults.append(Fault(status=status, retry_after="2"))
    client_for(fake, endpoint).issue_reward(reward())
    assert fake.clock.slept[0] == 2.0
    assert len(fake.discounts) == 1


def test_persistent_5xx_ends_retryable(fake: FakeShopify, endpoint: str) -> None:
    fake.faults.extend(Fault(status=502) for _ in range(5))
    with pytest.raises(StoreClientError) as raised:
        client_for(fake, endpoint).issue_reward(reward())
    assert (raised.value.retryable, raised.value.status) == (True, 502)
    assert fake.clock.slept == [0.5, 1.0, 2.0, 4.0]


def test_rejected_token_is_store_unavailable(fake: FakeShopify, endpoint: str) -> None:
    with pytest.raises(StoreUnavailable, match="reinstall"):
        client_for(fake, endpoint, token="shpat_revoked").issue_reward(reward())


def test_store_credit_is_not_retried_after_an_ambiguous_timeout(
    fake: FakeShopify, endpoint: str
) -> None:
    client = client_for(fake, endpoint, timeout=SHORT_TIMEOUT)
    credit = reward(RewardKind.STORE_CREDIT, percent=None, amount=Decimal("12.50"))
    fake.faults.append(Fault(delay_after=0.8))
    with pytest.raises(StoreClientError) as raised:
        client.issue_reward(credit)
    assert (raised.value.retryable, raised.value.code) == (False, "OUTCOME_UNKNOWN")
    assert len(fake.credits) == 1  # never credited twice
    assert fake.credits[0]["creditAmount"] == {"amount": "12.50", "currencyCode": "EUR"}


def test_vip_tag_is_added_and_revoked(fake: FakeShopify, endpoint: str) -> None:
    client = client_for(fake, endpoint)
    issued = client.issue_reward(reward(RewardKind.VIP, percent=None, tag="VIP"))
    assert fake.tags["gid://shopify/Customer/7001"] == {"VIP"}
    client.revoke_reward(issued.store_ref, issued.code)
    assert fake.tags["gid://shopify/Customer/7001"] == set()


def test_revoke_deactivates_and_a_missing_discount_counts_as_revoked(
    fake: FakeShopify, endpoint: str
) -> None:
    client = client_for(fake, endpoint)
    issued = client.issue_reward(reward(RewardKind.FREE_SHIPPING, percent=None))
    client.revoke_reward(issued.store_ref, issued.code)
    client.revoke_reward(issued.store_ref, issued.code)
    client.revoke_reward("gid://shopify/DiscountCodeNode/999", None)
    assert fake.discounts[issued.store_ref]["status"] == "EXPIRED"
    assert fake.discounts[issued.store_ref]["typename"] == "DiscountCodeFreeShipping"


def test_600_friend_codes_in_three_bulk_calls_with_polling(
    fake: FakeShopify, endpoint: str
) -> None:
    codes = [f"ADV-{number:04d}" for number in range(600)]
    client = client_for(fake, endpoint)
    client.add_friend_codes(OFFER, codes)
    sizes = [len(call["codes"]) for call in fake.calls_to("discountRedeemCodeBulkAdd")]
    assert sizes == [250, 250, 100]
    assert len(fake.calls_to("discountRedeemCodeBulkCreation")) == 6  # done: false, then true
    (discount,) = fake.discounts.values()
    assert discount["input"]["context"] == {"all": "ALL"}
    assert discount["input"]["customerGets"]["value"] == {"percentage": 0.1}
    assert discount["input"]["appliesOncePerCustomer"] is True
    assert (discount["title"], discount["codes"][0]) == (OFFER.title, OFFER.offer_code)
    assert len(discount["codes"]) == 601  # its own code plus the advocates'

    client.add_friend_codes(OFFER, codes[:10])  # again: already present counts as added
    assert len(fake.discounts) == 1


def test_a_friend_code_owned_by_another_discount_is_terminal(
    fake: FakeShopify, endpoint: str
) -> None:
    client = client_for(fake, endpoint)
    client.issue_reward(reward(code="ADV-0001"))
    with pytest.raises(FriendCodesRejected) as raised:
        client.add_friend_codes(OFFER, ["ADV-0001", "ADV-0002"])
    assert list(raised.value.rejected) == ["ADV-0001"]
    assert raised.value.rejected["ADV-0001"].startswith("TAKEN")
    assert "ADV-0002" in fake.by_code(OFFER.offer_code)["codes"]  # the other one was added


def test_reconciliation_pages_orders_that_translate_like_webhooks(
    fake: FakeShopify, endpoint: str
) -> None:
    fake.costs["orders"] = 300.0
    fake.orders = [
        graphql_order(1000 + n, f"2026-11-{10 + n:02d}T10:00:00Z", codes=(f"ANNA-{n:04d}",))
        for n in range(12)
    ]
    fake.orders.append(graphql_order(999, "2026-10-01T00:00:00Z"))  # before the watermark
    client = client_for(fake, endpoint)
    orders = list(client.orders_updated_since(datetime(2026, 11, 10, tzinfo=UTC)))
    assert [o.order_id for o in orders] == [str(1000 + n) for n in range(12)]
    assert len(fake.calls_to("orders")) == 3  # pages of 5, 5, 2 via endCursor
    connector = ShopifyConnector()
    for number, order in enumerate(orders):
        meta = connector.identify(order.headers)
        assert meta is not None
        (event,) = connector.translate(meta, json.loads(order.body))
        assert isinstance(event, OrderEvent) and event.kind is OrderEventKind.PAID
        assert event.discount_codes == (normalize_code(f"ANNA-{number:04d}"),)
        assert (event.subtotal, event.total) == (Decimal("100.00"), Decimal("90.00"))
        assert order.updated_at == datetime(2026, 11, 10 + number, 10, tzinfo=UTC)


def test_registry_builds_a_shopify_client(settings: Settings) -> None:
    factory = STORE_CLIENT_FACTORIES[Platform.SHOPIFY]
    assert isinstance(factory(SHOP, {"access_token": TOKEN}, settings), ShopifyStoreClient)
    with pytest.raises(StoreUnavailable):
        make_shopify_store_client(SHOP, {}, settings)
    with pytest.raises(StoreUnavailable):
        make_shopify_store_client("evil.example.com", {"access_token": TOKEN}, settings)
