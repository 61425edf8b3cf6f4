"""A Shopify shop from install to clawback, on a database of its own, against the local Shopify
(OAuth + graphql.json on 127.0.0.1): install through the OAuth routes → two-sided program and
advocate → the friend-code job adds the advocate's code to the program's friend discount in the
store → signed `orders/paid` with that code → drain →
conversion, reward held → hold over → issue job creates the reward code in the store → signed
`refunds/create` → revoke job disables it. The access token expires on the way and is
refreshed exactly once."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import select

from connectors.registry import CONNECTORS
from referral_plugin import friend_code_jobs, store_jobs
from referral_plugin.app import AppServices, app_services, create_app
from referral_plugin.domain.decisions import Beneficiary
from referral_plugin.domain.events import Platform
from referral_plugin.domain.lifecycle import RewardStatus
from referral_plugin.inbox_worker import drain_inbox
from referral_plugin.models import Conversion, Reward
from referral_plugin.services import rewards
from referral_plugin.services.advocates import enroll_advocate
from referral_plugin.services.programs import create_program
from referral_plugin.services.shops import find_shop
from referral_plugin.settings import Settings
from referral_plugin.store_clients import store_client_for
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.inbox_support import order_body, own_database, refund_body, shopify_headers
from tests.shopify_fake import FakeShopify, admin_schema, origin_of, serving
from tests.shopify_fake_oauth import APP_KEY, APP_SECRET, FakeShopifyOAuth, WallClock, utc_now

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
ORDER_ID = 820982911946154508


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@pytest.fixture
def fake(clock: WallClock) -> FakeShopify:
    admin_schema()
    shop = f"e2e-{uuid.uuid4().hex[:10]}.myshopify.com"
    fake = FakeShopify(oauth=FakeShopifyOAuth(shop=shop, wall=clock))
    fake.shop_info["currencyCode"] = "USD"  # the order payloads are in USD
    return fake


@pytest.fixture
def app(tmp_path: Path, fake: FakeShopify) -> Iterator[Flask]:
    with own_database(tmp_path) as url, serving(fake) as graphql_url:
        settings = Settings(
            database_url=url,
            secret_key="e2e-secret",
            encryption_key=TEST_ENCRYPTION_KEY,
            public_base_url="https://referrals.example.test",
            environment="test",
            instance_path=tmp_path / "instance",
            shopify_api_key=APP_KEY,
            shopify_api_secret=APP_SECRET,
            shopify_shop_origin=origin_of(graphql_url),
        )
        built = create_app(settings)
        yield built
        app_services(built).engine.dispose()


TWO_SIDED = {
    "name": "Give 10%, get $10",
    "kind": "two_sided",
    "friend_reward": {"kind": "percent_discount", "percent": "10"},
    "advocate_reward": {"kind": "fixed_discount", "amount": "10.00"},
    "hold_days": 30,
}


def install(app: Flask, fake: FakeShopify) -> int:
    client = app.test_client()
    base = "https://referrals.example.test"
    start = client.get(f"/shopify/install?shop={fake.oauth.shop}", base_url=base)
    callback = urlsplit(fake.oauth.approve(start.headers["Location"]))
    answer = client.get(f"{callback.path}?{callback.query}", base_url=base)
    assert answer.status_code == 200, answer.text
    services = app_services(app)
    with services.sessions.begin() as session:
        shop = find_shop(session, Platform.SHOPIFY, fake.oauth.shop)
        assert shop is not None and shop.currency == "USD"
        return shop.id


def post_webhook(app: Flask, shop: str, topic: str, body: bytes) -> None:
    headers = shopify_headers(shop, body, topic, uuid.uuid4().hex)
    answer = app.test_client().post("/webhooks/shopify", data=body, headers=headers)
    assert answer.status_code == 200, answer.text


def drain(services: AppServices, clock: WallClock) -> int:
    clock.now = max(clock.now, utc_now())  # the edge stamped the delivery with the real time
    return drain_inbox(
        services, worker="e2e", stop=threading.Event(), clock=clock, connectors=CONNECTORS
    )


def reward_of(services: AppServices, shop_id: int) -> Reward:
    with services.sessions.begin() as session:
        return session.scalars(
            select(Reward).where(
                Reward.shop_id == shop_id, Reward.beneficiary == Beneficiary.ADVOCATE
            )
        ).one()


def run(job: Any, services: AppServices, clock: WallClock) -> int:
    client_for = functools.partial(store_client_for, clock=clock)
    with services.sessions.begin() as session:
        return job(session, now=clock(), services=services, client_for=client_for)


def test_install_to_clawback(app: Flask, fake: FakeShopify, clock: WallClock) -> None:
    services = app_services(app)
    shop_id = install(app, fake)
    assert fake.oauth.grants == ["authorization_code"]

    with services.sessions.begin() as session:
        program = create_program(session, shop_id, TWO_SIDED, now=clock())
        advocate = enroll_advocate(
            session, shop_id, program.id, email="anna@example.com", now=clock()
        )
        code = advocate.code
    assert fake.by_code(code) is None
    assert run(friend_code_jobs.sync_friend_codes, services, clock) == 1
    friend_discount = fake.by_code(code)  # the advocate's code exists in the store
    assert friend_discount is not None and friend_discount["title"] == "Referral: Give 10%, get $10"
    assert friend_discount["input"]["customerGets"]["value"] == {"percentage": 0.1}

    body = order_body(ORDER_ID, code=code, status="paid")
    post_webhook(app, fake.oauth.shop, "orders/paid", body)
    assert drain(services, clock) == 1
    with services.sessions.begin() as session:
        conversion = session.scalars(select(Conversion).where(Conversion.shop_id == shop_id)).one()
        assert conversion.order_id == str(ORDER_ID)
    held = reward_of(services, shop_id)
    assert held.status is RewardStatus.HELD and held.hold_until is not None

    clock.now = max(clock.now, held.hold_until) + timedelta(days=1)  # the token expired too
    with services.sessions.begin() as session:
        assert rewards.mature_held_rewards(session, now=clock()) >= 1
    assert run(store_jobs.issue_rewards, services, clock) == 1
    issued = reward_of(services, shop_id)
    assert issued.status is RewardStatus.ISSUED
    discount = fake.discounts[issued.store_ref]
    assert discount["status"] == "ACTIVE"
    assert discount["input"]["customerGets"]["value"]["discountAmount"]["amount"] == "10.00"
    assert fake.oauth.grants == ["authorization_code", "refresh_token"]

    total = json.loads(body)["total_price"]
    post_webhook(app, fake.oauth.shop, "refunds/create", refund_body(ORDER_ID, 1, total))
    assert drain(services, clock) == 1
    assert reward_of(services, shop_id).status is RewardStatus.REVERSED
    assert run(store_jobs.revoke_rewards, services, clock) == 1

    assert fake.discounts[issued.store_ref]["status"] == "EXPIRED"  # deactivated in the store
    assert fake.oauth.grants.count("refresh_token") == 1  # refreshed exactly once
