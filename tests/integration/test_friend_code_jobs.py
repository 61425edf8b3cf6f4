"""The worker's `sync_friend_codes` job and `push_advocate_code` against the local fake stores:
Shopify (one discount per program, codes added in bulk and polled; TAKEN recorded; THROTTLED
pauses the shop) and WooCommerce (a coupon per code in batches; an existing coupon with the same
offer accepted; a per-item error recorded on its code). Each test has its own database: the
job visits every shop."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.shopify.graphql_client import ShopifyGraphQL
from connectors.shopify.store_client import ShopifyStoreClient
from connectors.woocommerce.rest_client import WooCommerceRestClient
from connectors.woocommerce.store_client import WooCommerceStoreClient
from referral_plugin import friend_code_jobs
from referral_plugin.app import AppServices, build_services
from referral_plugin.cli import main
from referral_plugin.domain.decisions import CodeKind
from referral_plugin.domain.events import Platform
from referral_plugin.domain.store import StoreClient, friend_code_offer
from referral_plugin.friend_code_jobs import FriendCodeState, push_advocate_code
from referral_plugin.jobs import JOBS
from referral_plugin.models import Code, Shop
from referral_plugin.services import friend_codes
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.claims import claim_friend_code
from referral_plugin.services.programs import create_program, get_program
from referral_plugin.services.shops import add_shop
from referral_plugin.settings import Settings
from tests.inbox_support import ONE_SIDED, app_environ, own_database
from tests.shopify_fake import TOKEN, FakeShopify, Fault, admin_schema, serving
from tests.woocommerce_fake import FakeWooCommerce

ENROLLED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
T0 = ENROLLED + timedelta(minutes=1)
SHOP = "friends-store.myshopify.com"
TWO_SIDED = {
    "name": "Give 15%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "15"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "conditions": {"minimum_subtotal": "25.00"},
}


@pytest.fixture
def environ(tmp_path: Path) -> Iterator[dict[str, str]]:
    with own_database(tmp_path) as url:
        yield app_environ(url, tmp_path, "friend-codes-test", "https://referrals.example.test")


@pytest.fixture
def services(environ: dict[str, str]) -> Iterator[AppServices]:
    built = build_services(Settings.from_env(environ))
    yield built
    built.engine.dispose()


def a_shop(
    services: AppServices,
    platform: Platform,
    domain: str,
    credentials: dict[str, str],
    advocates: int,
    program: dict[str, Any] = TWO_SIDED,
) -> tuple[int, int, list[str]]:
    """A shop with one program and `advocates` enrolled; (shop id, program id, codes)."""
    with services.sessions.begin() as session:
        shop = add_shop(
            session, platform=platform, domain=domain, currency="USD",
            credentials=credentials, box=services.box, now=ENROLLED,
        )  # fmt: skip
        created = create_program(session, shop.id, program, now=ENROLLED)
        codes = [
            enroll_advocate(
                session, shop.id, created.id, email=f"a{n}@example.com", first_name="Ana",
                now=ENROLLED,
            ).code
            for n in range(advocates)
        ]  # fmt: skip
        return shop.id, created.id, codes


def sync(services: AppServices, client_for: Any, at: datetime = T0) -> int:
    return friend_code_jobs.sync_friend_codes(
        None,  # the job takes its own transactions
        now=at,
        services=services,
        client_for=client_for,
    )


def code_rows(services: AppServices, shop_id: int) -> dict[str, Code]:
    with services.sessions.begin() as session:
        rows = session.scalars(
            select(Code).where(Code.shop_id == shop_id, Code.kind == CodeKind.ADVOCATE)
        )
        return {row.code: row for row in rows}


# --- Shopify ---------------------------------------------------------------------------------


@pytest.fixture
def shopify() -> Iterator[tuple[FakeShopify, str]]:
    admin_schema()
    fake = FakeShopify()
    with serving(fake) as url:
        yield fake, url


def shopify_clients(fake: FakeShopify, url: str) -> Any:
    """The Shopify client the registry builds, on the fake's clock (sleeping advances it)."""

    def client_for(shop: Shop, services: AppServices) -> StoreClient:
        graphql = ShopifyGraphQL(
            shop.domain, TOKEN, "2026-01", endpoint=url, sleep=fake.clock.sleep,
            clock=fake.clock,
        )  # fmt: skip
        return ShopifyStoreClient(graphql, shop_domain=shop.domain)

    return client_for


def shopify_shop(services: AppServices, advocates: int, **options: Any) -> tuple[int, int, list]:
    return a_shop(services, Platform.SHOPIFY, SHOP, {"access_token": TOKEN}, advocates, **options)


def test_shopify_codes_go_into_one_discount_in_bulk_once(
    services: AppServices, shopify: tuple[FakeShopify, str]
) -> None:
    fake, url = shopify
    shop_id, program_id, codes = shopify_shop(services, 260)
    one_sided_shop = a_shop(
        services, Platform.SHOPIFY, "solo-store.myshopify.com", {"access_token": TOKEN}, 2,
        program=ONE_SIDED,
    )[0]  # fmt: skip
    clients = shopify_clients(fake, url)

    assert sync(services, clients) == 260
    assert sync(services, clients, at=T0 + timedelta(minutes=5)) == 0  # nothing due any more

    sizes = [len(call["codes"]) for call in fake.calls_to("discountRedeemCodeBulkAdd")]
    assert sizes == [250, 10]
    assert len(fake.calls_to("discountRedeemCodeBulkCreation")) == 4  # each polled to done
    (discount,) = fake.discounts.values()
    assert discount["title"] == "Referral: Give 15%, get $10"
    sent = discount["input"]
    assert sent["customerGets"]["value"] == {"percentage": 0.15}
    assert sent["context"] == {"all": "ALL"} and sent["appliesOncePerCustomer"] is True
    assert sent["minimumRequirement"]["subtotal"]["greaterThanOrEqualToSubtotal"] == "25.00"
    assert set(discount["codes"][1:]) == set(codes)
    assert {row.store_synced_at for row in code_rows(services, shop_id).values()} == {T0}
    with services.sessions.begin() as session:
        program = get_program(session, shop_id, program_id)
        offer = friend_code_offer(program, now=T0, key=services.code_key)
    assert offer is not None and discount["codes"][0] == offer.offer_code  # keyed, not guessable
    solo = code_rows(services, one_sided_shop).values()
    assert {(row.store_synced_at, row.store_next_attempt_at, row.store_error) for row in solo} == {
        (None, None, None)
    }  # a one-sided program's codes are not for the store, and not pending either


def test_a_code_another_shopify_discount_owns_is_recorded_as_taken(
    services: AppServices,
    shopify: tuple[FakeShopify, str],
    environ: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = shopify
    shop_id, _, codes = shopify_shop(services, 3)
    fake.discounts["gid://shopify/DiscountCodeNode/900"] = {
        "id": "gid://shopify/DiscountCodeNode/900", "typename": "DiscountCodeBasic",
        "title": "Staff", "codes": [codes[1].lower()], "status": "ACTIVE", "input": {},
    }  # fmt: skip

    assert sync(services, shopify_clients(fake, url)) == 3

    rows = code_rows(services, shop_id)
    taken = rows[codes[1]]
    assert taken.store_synced_at is None and taken.store_next_attempt_at is None
    assert "TAKEN" in taken.store_error and taken.store_attempts == 1
    assert all(rows[code].store_synced_at == T0 for code in (codes[0], codes[2]))
    main(["status"], environ=environ)
    assert "Codes to put in stores: 0 pending, 1 failed" in capsys.readouterr().out

    del fake.discounts["gid://shopify/DiscountCodeNode/900"]  # the merchant freed the code
    assert main(["friend-codes", "retry"], environ=environ) == 0  # due from the real now
    later = max(T0, datetime.now(tz=UTC)) + timedelta(minutes=1)
    assert sync(services, shopify_clients(fake, url), at=later) == 1
    assert code_rows(services, shop_id)[codes[1]].store_synced_at is not None


def test_throttled_shopify_pauses_the_shop_and_the_codes_wait_for_it(
    services: AppServices, shopify: tuple[FakeShopify, str]
) -> None:
    fake, url = shopify
    shop_id, _, codes = shopify_shop(services, 2)
    fake.faults.extend(Fault(status=429, retry_after="30") for _ in range(5))  # every attempt
    clients = shopify_clients(fake, url)

    assert sync(services, clients) == 2

    with services.sessions.begin() as session:
        paused_until = session.get(Shop, shop_id).store_paused_until
    assert paused_until == T0 + timedelta(seconds=30)
    rows = code_rows(services, shop_id).values()
    assert {(row.store_next_attempt_at, row.store_attempts) for row in rows} == {(paused_until, 0)}
    assert all("THROTTLED" in row.store_error for row in rows)
    assert sync(services, clients, at=T0 + timedelta(seconds=10)) == 0  # still paused
    assert fake.calls_to("discountRedeemCodeBulkAdd") == []

    assert sync(services, clients, at=paused_until) == 2
    assert {row.store_synced_at for row in code_rows(services, shop_id).values()} == {paused_until}
    assert set(fake.by_code(codes[0])["codes"][1:]) == set(codes)


def test_push_advocate_code_puts_one_code_in_the_store_at_once(
    services: AppServices, shopify: tuple[FakeShopify, str]
) -> None:
    fake, url = shopify
    shop_id, program_id, _ = shopify_shop(services, 1)
    clients = shopify_clients(fake, url)
    with services.sessions.begin() as session:
        bea = enroll_advocate(session, shop_id, program_id, email="bea@example.com", now=T0)

    state = push_advocate_code(services, shop_id, bea.id, now=T0, client_for=clients)

    assert state is FriendCodeState.IN_STORE
    assert fake.by_code(bea.code) is not None
    assert [len(c["codes"]) for c in fake.calls_to("discountRedeemCodeBulkAdd")] == [1]
    again = push_advocate_code(services, shop_id, bea.id, now=T0, client_for=clients)
    assert again is FriendCodeState.IN_STORE
    assert len(fake.calls_to("discountRedeemCodeBulkAdd")) == 1  # not pushed twice
    assert sync(services, clients) == 1  # the job pushes only the other advocate's code


def test_push_advocate_code_leaves_a_code_the_job_is_pushing_to_the_job(
    services: AppServices, shopify: tuple[FakeShopify, str]
) -> None:
    fake, url = shopify
    shop_id, program_id, _ = shopify_shop(services, 0)
    solo_shop, solo_program, _ = a_shop(
        services, Platform.SHOPIFY, "solo-store.myshopify.com", {"access_token": TOKEN}, 0,
        program=ONE_SIDED,
    )  # fmt: skip
    with services.sessions.begin() as session:
        bea = enroll_advocate(session, shop_id, program_id, email="bea@example.com", now=T0)
        solo = enroll_advocate(session, solo_shop, solo_program, email="so@example.com", now=T0)
        claimed = friend_codes.claim_due_codes(  # a worker's claim, before its store call
            session, shop_id, now=T0, key=services.code_key, limit=10, batch_size=10
        )
    clients = shopify_clients(fake, url)

    assert len(claimed) == 1
    assert push_advocate_code(services, shop_id, bea.id, now=T0, client_for=clients) is (
        FriendCodeState.PENDING
    )
    assert fake.calls_to("discountRedeemCodeBulkAdd") == []
    assert push_advocate_code(services, solo_shop, solo.id, now=T0, client_for=clients) is (
        FriendCodeState.NOT_FOR_STORE
    )


# --- WooCommerce -----------------------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce() as fake:
        yield fake


def woo_clients(sleeps: list[float] | None = None) -> Any:
    """The WooCommerce client the registry builds, sleeping into a list."""

    def client_for(shop: Shop, services: AppServices) -> StoreClient:
        from referral_plugin.services.shops import shop_credentials

        keys = shop_credentials(shop, services.box)
        rest = WooCommerceRestClient(
            shop.domain, keys["consumer_key"], keys["consumer_secret"],
            sleep=(sleeps if sleeps is not None else []).append,
        )  # fmt: skip
        return WooCommerceStoreClient(rest)

    return client_for


def woo_shop(
    services: AppServices, store: FakeWooCommerce, advocates: int
) -> tuple[int, int, list[str]]:
    keys = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret}
    return a_shop(services, Platform.WOOCOMMERCE, store.url, keys, advocates)


def test_woocommerce_codes_become_coupons_in_batches_and_existing_ones_count(
    services: AppServices, store: FakeWooCommerce
) -> None:
    shop_id, program_id, codes = woo_shop(services, store, 150)
    with services.sessions.begin() as session:  # one was added before (a lost answer, say)
        offer = friend_code_offer(
            get_program(session, shop_id, program_id), now=T0, key=services.code_key
        )
    assert offer is not None
    woo_clients()(_shop(services, shop_id), services).add_friend_codes(offer, codes[:1])

    assert sync(services, woo_clients()) == 150

    sizes = [len(q) for q in store.calls("POST", "coupons/batch")]
    assert len(sizes) == 3  # the earlier one, then 100 + 50
    assert store.batch_creates.count(codes[0].lower()) == 2  # sent again, accepted
    assert len(store.coupons) == 150
    coupon = store.coupon_by_code(codes[149])
    assert coupon is not None and coupon["code"] == codes[149].lower()
    assert (coupon["discount_type"], coupon["amount"]) == ("percent", "15.00")
    assert (coupon["usage_limit_per_user"], coupon["individual_use"]) == (1, True)
    assert coupon["minimum_amount"] == "25.00"
    assert {row.store_synced_at for row in code_rows(services, shop_id).values()} == {T0}


def test_a_woocommerce_per_item_error_is_recorded_on_its_code(
    services: AppServices, store: FakeWooCommerce
) -> None:
    shop_id, _, codes = woo_shop(services, store, 3)
    store.refuse_code(codes[1], "woocommerce_rest_invalid_coupon", "Coupon is not valid.")

    assert sync(services, woo_clients()) == 3

    rows = code_rows(services, shop_id)
    refused = rows[codes[1]]
    assert refused.store_next_attempt_at is None and refused.store_synced_at is None
    assert "woocommerce_rest_invalid_coupon: Coupon is not valid." in refused.store_error
    assert all(rows[code].store_synced_at == T0 for code in (codes[0], codes[2]))


def test_a_woocommerce_outage_backs_off_and_the_codes_go_in_later(
    services: AppServices, store: FakeWooCommerce
) -> None:
    shop_id, _, codes = woo_shop(services, store, 2)
    store.fail_next(503, times=10, path="coupons/batch")
    sleeps: list[float] = []

    assert sync(services, woo_clients(sleeps)) == 2

    rows = code_rows(services, shop_id).values()
    assert {(row.store_attempts, row.store_next_attempt_at) for row in rows} == {
        (1, T0 + timedelta(minutes=1))  # the shared backoff: one minute after the first failure
    }
    assert all("503" in row.store_error for row in rows)
    assert sync(services, woo_clients(sleeps), at=T0 + timedelta(seconds=30)) == 0
    store._faults.clear()
    assert sync(services, woo_clients(sleeps), at=T0 + timedelta(minutes=1)) == 2
    assert {row.store_error for row in code_rows(services, shop_id).values()} == {None}
    assert all(store.coupon_by_code(code) is not None for code in codes)


def _shop(services: AppServices, shop_id: int) -> Shop:
    with services.sessions.begin() as session:
        return session.get(Shop, shop_id)


def test_the_worker_schedules_the_job_at_its_interval(environ: dict[str, str]) -> None:
    job = next(job for job in JOBS if job.name == "sync_friend_codes")

    assert job.run is friend_code_jobs.sync_friend_codes
    assert job.interval_seconds(Settings.from_env(environ)) == 15
    settings = Settings.from_env({**environ, "FRIEND_CODE_SYNC_INTERVAL_SECONDS": "5"})
    assert job.interval_seconds(settings) == 5


# --- several workers -------------------------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="concurrent workers need PostgreSQL"
)
def test_several_workers_never_push_a_code_twice(environ: dict[str, str]) -> None:
    """Four workers (own engines, threads) run the job at once, again and again, over three
    stores while advocates keep enrolling: every code reaches its store exactly once."""
    workers = [build_services(Settings.from_env(environ)) for _ in range(4)]
    stores = [FakeWooCommerce().__enter__() for _ in range(3)]
    try:
        shops = [woo_shop(workers[0], store, 40) for store in stores]
        start = threading.Barrier(len(workers))

        def work(services: AppServices, number: int) -> None:
            start.wait()
            for round_ in range(6):
                if number == 0 and round_ < 3:  # more advocates while the others push
                    for (shop_id, program_id, _), store in zip(shops, stores, strict=True):
                        with services.sessions.begin() as session:
                            enroll_advocate(
                                session, shop_id, program_id, now=T0,
                                email=f"late{round_}-{store.url[-5:]}@example.com",
                            )  # fmt: skip
                sync(services, woo_clients(), at=T0 + timedelta(seconds=round_))

        with ThreadPoolExecutor(len(workers)) as pool:
            for done in [pool.submit(work, svc, n) for n, svc in enumerate(workers)]:
                done.result()
        sync(workers[0], woo_clients(), at=T0 + timedelta(seconds=10))  # anything left

        for (shop_id, _, _), store in zip(shops, stores, strict=True):
            rows = code_rows(workers[0], shop_id)
            assert len(rows) == 43
            assert {row.store_synced_at is not None for row in rows.values()} == {True}
            pushed = Counter(store.batch_creates)
            assert pushed == Counter({code.lower(): 1 for code in rows})  # each exactly once
    finally:
        for store in stores:
            store.__exit__()
        for services in workers:
            services.engine.dispose()


# --- A/B tests: a variant with its own friend reward has its own store offer ------------------

AB_TEST = {
    **TWO_SIDED,
    "experiment": {
        "variants": [
            {"key": "a", "name": "The program's offer"},
            {"key": "b", "name": "A bigger gift",
             "friend_reward": {"kind": "percent_discount", "percent": "25"}},
        ],
        "started_at": "2026-01-01T00:00:00Z",
    },
}  # fmt: skip


def ab_advocates(services: AppServices, shop_id: int, program_id: int) -> dict[str, str]:
    """Ana and Ava draw variant a (0.2, 0.4), Ben draws b (0.7): their codes by name."""
    with services.sessions.begin() as session:
        return {
            name: enroll_advocate(
                session, shop_id, program_id, email=f"{name}@example.com", first_name=name,
                now=ENROLLED, random_value=lambda draw=draw: draw,
            ).code
            for name, draw in (("ana", 0.2), ("ava", 0.4), ("ben", 0.7))
        }  # fmt: skip


def test_shopify_friends_of_a_variant_get_its_discount(
    services: AppServices, shopify: tuple[FakeShopify, str]
) -> None:
    fake, url = shopify
    shop_id, program_id, _ = shopify_shop(services, 0, program=AB_TEST)
    codes = ab_advocates(services, shop_id, program_id)

    assert sync(services, shopify_clients(fake, url)) == 3

    base, bigger = fake.by_code(codes["ana"]), fake.by_code(codes["ben"])
    assert base is not None and bigger is not None and base["id"] != bigger["id"]
    assert set(base["codes"][1:]) == {codes["ana"], codes["ava"]}
    assert bigger["codes"][1:] == [codes["ben"]]
    assert base["input"]["customerGets"]["value"] == {"percentage": 0.15}
    assert bigger["input"]["customerGets"]["value"] == {"percentage": 0.25}
    assert bigger["title"] == "Referral: Give 15%, get $10 (variant b)"
    with services.sessions.begin() as session:
        program = get_program(session, shop_id, program_id)
    offers = {
        key: friend_code_offer(program, now=T0, key=services.code_key, variant=key)
        for key in ("a", "b", None)
    }
    assert offers["a"] == offers[None]  # a keeps the program's friend reward: one discount
    assert bigger["codes"][0] == offers["b"].offer_code != base["codes"][0]


def test_woocommerce_friends_of_a_variant_get_its_coupon_value(
    services: AppServices, store: FakeWooCommerce
) -> None:
    keys = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret}
    shop_id, program_id, _ = a_shop(
        services, Platform.WOOCOMMERCE, store.url, keys, 0, program=AB_TEST
    )
    codes = ab_advocates(services, shop_id, program_id)

    assert sync(services, woo_clients()) == 3

    values = {
        name: (store.coupon_by_code(code)["discount_type"], store.coupon_by_code(code)["amount"])
        for name, code in codes.items()
    }
    assert values == {
        "ana": ("percent", "15.00"),
        "ava": ("percent", "15.00"),
        "ben": ("percent", "25.00"),
    }


def test_a_friend_claiming_through_a_variants_link_gets_its_value(
    services: AppServices, store: FakeWooCommerce
) -> None:
    keys = {"consumer_key": store.consumer_key, "consumer_secret": store.consumer_secret}
    per_friend = {**AB_TEST, "claim_mode": "per_friend"}
    shop_id, program_id, _ = a_shop(
        services, Platform.WOOCOMMERCE, store.url, keys, 0, program=per_friend
    )
    codes = ab_advocates(services, shop_id, program_id)
    with services.sessions.begin() as session:
        advocates = {
            row.code: row.advocate_id
            for row in session.scalars(select(Code).where(Code.shop_id == shop_id))
        }
        claimed = {
            name: claim_friend_code(
                session, shop_id, program_id=program_id, advocate_id=advocates[codes[name]],
                email=f"friend-of-{name}@example.com", now=T0,
            ).code
            for name in ("ana", "ben")
        }  # fmt: skip

    assert sync(services, woo_clients()) == 2  # the claimed codes; shared ones stay out

    assert store.coupon_by_code(claimed["ana"])["amount"] == "15.00"
    assert store.coupon_by_code(claimed["ben"])["amount"] == "25.00"
    assert store.coupon_by_code(claimed["ben"])["email_restrictions"] == [
        "friend-of-ben@example.com"
    ]
